package dev.openbatch.engine.housekeeping;

import java.util.ArrayList;
import java.util.List;

import org.jboss.logging.Logger;

import dev.openbatch.api.RetentionConfig;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.store.IndexStore;
import dev.openbatch.store.IndexStore.IndexSize;
import dev.openbatch.store.Tx;
import io.smallrye.mutiny.Uni;

/**
 * Gives back the index space that retention frees. Deleting a batch's lines and {@code VACUUM}
 * return a table's emptied pages (the heap is truncated) but leave a B-tree at its peak size:
 * its emptied pages are only marked free for its own later entries. So a database that ran a
 * million lines kept about twice its size after they were purged (bench/retention.sh). This job
 * compares each index of those tables with what its entries need, from the statistics
 * ({@link #needBytes}), and rebuilds one that is over {@code reindex-bloat} times that and over
 * {@code reindex-min-size} with {@code REINDEX INDEX CONCURRENTLY}: the engine's reads and writes
 * go on meanwhile. Before a rebuild, a count that stops at the number of rows that would justify
 * the index's size confirms the statistics (they lag, and are reset by a crash); a partial index
 * is judged by its whole table, which can only spare it. The TOAST tables' indexes (bodies and
 * answers over 2 kB are kept there) are judged the same way. One process of the cluster rebuilds at a
 * time (an advisory lock); what a rebuild interrupted by a crash left behind is dropped first.
 * <p>
 * The {@code batches} table is the one whose rows stay: updated as their lines settle, its rows'
 * versions wander to the table's end, and VACUUM cannot cut a tail with a live row in it. When no
 * batch is live and it is bloated alike, it is rewritten with {@code VACUUM FULL} (a small table:
 * milliseconds), if its lock comes within 100 ms.
 */
public final class IndexUpkeep implements Job {
    private static final Logger LOG = Logger.getLogger(IndexUpkeep.class);
    /** The tables whose rows retention deletes in bulk. */
    static final List<String> TABLES = List.of("requests", "file_lines", "file_chunks", "files", "webhook_events", "webhook_deliveries");
    static final int PAGE = 8192;
    /** The most the batches table may weigh to be rewritten under an exclusive lock: a rewrite of this much lasts milliseconds. */
    static final long COMPACT_MAX_BYTES = 64L << 20;
    /** How long a rewrite of the batches table waits for its lock before giving up until the next run (statements arriving meanwhile wait behind it). */
    static final long COMPACT_LOCK_TIMEOUT_MS = 100;
    /** A B-tree leaf's room for entries: the page less its header and special space, at the default fill factor (90 %). */
    static final double LEAF_ROOM = (PAGE - 24 - 16) * 0.9;

    private final IndexStore indexes;
    private final List<String> tables;
    private final boolean batchesToo;
    private final EngineMetrics metrics;
    private final RetentionConfig config;

    public IndexUpkeep(IndexStore indexes, EngineMetrics metrics, RetentionConfig config) {
        this(indexes, TABLES, true, metrics, config);
    }

    /** Upkeep of these tables' indexes (a test's own table), and of the batches table or not. */
    IndexUpkeep(IndexStore indexes, List<String> tables, boolean batchesToo, EngineMetrics metrics, RetentionConfig config) {
        this.indexes = indexes;
        this.tables = tables;
        this.batchesToo = batchesToo;
        this.metrics = metrics;
        this.config = config;
    }

    @Override
    public String name() { return "index upkeep"; }

    @Override
    public long periodMillis() { return config.interval().toMillis(); }

    /** Rebuilds what is bloated, if no other process is at it; how many indexes it rebuilt. */
    @Override
    public Uni<Integer> run() {
        if (config.reindexBloat() <= 0) {
            return Uni.createFrom().item(0);
        }
        int[] rebuilt = new int[1];
        return indexes.exclusively(tx -> indexes.dropLeftBehind(tx, tables)
                .invoke(left -> left.forEach(name -> LOG.warnf("dropped index %s, left behind by an interrupted rebuild", name)))
                .chain(() -> indexes.sizes(tables))
                .chain(sizes -> {
                    Uni<Void> all = Uni.createFrom().voidItem();
                    for (IndexSize s : bloated(sizes)) {
                        all = all.chain(() -> rebuildIfConfirmed(tx, s).invoke(done -> rebuilt[0] += done ? 1 : 0)).replaceWithVoid();
                    }
                    return all;
                })
                .chain(() -> batchesToo ? compactBatchesIfIdle(tx) : Uni.createFrom().voidItem()))
                .map(ran -> rebuilt[0]);
    }

    /** The indexes over the bloat factor and the minimum size, largest first. */
    List<IndexSize> bloated(List<IndexSize> sizes) {
        List<IndexSize> out = new ArrayList<>();
        for (IndexSize s : sizes) {
            if (s.bytes() >= config.reindexMinSize().asLongValue() && s.bytes() > config.reindexBloat() * needBytes(s.entries(), s.keyWidth())) {
                out.add(s);
            }
        }
        out.sort((a, b) -> Long.compare(b.bytes(), a.bytes()));
        return out;
    }

    private Uni<Boolean> rebuildIfConfirmed(Tx tx, IndexSize s) {
        // as many rows as would make this index's size right: if the table has them, the statistics were behind
        long justifying = Math.max(1, (long) (s.bytes() / config.reindexBloat() / entryBytes(s.keyWidth()) * (LEAF_ROOM / PAGE)));
        return indexes.atLeast(tx, s.relation(), justifying).chain(enough -> {
            if (enough) {
                return Uni.createFrom().item(false);
            }
            long start = System.nanoTime();
            return indexes.rebuild(tx, s.index()).chain(() -> indexes.sizes(tables)).map(after -> {
                long now = after.stream().filter(a -> a.index().equals(s.index())).mapToLong(IndexSize::bytes).findFirst().orElse(0);
                metrics.indexRebuilt(s.table(), Math.max(0, s.bytes() - now));
                LOG.infof("rebuilt index %s of %s: %d KiB -> %d KiB, %d ms", s.index(), s.table(), s.bytes() >> 10, now >> 10,
                        (System.nanoTime() - start) / 1_000_000);
                return true;
            });
        });
    }

    /**
     * The batches table, when no batch is live and it is over {@code reindex-bloat} times what its
     * rows need (and over {@code reindex-min-size}, under {@link #COMPACT_MAX_BYTES}): rewritten
     * compact with {@code VACUUM FULL}, if its lock comes within {@link #COMPACT_LOCK_TIMEOUT_MS}.
     * {@code tx} must be one session ({@code Transactions.session}): the lock timeout is set on it.
     */
    Uni<Void> compactBatchesIfIdle(Tx tx) {
        return indexes.batchesSize(tx).chain(size -> {
            if (size == null || size[0] > COMPACT_MAX_BYTES || size[0] < config.reindexMinSize().asLongValue()
                    || size[0] <= config.reindexBloat() * (size[1] + PAGE)) {
                return Uni.createFrom().voidItem();
            }
            return indexes.compactBatches(tx, COMPACT_LOCK_TIMEOUT_MS).invoke(done -> {
                if (done) {
                    metrics.indexRebuilt("batches", 0);
                    LOG.infof("rewrote the batches table compact: %d KiB for %d KiB of rows", size[0] >> 10, size[1] >> 10);
                }
            }).replaceWithVoid();
        });
    }

    /** Bytes a leaf entry takes: its header and key, aligned to 8, and its line pointer; an unknown key width counts as 32. */
    static int entryBytes(int keyWidth) {
        int key = keyWidth > 0 ? keyWidth : 32;
        return ((8 + key + 7) & ~7) + 4;
    }

    /** Bytes a B-tree of {@code entries} entries of this key width needs when freshly built: its leaves, their parents, the meta page. */
    static long needBytes(long entries, int keyWidth) {
        long leaves = (long) Math.ceil(Math.max(0, entries) * entryBytes(keyWidth) / LEAF_ROOM);
        return (long) PAGE * (leaves + leaves / 64 + 2);
    }
}
