package dev.openbatch.store;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.smallrye.mutiny.Uni;
import io.vertx.mutiny.sqlclient.Row;
import io.vertx.mutiny.sqlclient.Tuple;

/**
 * The input-file chunks that claimed lines' bodies are cut out of (V18: a body is stored once, in
 * its batch's input file), kept in memory, least recently used first out, up to {@link #budget}
 * bytes. A claim takes a few lines at a time, mostly consecutive ones, so one 1 MiB chunk serves
 * thousands of short lines, and each is read (and decompressed by PostgreSQL) about once per
 * process, not once per claim. Keyed by batch and chunk number: a chunk of an input file never
 * changes, and a batch id is never reused. Thread-safe (dispatchers of several upstreams share it).
 */
public final class BodyChunks {
    /** The bytes kept by default: 24 chunks of 1 MiB, 24 batches running at once each with its chunk in memory. */
    public static final long DEFAULT_BUDGET = 24L << 20;

    /**
     * The chunks asked for, each as the batch's input file has it: one probe of the primary keys
     * per chunk (a lateral join, never a hash of {@code file_chunks}); a chunk that is gone (its
     * file was deleted) is missing from the answer.
     */
    static final String READ = "select k.batch_id, k.seq, c.data from unnest($1::text[], $2::int[]) as k(batch_id, seq)"
            + " cross join lateral (select f.data from batches b join file_chunks f on f.file_id = b.input_file_id and f.seq = k.seq"
            + " where b.id = k.batch_id) c";

    private record Key(String batchId, int seq) {
    }

    private final long budget;
    private final LinkedHashMap<Key, byte[]> kept = new LinkedHashMap<>(16, 0.75f, true);
    private long bytes;

    public BodyChunks(long budget) {
        this.budget = budget;
    }

    private synchronized byte[] get(Key k) {
        return kept.get(k);
    }

    private synchronized void put(Key k, byte[] data) {
        byte[] old = kept.put(k, data);
        bytes += data.length - (old == null ? 0 : old.length);
        Iterator<Map.Entry<Key, byte[]>> it = kept.entrySet().iterator();
        while (bytes > budget && it.hasNext()) {
            Map.Entry<Key, byte[]> e = it.next();
            if (e.getKey().equals(k)) {
                continue; // the chunk just read stays, whatever its size
            }
            bytes -= e.getValue().length;
            it.remove();
        }
    }

    /** Bytes kept now (for tests). */
    synchronized long bytes() {
        return bytes;
    }

    /** A line as the claim statement returns it: its body, or where its body is in its batch's input file. */
    record Raw(String batchId, int line, long fence, int attempts, String body, Integer seq, int at, int length) {
    }

    /**
     * The lines with their bodies: each one kept in its row as it is, the others cut out of their
     * chunks, the missing chunks read first in {@code tx}, all in one statement; a body whose
     * chunk is gone comes as null.
     */
    Uni<List<LineStore.Taken>> fill(Tx tx, List<Raw> raw) {
        // the chunks this claim needs, held here from the moment they are found: another claim may
        // push them out of the cache meanwhile
        Map<Key, byte[]> have = new HashMap<>();
        Set<Key> missing = new LinkedHashSet<>();
        for (Raw r : raw) {
            if (r.body() == null && r.seq() != null) {
                Key k = new Key(r.batchId(), r.seq());
                if (!have.containsKey(k) && !missing.contains(k)) {
                    byte[] data = get(k);
                    if (data == null) {
                        missing.add(k);
                    } else {
                        have.put(k, data);
                    }
                }
            }
        }
        if (missing.isEmpty()) {
            return Uni.createFrom().item(cut(raw, have));
        }
        String[] batches = missing.stream().map(Key::batchId).toArray(String[]::new);
        Integer[] seqs = missing.stream().map(Key::seq).toArray(Integer[]::new);
        return tx.client().preparedQuery(READ).execute(Tuple.of(batches, seqs)).map(rows -> {
            for (Row row : rows) {
                Key k = new Key(row.getString(0), row.getInteger(1));
                byte[] data = row.getBuffer(2).getBytes();
                have.put(k, data);
                put(k, data);
            }
            return cut(raw, have);
        });
    }

    private static List<LineStore.Taken> cut(List<Raw> raw, Map<Key, byte[]> have) {
        List<LineStore.Taken> out = new ArrayList<>(raw.size());
        for (Raw r : raw) {
            String body = r.body();
            if (body == null && r.seq() != null) {
                byte[] data = have.get(new Key(r.batchId(), r.seq()));
                if (data != null && r.at() >= 0 && r.length() >= 0 && (long) r.at() + r.length() <= data.length) {
                    body = new String(data, r.at(), r.length(), StandardCharsets.UTF_8);
                }
            }
            out.add(new LineStore.Taken(r.batchId(), r.line(), r.fence(), r.attempts(), body));
        }
        return out;
    }
}
