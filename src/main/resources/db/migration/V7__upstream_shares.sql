-- One cap per upstream across every process (issue 19): openbatch.upstreams.<name>.max-concurrency
-- is what that server takes from all processes together. Each live process publishes here, about
-- every second, how many lines it may have in flight to each upstream it sends to (its allowance,
-- or more while more are still in flight), then reads the others' rows of live processes and
-- keeps within what they leave (engine/dispatch/CapShares says why this order keeps the sum under
-- the cap).
--
-- A table of its own rather than a column of engine_nodes: a process writes its shares more often
-- than its heartbeat (every second, not every lease/3), one row per upstream that a read can pick
-- by upstream, and the heartbeat row stays the narrow row that every sweep reads. The rows go with
-- their process's heartbeat row (on delete cascade): a process declared dead (LeaseSweep's bury)
-- or saying goodbye (leave) takes its shares with it, and until then a reader counts only rows
-- whose process is still alive (alive_until in the future), so a dead process's share returns
-- within its lease even before anyone buries it.
create table upstream_shares (
    node      text    not null references engine_nodes (node) on delete cascade,
    upstream  text    not null,
    published integer not null,
    primary key (node, upstream)
);
-- No other index: the table has a row per process and upstream, a few dozen at most, and the
-- primary key serves the cascade from engine_nodes.
