package dev.openbatch.engine.dispatch;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.openbatch.store.BatchStore.Eligible;
import dev.openbatch.store.JobStore;
import dev.openbatch.store.Tx;
import io.smallrye.mutiny.Uni;

/**
 * The room of jobs with a {@code max_concurrency}: how many more lines each may have running now.
 * A claim that takes lines of such a job first locks the job rows and counts their running lines
 * in the transaction the claim runs in, so the cap holds across processes: a second process
 * claiming for the same job waits for the first to commit and then counts its lines too. The
 * rows are locked in job id order, so two claims never deadlock. Jobs without a cap have no room
 * to count and take no lock; a claim with none of them runs without a transaction.
 */
final class JobRoom {
    JobRoom() {
    }

    /** Whether a claim from these batches takes lines of a capped job, and so must lock and count first. */
    static boolean anyCapped(List<Eligible> open) {
        for (Eligible e : open) {
            if (e.jobCap() != null) {
                return true;
            }
        }
        return false;
    }

    /** The capped jobs of these batches, each once, in the order they are locked. */
    static String[] cappedJobs(List<Eligible> open) {
        return open.stream().filter(e -> e.jobCap() != null).map(Eligible::jobId).distinct().sorted().toArray(String[]::new);
    }

    /**
     * Job id → lines it may still take: its cap less its running lines, never below zero. Only
     * capped jobs are in it; {@code running} need not name a job with none running.
     */
    static Map<String, Integer> room(List<Eligible> open, Map<String, Integer> running) {
        Map<String, Integer> room = new HashMap<>();
        for (Eligible e : open) {
            if (e.jobCap() != null) {
                room.put(e.jobId(), Math.max(0, e.jobCap() - running.getOrDefault(e.jobId(), 0)));
            }
        }
        return room;
    }

    /**
     * The locking part of a capped claim, in {@code tx}: locks the rows of the capped jobs of
     * these batches and counts their running lines (two statements), and answers their room. The
     * locks hold until {@code tx} ends, so the claim that follows in it cannot overrun the caps.
     */
    Uni<Map<String, Integer>> lock(Tx tx, List<Eligible> open) {
        String[] jobs = cappedJobs(open);
        return JobStore.lock(tx, jobs)
                .chain(() -> JobStore.runningByJob(tx, jobs))
                .map(running -> room(open, running));
    }
}
