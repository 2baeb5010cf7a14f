package dev.openbatch.engine.housekeeping;

import java.util.stream.Collectors;

import dev.openbatch.engine.lifecycle.OutputFiles;
import dev.openbatch.store.BatchStore;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * Keeps the output and error files of running batches close behind their settled lines, so that a
 * batch's end has only the lines of the last moments left to write, whatever the batch's size
 * (issue 22): each run appends, batch after batch, the lines settled since the last one, one short
 * transaction a step of a few pages ({@link OutputFiles}). Every engine runs it; a batch whose files another
 * process is writing at that moment is skipped (its advisory lock), so replicas share the work
 * instead of waiting for each other. Once a second: often enough that a batch's end has little left,
 * rarely enough that the last, partial chunk of a file, rewritten by each step that appends to it
 * (a step takes up to {@link OutputFiles#PAGES_PER_STEP} pages), is rewritten about once a second.
 */
public final class OutputAppender implements Job {
    /** Batches a run looks at; the others wait for the next run. */
    static final int BATCHES_PER_RUN = 200;
    /** Steps (of {@link OutputFiles#PAGES_PER_STEP} pages) a run gives one batch before it goes on to the next (a batch whose many lines settled at once is not caught up in one go). */
    static final int STEPS_PER_BATCH = 2;

    private final BatchStore batches;
    private final OutputFiles outputs;

    public OutputAppender(BatchStore batches, OutputFiles outputs) {
        this.batches = batches;
        this.outputs = outputs;
    }

    @Override
    public String name() { return "output files"; }

    @Override
    public long periodMillis() { return 1000; }

    /** One run; how many lines it appended. */
    @Override
    public Uni<Long> run() {
        return batches.outputDue(BATCHES_PER_RUN)
                .onItem().transformToMulti(ids -> Multi.createFrom().iterable(ids))
                .onItem().transformToUniAndConcatenate(id -> outputs.catchUp(id, false, STEPS_PER_BATCH))
                .collect().with(Collectors.summingLong(n -> n));
    }
}
