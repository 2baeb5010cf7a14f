package dev.openbatch.engine.dispatch;
import dev.openbatch.store.LineStore;
import dev.openbatch.store.BatchStore;
import dev.openbatch.status.LineState;
import dev.openbatch.engine.metrics.EngineMetrics;
import dev.openbatch.engine.config.EngineConfig;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jboss.logging.Logger;

import dev.openbatch.api.LogText;
import dev.openbatch.api.Time;
import dev.openbatch.store.BatchStore.Eligible;
import dev.openbatch.store.Transactions;
import dev.openbatch.store.Tx;
import dev.openbatch.upstream.Upstream;
import dev.openbatch.upstream.UpstreamResponse;
import dev.openbatch.upstream.Upstreams;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;
import io.vertx.mutiny.core.Context;

/**
 * Keeps one upstream busy, and coordinates only: it holds a stock of claimed lines, starts the
 * next one the moment a slot frees, and claims more before the stock runs out. A line holds its
 * slot while it is at the upstream, and its answer then waits for its write in room of its own
 * beyond the slots ({@code unwritten-max}, 128 by default; with 0 an answer keeps its slot until
 * written): either way, when writes fall behind sends stop, so the memory
 * answers take and the lines a crash makes others send again stay bounded (the slots plus
 * {@code unwritten-max}). Which batches may give lines is {@link EligibleBatches}' list; how many each gets is {@link FairShare}'s choice, within
 * the room {@link JobRoom} finds for capped jobs; what an answer means is {@link RetryPolicy}'s;
 * writing results is {@link ResultWriter}'s; the SQL is {@link LineStore}'s and
 * {@link BatchStore}'s. Confined to the engine's event-loop context: no locks.
 * How many lines may be in flight at once is {@link UpstreamFlow}'s: this process's share of
 * {@code max-concurrency} ({@link #setShare}, from the share rounds), or an adaptive limit under it
 * (the default). The stock follows that share, not the whole cap, so that a process with a small
 * share does not hold lines that others could send.
 * <p>
 * It takes lines of every batch whose model its upstream serves ({@link Upstreams.Takes}); the
 * other upstreams of a model take from the same batches, each as fast as its own limit lets it,
 * so a batch's lines spread by how fast each upstream takes them. An upstream that refuses
 * connections or fails its health check is drained ({@link Drain}): its dispatcher claims nothing,
 * gives its stock back, and probes it every {@value #PROBE_MS} ms until it is up; a line whose
 * connection was refused goes back with its attempt. An {@code overflow} upstream takes only the
 * batches {@link Overflow} finds at risk, or any when no other upstream of the model is live.
 */
public class Dispatcher {
    private static final Logger LOG = Logger.getLogger(Dispatcher.class);
    /** Fewest lines kept in stock beyond the slots (while the share is above 0), so that small shares keep their pace. */
    static final int MIN_PREFETCH = 16;

    /** How often a drained upstream (or one with a {@code health-url}, always) is probed. */
    static final long PROBE_MS = 2000;

    private final Upstream upstream;
    private final Upstreams.Takes takes;
    private final Fleet fleet;
    private final Drain drain = new Drain();
    private long probeTimer = -1;
    private boolean probing;
    private final Transactions transactions;
    private final LineStore lines;
    private final Context context;
    private final Time time;
    private final EngineConfig config;
    private final RetryPolicy policy;
    private final String node;
    private final EngineMetrics metrics;
    private final ResultWriter writer;
    private final JobRoom jobRoom;
    /** Called when a write settled the last line of a batch: the engine completes it without waiting for its tick. */
    private final Runnable batchSettled;
    /** The upstream's {@code max-concurrency}. */
    private final int capacity;

    private final ArrayDeque<Claimed> stock = new ArrayDeque<>();
    private final Map<String, InFlight> inFlight = new HashMap<>();
    private final Map<String, Integer> heldByProject = new HashMap<>();
    private final EligibleBatches eligible;
    /** Where each batch's next claim starts reading its queue: past the lines claimed before (see QueueFloors). */
    private final QueueFloors floors = new QueueFloors();
    private boolean claiming;
    private boolean idle;
    private boolean stopped;
    private long claimFailures;
    private long sent;
    private long retryWakeAt = Long.MAX_VALUE;
    private long retryTimer = -1;
    /** How many lines may be in flight now. */
    private final UpstreamFlow flow;

    private static final class InFlight {
        final Claimed line;
        final long started = System.nanoTime();
        Cancellable cancellable;

        InFlight(Claimed line) {
            this.line = line;
        }
    }

    /**
     * @param takes the models whose batches it takes lines of
     * @param fleet the other dispatchers of this process, as far as it needs to know them
     */
    public Dispatcher(Upstream upstream, Upstreams.Takes takes, Fleet fleet, Transactions transactions, LineStore lines, BatchStore batches,
            Context context, Time time, EngineConfig config, String node, EngineMetrics metrics, Runnable batchSettled) {
        this.upstream = upstream;
        this.takes = takes;
        this.fleet = fleet;
        this.transactions = transactions;
        this.lines = lines;
        this.context = context;
        this.time = time;
        this.config = config;
        this.policy = RetryPolicy.of(config);
        this.node = node;
        this.metrics = metrics;
        this.batchSettled = batchSettled;
        this.capacity = upstream.maxConcurrency();
        this.jobRoom = new JobRoom();
        this.eligible = new EligibleBatches(upstream.name(), now -> {
            long started = System.nanoTime();
            return batches.eligible(takes.exact(), takes.any(), takes.named(), now)
                    .invoke(list -> metrics.chooseLatency(System.nanoTime() - started))
                    .map(list -> upstream.overflow() ? list.stream().filter(e -> needed(e, now)).toList() : list);
        }, r -> context.runOnContext(r));
        this.writer = new ResultWriter(lines, context.owner(), config.writeBatch(), config.writeDelay().toMillis(), config.writers(),
                this::written, metrics, time);
        metrics.upstream(upstream.name(), inFlight::size, writer::unwritten, stock::size, capacity);
        this.flow = new UpstreamFlow(upstream, capacity, config.unwrittenMax(), context, time, this::pump, inFlight::size,
                () -> inFlight.size() + stock.size());
        metrics.upstreamFlow(upstream.name(), flow::limit, () -> {
            Double q = flow.queue();
            return q == null ? Double.NaN : q;
        });
        metrics.upstreamShare(upstream.name(), flow::share);
        metrics.upstreamDrained(upstream.name(), false);
        this.probeTimer = context.owner().setPeriodic(PROBE_MS, id -> context.runOnContext(this::probe));
    }

    /** Whether it takes lines of batches of {@code model}. */
    public boolean takes(String model) { return takes.model(model); }

    /** Whether its upstream is {@code overflow}: it takes lines only when a batch needs it. */
    public boolean overflow() { return upstream.overflow(); }

    /** Whether its upstream is drained: it takes no lines until a probe finds it up. */
    public boolean drained() { return drain.drained(); }

    /** An overflow upstream takes a batch's lines when it would miss its deadline, or when no other upstream of its model is live. */
    private boolean needed(Eligible e, long now) {
        return Overflow.atRisk(e, now) || !fleet.regularLive(e.model());
    }

    /** The upstream's name. */
    public String upstream() { return upstream.name(); }

    /** Whether its {@code max-concurrency} is shared with the other live processes ({@link Upstream#shared()}). */
    public boolean shared() { return upstream.shared(); }

    /** The upstream's {@code max-concurrency}: the cap of all processes together when shared. */
    public int cap() { return capacity; }

    /** This process's share of the cap, as last set (the whole cap when not shared). */
    public int share() { return flow.share(); }

    /**
     * Slots taken: lines in flight, and answers not yet written beyond the room {@code unwritten-max}
     * gives them (with 0, every unwritten answer keeps its slot). What a share round publishes at least.
     */
    public int occupied() { return inFlight.size() + Math.max(0, writer.unwritten() - config.unwrittenMax()); }

    /**
     * The share round's answer: from now on at most {@code share} slots taken. Lines in flight
     * above it finish; stock above what the new share keeps goes back to the queue (never sent),
     * for other processes to take.
     */
    public void setShare(int share) {
        flow.setShare(share);
        int surplus = Math.min(stock.size(), held() - stockTarget());
        for (int i = 0; i < surplus; i++) {
            writer.add(Result.released(stock.pollLast(), false));
        }
        pump();
    }

    /** How many lines to hold (in slots and stock): the share and as many again (at least {@link #MIN_PREFETCH}), none while the share is 0. */
    private int stockTarget() {
        int c = flow.ceiling();
        return c == 0 ? 0 : c + Math.max(MIN_PREFETCH, c);
    }

    /**
     * Most lines one claim takes: claims come often and small, so that each stays short (few rows,
     * few batches) while the stock stays full.
     */
    private int claimMax() {
        return Math.max(16, flow.ceiling() / 3);
    }

    /** How many lines may be in flight to the upstream now: its adaptive limit, or this process's share of {@code max-concurrency}. */
    public int limit() { return flow.limit(); }

    /** Lines sent and not yet answered. */
    public int inFlight() { return inFlight.size(); }

    /** Lines sent since this dispatcher began. */
    public long sent() { return sent; }

    /** Lines this dispatcher holds: in stock, in flight, and answered but not yet written. */
    private int held() { return stock.size() + inFlight.size() + writer.unwritten(); }

    /** Results answered and not yet written. */
    public int unwritten() { return writer.unwritten(); }

    /** Something may have become ready (a batch started, a retry is due): look for work again now. */
    private void wake() {
        idle = false;
        eligible.invalidate();
        pump();
    }

    /** A batch of a model it takes has just started: it joins the list without the list being read again. */
    public void started(Eligible batch) {
        if (upstream.overflow() && !needed(batch, time.millis())) {
            return;
        }
        eligible.started(batch);
        idle = false;
        pump();
    }

    /**
     * The tick's nudge: an idle dispatcher looks again (batches another process validated, or
     * lines another process gave back, are seen within a tick); a busy one keeps its list for
     * up to {@link EligibleBatches#TTL_MS}.
     */
    public void nudge() {
        idle = false;
        pump();
    }

    /** Another dispatcher gave lines back, or was drained or came back: look for work again now. */
    public void othersChanged() {
        if (!stopped && !drain.drained()) {
            wake();
        }
    }

    /**
     * The projects paused at their spend cap now (every one, each time): none of their lines is
     * claimed or sent from now on, and those in stock go back to the queue (never sent: their
     * attempts are given back); those in flight finish. A project that is no longer paused is taken
     * from again at once.
     */
    public void paused(Set<String> projects) {
        boolean resumed = eligible.paused(projects);
        for (Iterator<Claimed> it = stock.iterator(); it.hasNext();) {
            Claimed c = it.next();
            if (projects.contains(c.project())) {
                it.remove();
                writer.add(Result.released(c, false));
            }
        }
        if (resumed && !stopped && !drain.drained()) {
            wake();
        }
    }

    /** Starts lines while slots are free, and claims more when the stock runs low. */
    private void pump() {
        if (stopped || drain.drained()) {
            return;
        }
        while (!stock.isEmpty() && flow.mayStart(inFlight.size(), writer.unwritten())) {
            start(stock.poll());
        }
        flow.holding();
        int target = stockTarget();
        if (!claiming && !idle && target > 0 && held() <= target - claimMax() / 2) {
            claim();
        }
    }

    // ---- claiming ----

    private void claim() {
        claiming = true;
        long now = time.millis();
        int want = Math.min(claimMax(), stockTarget() - held());
        EligibleBatches.Choice choice = eligible.choose(now);
        choice.open().chain(open -> {
            if (open.isEmpty()) {
                return Uni.createFrom().item(Claim.NONE);
            }
            long started = System.nanoTime();
            Uni<Claim> c = JobRoom.anyCapped(open) // the cap holds across processes: lock, count, claim in one transaction
                    ? transactions.run(tx -> jobRoom.lock(tx, open).chain(room -> claimFrom(tx, open, want, now, room)))
                    : claimFrom(transactions.autoCommit(), open, want, now, Map.of());
            return c.invoke(x -> metrics.claimLatency(System.nanoTime() - started));
        }).subscribe().with(c -> {
            claiming = false;
            claimFailures = 0;
            taken(c, choice.fresh());
        }, failure -> {
            claiming = false;
            claimFailures++;
            LOG.warnf("claiming lines for upstream %s failed, retrying: %s", upstream.name(), LogText.of(failure.getMessage(), 1000));
            context.owner().setTimer(Math.min(5000, 100L << Math.min(6, claimFailures)), t -> pump());
        });
    }

    /** What one claim asked for and got. */
    private record Claim(Map<String, Integer> plan, Map<String, Eligible> batches, List<LineStore.Taken> taken) {
        static final Claim NONE = new Claim(Map.of(), Map.of(), List.of());
    }

    private Uni<Claim> claimFrom(Tx client, List<Eligible> open, int want, long now, Map<String, Integer> room) {
        Map<String, Integer> plan = FairShare.plan(open, stockTarget(), want, heldByProject, room);
        if (plan.isEmpty()) {
            return Uni.createFrom().item(Claim.NONE);
        }
        Map<String, Eligible> byId = new HashMap<>();
        open.forEach(e -> byId.put(e.id(), e));
        String[] ids = plan.keySet().toArray(String[]::new);
        return lines.claim(client, ids, plan.values().toArray(Integer[]::new), floors.after(ids, now), now, node)
                .map(taken -> new Claim(plan, byId, taken));
    }

    private void taken(Claim c, boolean fresh) {
        QueueFloors.Got got = QueueFloors.Got.of(c.taken());
        eligible.claimed(c.plan(), got.count());
        floors.claimed(c.plan(), got, time.millis());
        List<Claimed> claimed = new ArrayList<>(c.taken().size());
        for (LineStore.Taken t : c.taken()) {
            Eligible e = c.batches().get(t.batchId());
            claimed.add(new Claimed(t.batchId(), t.line(), t.fence(), t.attempts(), t.body(), e.endpoint(), e.project(), e.jobId(),
                    e.deadlineMillis()));
        }
        if (stopped || drain.drained()) {
            claimed.forEach(x -> {
                hold(x, 1);
                writer.add(Result.released(x, false));
            });
            return;
        }
        for (Claimed x : claimed) {
            hold(x, 1);
            if (eligible.paused(x.project())) {
                writer.add(Result.released(x, false)); // its project was paused while the claim ran
            } else if (x.body() == null) {
                writer.add(Result.bodyGone(x)); // its input file was deleted under a retry being created
            } else {
                stock.add(x);
            }
        }
        // nothing to take even from a fresh list: wait for a wake-up (new batch, retry due) or the nudge
        idle = claimed.isEmpty() && fresh;
        pump();
    }

    private void hold(Claimed c, int delta) {
        heldByProject.merge(c.project(), delta, Integer::sum);
    }

    // ---- sending ----

    private void start(Claimed c) {
        flow.sending(inFlight.size());
        InFlight f = new InFlight(c);
        sent++;
        String k = c.key();
        inFlight.put(k, f);
        f.cancellable = upstream.send(c.endpoint(), c.body())
                .emitOn(r -> context.runOnContext(r))
                .subscribe().with(resp -> done(k, f, resp, null), err -> done(k, f, null, err));
    }

    private void done(String k, InFlight f, UpstreamResponse resp, Throwable err) {
        if (inFlight.get(k) != f) {
            return; // aborted meanwhile: its result is already on its way
        }
        flow.answered(f.started, resp, err, inFlight.size());
        inFlight.remove(k);
        metrics.upstreamLatency(upstream.name(), System.nanoTime() - f.started);
        if (resp != null) {
            drain.answered();
        } else if (Drain.connectionLost(err) && drain.connectionFailed()) {
            drained("connections to it fail (" + Drain.FAILURES + " in a row): " + RetryPolicy.detail(err));
        }
        if (resp == null && Drain.neverConnected(err)) {
            // the request never left: back to the queue with its attempt, for whichever upstream is live
            writer.add(Result.released(f.line, false));
        } else {
            writer.add(policy.decide(f.line, resp, err, time.millis(), upstream.name()));
        }
        pump();
    }

    // ---- draining ----

    /** Stops claiming and gives the stock back (never sent: attempts given back); lines in flight end as they will. */
    private void drained(String why) {
        LOG.warnf("upstream %s drained, no lines go to it until it answers again: %s", upstream.name(), why);
        metrics.upstreamDrained(upstream.name(), true);
        while (!stock.isEmpty()) {
            writer.add(Result.released(stock.poll(), false));
        }
        fleet.changed(this);
    }

    /**
     * Every {@link #PROBE_MS} ms: a drained upstream is asked whether it is up; one with a
     * {@code health-url} is asked always, and drained when the answer is no.
     */
    private void probe() {
        if (stopped || probing || !(drain.drained() || upstream.checksHealth())) {
            return;
        }
        probing = true;
        upstream.probe().emitOn(r -> context.runOnContext(r)).subscribe().with(up -> {
            probing = false;
            if (stopped) {
                return;
            }
            if (up && drain.up()) {
                LOG.infof("upstream %s is up again, lines go to it", upstream.name());
                metrics.upstreamDrained(upstream.name(), false);
                fleet.changed(this);
                wake();
            } else if (!up && drain.healthFailed()) {
                drained("its health check failed");
            }
        }, e -> probing = false);
    }

    /**
     * Every upstream gets the same bound on one answer, the built-in one too (HTTP ones also time
     * out themselves): lines in flight longer than {@code request-timeout} are aborted and count as
     * timed out. One sweep a second, instead of a timer per line.
     */
    public void expireSlowRequests() {
        if (inFlight.isEmpty()) {
            return;
        }
        long limit = System.nanoTime() - config.requestTimeout().toNanos();
        List<Map.Entry<String, InFlight>> late = new ArrayList<>();
        for (Map.Entry<String, InFlight> e : inFlight.entrySet()) {
            if (e.getValue().started < limit) {
                late.add(e);
            }
        }
        for (Map.Entry<String, InFlight> e : late) {
            cancel(e.getValue());
            done(e.getKey(), e.getValue(), null, new java.util.concurrent.TimeoutException("timed out"));
        }
    }

    /** A set of results is written: room for more answers, and what they changed is acted on. */
    private void written(List<Result> results, LineStore.Applied applied) {
        long now = time.millis();
        for (Result r : results) {
            hold(r.claim(), -1);
            if (applied.applied().contains(r)) {
                metrics.lineFinished(upstream.name(), r.outcome());
                if (r.notBefore() > now) {
                    wakeAt(r.notBefore());
                }
            }
        }
        for (LineStore.Counted c : applied.counted()) {
            metrics.projectUsage(c.project(), c.model(), c.succeeded(), c.failed(), c.inputTokens(), c.outputTokens());
        }
        if (applied.settledABatch()) {
            batchSettled.run();
        }
        if (results.stream().anyMatch(r -> !r.settled() && r.notBefore() <= now)) {
            wake(); // lines went back to the queue ready: they may be taken again, here or by another upstream
            fleet.changed(this);
        } else {
            pump();
        }
    }

    /** A retry is due at {@code at}: look for work then (one timer, for the earliest). */
    private void wakeAt(long at) {
        if (at >= retryWakeAt) {
            return;
        }
        if (retryTimer >= 0) {
            context.owner().cancelTimer(retryTimer);
        }
        retryWakeAt = at;
        retryTimer = context.owner().setTimer(Math.max(1, at - time.millis()), id -> {
            retryTimer = -1;
            retryWakeAt = Long.MAX_VALUE;
            wake();
        });
    }

    // ---- giving lines up ----

    /** Lines of these batches held here settle as {@code state} (cancelled or expired); those in flight are aborted. */
    public void abort(Set<String> batchIds, LineState state, String code, String message) {
        if (batchIds.isEmpty()) {
            return;
        }
        for (Iterator<Claimed> it = stock.iterator(); it.hasNext();) {
            Claimed c = it.next();
            if (batchIds.contains(c.batchId())) {
                it.remove();
                writer.add(Result.aborted(c, state, code, message));
            }
        }
        for (Iterator<InFlight> it = inFlight.values().iterator(); it.hasNext();) {
            InFlight f = it.next();
            if (batchIds.contains(f.line.batchId())) {
                it.remove();
                cancel(f);
                writer.add(Result.aborted(f.line, state, code, message));
            }
        }
        pump();
    }

    /** Stops claiming and gives back the stock (never sent: their attempts are given back too); lines in flight may still finish. */
    public void stopClaiming() {
        stopped = true;
        context.owner().cancelTimer(probeTimer);
        flow.stopReading();
        while (!stock.isEmpty()) {
            writer.add(Result.released(stock.poll(), false));
        }
    }

    /** Gives back lines still in flight (after the grace period), aborting their requests. */
    public void releaseInFlight() {
        for (InFlight f : inFlight.values()) {
            cancel(f);
            writer.add(Result.released(f.line, true));
        }
        inFlight.clear();
    }

    /**
     * This process was declared dead (its heartbeat lapsed) and its lines were given to others:
     * whatever it still holds is aborted and handed back, so no line is sent twice from here.
     */
    public void forgetClaims() {
        while (!stock.isEmpty()) {
            writer.add(Result.released(stock.poll(), false));
        }
        releaseInFlight();
        eligible.invalidate();
        if (upstream.shared()) {
            flow.setShare(0); // its share was given to the others with its lines: none until the next round
        }
    }

    /** Stops everything at once, as a killed process would: requests aborted, nothing more written or claimed. */
    public void halt() {
        stopped = true;
        context.owner().cancelTimer(probeTimer);
        inFlight.values().forEach(Dispatcher::cancel);
        inFlight.clear();
        stock.clear();
        writer.halt();
        if (retryTimer >= 0) {
            context.owner().cancelTimer(retryTimer);
        }
        flow.close();
    }

    private static void cancel(InFlight f) {
        if (f.cancellable != null) {
            f.cancellable.cancel();
        }
    }
}
