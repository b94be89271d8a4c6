package dev.vitrim.engine;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import dev.vitrim.VitrimException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A TorchScript module compiled by libtorch from source text at run time: no Python, no file on disk. The source is
 * written here in Java (see {@code model.BlockKernels}); this class wraps it in the archive {@code torch.jit.load} reads
 * (a zip holding the module's pickled object, its code, its constants and a format version) and calls its methods.
 *
 * <p>Why: DJL reaches libtorch one operator at a time, and each call pays for the JNI crossing and the Java-side
 * array bookkeeping; a scripted method runs many operators per crossing, and it reaches operators DJL does not
 * expose (fused scaled-dot-product attention, scatter-reduce). A method runs with autograd when the calling thread
 * is in grad mode, so training and inference run the same kernels.
 */
public final class TorchScript implements AutoCloseable {
    private static final MethodHandle RUN_METHOD; // PyTorchLibrary.LIB.moduleRunMethod(module, name, args, train, cuda)
    private static final Object LIB;
    private static final MethodHandle NEW_IVALUE; // new IValue(long handle): the result of a call

    static {
        try {
            Class<?> lib = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
            MethodHandles.Lookup libLookup = MethodHandles.privateLookupIn(lib, MethodHandles.lookup());
            LIB = libLookup.findStaticVarHandle(lib, "LIB", lib).get();
            RUN_METHOD = libLookup.findVirtual(lib, "moduleRunMethod",
                    MethodType.methodType(long.class, long.class, String.class, long[].class, boolean.class,
                            boolean.class));
            NEW_IVALUE = MethodHandles.privateLookupIn(IValue.class, MethodHandles.lookup())
                    .findConstructor(IValue.class, MethodType.methodType(void.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError("this DJL PyTorch engine does not offer what vitrim's TorchScript "
                    + "kernels need (PyTorchLibrary.moduleRunMethod): " + e);
        }
    }

    private final PtSymbolBlock module;
    private final String name;

    private TorchScript(PtSymbolBlock module, String name) {
        this.module = module;
        this.name = name;
    }

    /**
     * Compiles {@code source}, the TorchScript text of a class {@code className} deriving from {@code Module} with no
     * parameters (its methods take every tensor they use as arguments). The module is freed with {@code manager}.
     */
    public static TorchScript compile(NDManager manager, String className, String source) {
        Torch.onThisThread();
        byte[] archive = archive(className, source);
        try {
            PtSymbolBlock block = JniUtils.loadModule((PtNDManager) manager, new ByteArrayInputStream(archive), false,
                    false);
            return new TorchScript(block, className);
        } catch (IOException | EngineException e) {
            throw new VitrimException("libtorch did not compile vitrim's TorchScript kernels (" + className + "): "
                    + e.getMessage());
        }
    }

    /**
     * The archive {@code torch.jit.load} reads: {@code data.pkl} (pickle protocol 2 of an object of class
     * {@code __torch__.NAME} whose only attribute is {@code training = False}), {@code code/__torch__.py} (the
     * source), {@code constants.pkl} (an empty tuple) and {@code version}.
     */
    static byte[] archive(String className, String source) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            String dir = "vitrim/";
            put(zip, dir + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
            put(zip, dir + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            ByteArrayOutputStream pkl = new ByteArrayOutputStream();
            pkl.write(0x80); // PROTO 2
            pkl.write(2);
            pkl.writeBytes(("c__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII)); // GLOBAL
            pkl.write(')'); // EMPTY_TUPLE
            pkl.write(0x81); // NEWOBJ
            pkl.write('}'); // EMPTY_DICT
            pkl.write('('); // MARK
            pkl.write('X'); // BINUNICODE "training"
            pkl.writeBytes(new byte[] {8, 0, 0, 0});
            pkl.writeBytes("training".getBytes(StandardCharsets.US_ASCII));
            pkl.write(0x89); // NEWFALSE
            pkl.write('u'); // SETITEMS
            pkl.write('b'); // BUILD
            pkl.write('.'); // STOP
            put(zip, dir + "data.pkl", pkl.toByteArray());
            put(zip, dir + "code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException("in-memory zip", e);
        }
        return bytes.toByteArray();
    }

    private static void put(ZipOutputStream zip, String entry, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(entry);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }

    /** A value to pass to a method again and again (a weight list, a flag); the caller closes it. */
    public static IValue constant(Object value) {
        return toIValue(value);
    }

    /**
     * Calls {@code method}. Arguments: {@link NDArray}, {@code NDArray[]} (a {@code List[Tensor]}), {@code long[]}
     * (a {@code List[int]}) and {@code double[]} (a {@code List[float]}): small index and weight arrays cross this way
     * without a tensor made on the Java side, which costs DJL a direct buffer each, {@link IValue}
     * (passed as is and not closed: see {@link #constant}), {@link Boolean}, {@link Integer}/{@link Long},
     * {@link Double}. Returns the result's tensors, attached to {@code out}: one for a tensor, one per element for a
     * tuple, null for a {@code None} element.
     */
    public NDArray[] call(String method, NDManager out, Object... args) {
        IValue result = null;
        try {
            result = callValue(method, args);
            PtNDManager m = (PtNDManager) out;
            if (!result.isTuple()) {
                return new NDArray[] {result.toTensor(m)};
            }
            IValue[] parts = result.toIValueTuple();
            NDArray[] arrays = new NDArray[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try (IValue p = parts[i]) {
                    arrays[i] = p.isTensor() ? p.toTensor(m) : null;
                }
            }
            return arrays;
        } catch (EngineException e) {
            throw new VitrimException("TorchScript kernel " + name + "." + method + " failed: " + e.getMessage());
        } finally {
            if (result != null) {
                result.close();
            }
        }
    }

    /**
     * Calls {@code method} (arguments as for {@link #call}) and returns its result as libtorch's own value, which the
     * caller closes: for results that are not tensors, such as a prepacked weight object, to be passed to later
     * calls as an argument.
     */
    public IValue callValue(String method, Object... args) {
        IValue[] in = new IValue[args.length];
        boolean[] own = new boolean[args.length];
        long[] handles = new long[args.length];
        try {
            for (int i = 0; i < args.length; i++) {
                own[i] = !(args[i] instanceof IValue);
                in[i] = own[i] ? toIValue(args[i]) : (IValue) args[i];
                handles[i] = in[i].getHandle();
            }
            // "train" only means: no inference-mode guard. The thread's grad mode decides about autograd, as for any
            // other op, and results stay normal tensors that DJL's own in-place ops may update.
            long h = (long) RUN_METHOD.invoke(LIB, module.getHandle().longValue(), method, handles, true, false);
            return (IValue) NEW_IVALUE.invoke(h);
        } catch (EngineException e) {
            throw new VitrimException("TorchScript kernel " + name + "." + method + " failed: " + e.getMessage());
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        } finally {
            for (int i = 0; i < in.length; i++) {
                if (own[i] && in[i] != null) {
                    in[i].close();
                }
            }
        }
    }

    private static IValue toIValue(Object v) {
        if (v instanceof NDArray) {
            return IValue.from((PtNDArray) v);
        }
        if (v instanceof NDArray[]) {
            NDArray[] a = (NDArray[]) v;
            PtNDArray[] p = new PtNDArray[a.length];
            for (int i = 0; i < a.length; i++) {
                p[i] = (PtNDArray) a[i];
            }
            return IValue.listFrom(p);
        }
        if (v instanceof long[]) {
            return IValue.listFrom((long[]) v);
        }
        if (v instanceof double[]) {
            return IValue.listFrom((double[]) v);
        }
        if (v instanceof Boolean) {
            return IValue.from((Boolean) v);
        }
        if (v instanceof Integer || v instanceof Long) {
            return IValue.from(((Number) v).longValue());
        }
        if (v instanceof Double) {
            return IValue.from((Double) v);
        }
        throw new IllegalArgumentException("cannot pass a " + (v == null ? "null" : v.getClass().getName())
                + " to TorchScript");
    }

    @Override
    public void close() {
        module.close();
    }
}
