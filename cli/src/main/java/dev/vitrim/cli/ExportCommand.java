package dev.vitrim.cli;

import dev.vitrim.VitrimException;
import dev.vitrim.model.VisionTransformer;
import dev.vitrim.onnx.OnnxExport;
import dev.vitrim.reduce.Macs;
import dev.vitrim.reduce.Reducers;
import dev.vitrim.reduce.TokenReducer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write the model, with its token reduction, as an ONNX graph (weights inside) for ONNX Runtime, "
                + "TensorRT or any other ONNX runtime.", "",
                "The graph takes float32 images [B,3,H,W] at the model's image size, preprocessed as for `vitrim "
                        + "forward` (input 'images'), and gives float32 logits [B,classes] ('logits'). It computes what "
                        + "vitrim computes: ONNX Runtime on it reproduces vitrim's logits to 1e-4, reducer included.",
                "",
                "Reducers with fixed token counts export as graph operators: evit (TopK, GatherElements, the fused "
                        + "token as one MatMul), attn without mass, cropr (the checkpoint's queries; Last Layer Fusion "
                        + "as a Concat), random (its seeded choice written as constant indices) and tome (matching with "
                        + "ReduceMax/ArgMax/TopK; the size-weighted merge as a one-hot MatMul, not ScatterElements with "
                        + "reduction, which TensorRT rejects). attn with mass keeps a different number of tokens per "
                        + "image and is refused.",
                "", "A dense model (segmentation, detection: `vitrim train --task dense`) exports with its decoder: output "
                        + "'maps' [B,channels,gh,gw] on the patch grid, the tokens put back in patch order (Last Layer "
                        + "Fusion's stash, ToMe's merged tokens copied to their patches); reducers that drop patches for "
                        + "good (evit, attn, cropr or random without llf) are refused there.",
                "", "The export records its reducer spec, preprocessing and class names in the model's metadata, so "
                        + "`vitrim classify --runtime onnxruntime --model out.onnx` needs nothing else."},
        footer = {"", "Examples:", "  vitrim export --model vit.safetensors --onnx vit.onnx",
                "  vitrim export --model vit.safetensors --reduce tome:r=13 --onnx vit-tome.onnx --batch 8",
                "  vitrim export --arch vit_small_patch16_224 --reduce attn --onnx vits-attn.onnx --positions"})
public final class ExportCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ArchOrModel model;

    @Mixin
    ReduceOptions reduce;

    @Mixin
    CommonOptions common;

    @Option(names = "--onnx", required = true, paramLabel = "OUT.onnx", description = "The file to write.")
    Path out;

    @Option(names = "--opset", defaultValue = "17", paramLabel = "N", description = "ONNX operator set, "
            + OnnxExport.MIN_OPSET + ".." + OnnxExport.MAX_OPSET + " (default: ${DEFAULT-VALUE}; from 20 GELU is "
            + "one operator).")
    int opset;

    @Option(names = "--batch", defaultValue = "dynamic", paramLabel = "dynamic|N", description = "The batch "
            + "dimension: symbolic (dynamic, the default) or a fixed size, which some runtimes optimise better.")
    String batch;

    @Option(names = "--positions", description = "Also output each block's token positions: int64 "
            + "'positions.<block>' [B,tokens] (CLS 0, patches 1..N, -1 for EViT's fused token), as --trace records them.")
    boolean positions;

    @Override
    public Integer call() throws Exception {
        int b = parseBatch(batch);
        OnnxExport.Options o = new OnnxExport.Options(opset, b, positions);
        dev.vitrim.engine.Torch.engine(common.threads);
        if (out.getParent() != null && !Files.isDirectory(out.getParent())) {
            throw new VitrimException(out + ": the folder " + out.getParent() + " does not exist");
        }
        if (model.source.model != null && isDense(model.source.model)) {
            try (dev.vitrim.dense.DenseModel dm = dev.vitrim.dense.DenseModel.load(model.source.model)) {
                TokenReducer r = Reducers.parse(reduce.reduce, dm.backbone());
                OnnxExport.write(OnnxExport.buildDense(dm, r, o), out);
                spec.commandLine().getOut().printf(Locale.ROOT, "%s: dense %s (%d maps on the %dx%d patch grid), reduce "
                        + "%s, opset %d, batch %s, %.1f MB%n", out, dm.config().name(), dm.channels(),
                        dm.config().gridH(), dm.config().gridW(), r.spec(), opset,
                        b == 0 ? "dynamic" : Integer.toString(b), Files.size(out) / 1e6);
            }
            return 0;
        }
        try (VisionTransformer vit = model.load()) {
            TokenReducer r = Reducers.parse(reduce.reduce, vit);
            OnnxExport.write(vit, r, o, out);
            PrintWriter w = spec.commandLine().getOut();
            w.printf(Locale.ROOT, "%s: %s, reduce %s, opset %d, batch %s, %.1f MB, %.3f GMACs/image%n", out,
                    vit.config().name(), r.spec(), opset, b == 0 ? "dynamic" : Integer.toString(b),
                    Files.size(out) / 1e6, Macs.plan(vit.config(), r).gmacs());
        }
        return 0;
    }

    /** Whether a checkpoint is a dense model (it carries the dense heads' description). */
    static boolean isDense(Path path) {
        try (dev.vitrim.model.Checkpoint ck = dev.vitrim.model.Checkpoint.open(path, 0)) {
            return ck.source().metadata().get(dev.vitrim.dense.DenseModel.METADATA_KEY) != null;
        }
    }

    static int parseBatch(String v) {
        if (v.equalsIgnoreCase("dynamic")) {
            return 0;
        }
        try {
            int b = Integer.parseInt(v.trim());
            if (b >= 1) {
                return b;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new VitrimException("--batch '" + v + "': give 'dynamic' or a positive batch size");
    }
}
