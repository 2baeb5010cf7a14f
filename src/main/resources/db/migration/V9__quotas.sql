-- Quotas per project (see docs/ARCHITECTURE.md, "Quotas"). Defaults come from configuration
-- (openbatch.quotas.*); a row here overrides one quota of one project.
create table project_quotas (
    project text   not null,
    quota   text   not null,
    value   bigint not null,
    primary key (project, quota)
);

-- One row per project, locked by every transaction that counts a quota of the project and then
-- creates what it counts (a batch, a file's bytes, a webhook endpoint, a slot): such transactions
-- of one project run one after the other, on every replica, so a count is never stale when used.
create table quota_locks (
    project text primary key
);

-- The uploads and dry runs in progress, on whichever replica: one row each while it runs, removed
-- when it ends; a row whose process died stops counting at `until` (epoch millis).
create table quota_leases (
    id      text   primary key,
    project text   not null,
    quota   text   not null,
    until   bigint not null
);
create index quota_leases_project on quota_leases (project, quota);

-- Rates: how many reads a project made in one second (epoch seconds), on every replica; the
-- row is taken over by the next second's first read.
create table quota_rates (
    project text    not null,
    quota   text    not null,
    second  bigint  not null,
    count   integer not null,
    primary key (project, quota)
);

-- The bytes of a batch's request bodies, set when its lines are in: its input tokens are
-- estimated from them (bytes / 4) for the enqueued-tokens quota.
alter table batches add column input_bytes bigint not null default 0;
