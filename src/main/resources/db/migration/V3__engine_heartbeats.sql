-- The engine at scale: claims live as long as their process's heartbeat, and every hot
-- statement has an index range of its own (see docs/ARCHITECTURE.md, "Hot statements").

-- One row per engine process. Renewal rewrites this row only, whatever the process holds; a
-- process whose row says it is alive until a moment now past is dead, and its lines go back to
-- the queue. Each process writes its own deadline (now + its own lease), so processes with
-- different leases judge each other by the holder's lease, not the judge's.
create table engine_nodes (
    node        text   primary key,
    heartbeat   bigint not null,
    alive_until bigint not null,
    started_at  bigint not null
);

-- Lines no longer carry a lease of their own: the holder's heartbeat is their lease.
drop index requests_running;
drop index requests_queued;
alter table requests drop column lease_until;

-- The queue of each batch: ready lines first by due time (0 for never tried), then line order.
create index requests_queue on requests (batch_id, not_before, line) where state = 'queued';
-- What each process holds, by batch (recovering a dead process, giving back at a stop, a job's
-- max_concurrency across every process).
create index requests_held on requests (claimed_by, batch_id, line) where state = 'running';

-- Batches: work to choose per upstream, deadlines to keep, a job's live batches. No index reads the
-- counters, so the update that moves them with every set of results stays a HOT update.
drop index batches_live;
create index batches_live on batches (status, upstream) where status in ('validating', 'in_progress', 'finalizing', 'cancelling');
create index batches_deadline on batches (expires_at) where status = 'in_progress';
create index batches_job on batches (job_id, status);
