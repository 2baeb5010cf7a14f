package dev.openbatch.engine.housekeeping;

import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/** The retention jobs' loop: one small transaction after another until a step finds nothing left. */
final class Steps {
    private Steps() {
    }

    /**
     * Runs {@code step} again and again, each after the one before has ended, until one is
     * {@code done}; the sum of what each {@code counted}.
     */
    static <T> Uni<Long> untilDone(Supplier<Uni<T>> step, Predicate<T> done, ToLongFunction<T> counted) {
        return Multi.createBy().repeating().<T>uni(() -> step.get()).until(done)
                .collect().in(() -> new long[1], (sum, s) -> sum[0] += counted.applyAsLong(s))
                .map(sum -> sum[0]);
    }
}
