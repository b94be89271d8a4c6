package dev.vitrim.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One pass over a data set in mini-batches, prepared by a background thread so the model never waits for data.
 * The batches are plain Java arrays (normalised float32 {@code [n, 3, S, S]} and int labels): the thread never
 * touches the tensor engine.
 *
 * <p>Deterministic: the order is a shuffle seeded by {@code (seed, epoch)} and each image's augmentation draws from a
 * generator seeded by {@code (seed, epoch, batch index)}, so an epoch is the same whether or not training was
 * interrupted before it.
 */
public final class BatchLoader implements Iterator<BatchLoader.Batch>, AutoCloseable {
    /** A mini-batch: {@code x} holds {@code size} images of {@code 3 x S x S}. */
    public record Batch(int index, int size, float[] x, int[] y) {}

    private static final Object END = new Object();

    private final int batches;
    private final BlockingQueue<Object> queue;
    private final Thread worker;
    private int delivered;
    private volatile boolean closed;

    /**
     * @param data      the images
     * @param transform resize, augmentation and normalisation
     * @param batchSize images per batch (the last one may be smaller)
     * @param train     shuffle and augment (else: data order, no augmentation)
     * @param seed      training seed
     * @param epoch     epoch number (0-based), mixed into the seeds
     * @param prefetch  batches prepared ahead
     */
    public BatchLoader(LabeledImages data, ImageTransform transform, int batchSize, boolean train, long seed, int epoch,
                       int prefetch) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be positive");
        }
        int n = data.size();
        this.batches = (n + batchSize - 1) / batchSize;
        this.queue = new ArrayBlockingQueue<>(Math.max(1, prefetch) + 1);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        if (train) {
            Random r = new Random(mix(seed, epoch, -1));
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        int s = transform.pre().size();
        int per = 3 * s * s;
        this.worker = new Thread(() -> {
            try {
                for (int b = 0; b < batches && !closed; b++) {
                    int from = b * batchSize;
                    int size = Math.min(batchSize, n - from);
                    float[] x = new float[size * per];
                    int[] y = new int[size];
                    SplittableRandom rng = train ? new SplittableRandom(mix(seed, epoch, b)) : null;
                    for (int k = 0; k < size; k++) {
                        int i = order[from + k];
                        transform.apply(data, i, x, k * per, rng);
                        y[k] = data.label(i);
                    }
                    put(new Batch(b, size, x, y));
                }
                put(END);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException | Error e) {
                try {
                    put(e);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "vitrim-batches");
        worker.setDaemon(true);
        worker.start();
    }

    private void put(Object o) throws InterruptedException {
        while (!closed) {
            if (queue.offer(o, 100, TimeUnit.MILLISECONDS)) {
                return;
            }
        }
    }

    static long mix(long seed, long epoch, long batch) {
        long z = seed * 0x9E3779B97F4A7C15L + epoch * 0xBF58476D1CE4E5B9L + batch * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Number of batches in this pass. */
    public int batches() {
        return batches;
    }

    @Override
    public boolean hasNext() {
        return delivered < batches;
    }

    @Override
    public Batch next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        Object o;
        try {
            o = queue.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for data", e);
        }
        if (o instanceof RuntimeException e) {
            throw e;
        }
        if (o instanceof Error e) {
            throw e;
        }
        if (o == END) {
            throw new IllegalStateException("data loader ended early");
        }
        delivered++;
        return (Batch) o;
    }

    @Override
    public void close() {
        closed = true;
        worker.interrupt();
        try {
            worker.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
