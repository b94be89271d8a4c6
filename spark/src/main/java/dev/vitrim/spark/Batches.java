package dev.vitrim.spark;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;
import org.apache.spark.sql.Row;

/** A partition's rows taken {@code batch} at a time, each batch turned into as many output rows, lazily, in order. */
final class Batches {
    private Batches() {}

    static Iterator<Row> map(Iterator<Row> input, int batch, Function<List<Row>, List<Row>> f) {
        return new Iterator<>() {
            private final ArrayDeque<Row> ready = new ArrayDeque<>();

            @Override
            public boolean hasNext() {
                if (ready.isEmpty() && input.hasNext()) {
                    List<Row> rows = new ArrayList<>(batch);
                    while (rows.size() < batch && input.hasNext()) {
                        rows.add(input.next());
                    }
                    ready.addAll(f.apply(rows));
                }
                return !ready.isEmpty();
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }
}
