-- Files: metadata in `files`, bytes in `file_chunks` so that every replica sees them.
create table files (
    id                text primary key,
    project           text    not null,
    purpose           text    not null,
    filename          text    not null,
    bytes             bigint  not null default 0,
    status            text    not null default 'processed',
    created_at        bigint  not null,
    expires_at        bigint,
    created_us        bigint  not null,
    -- set on files that openbatch writes for a batch; a re-run finalization replaces them
    producer_batch_id text
);
create index files_project_order on files (project, created_us desc, id desc);
create index files_producer on files (producer_batch_id) where producer_batch_id is not null;

create table file_chunks (
    file_id text    not null references files (id) on delete cascade,
    seq     integer not null,
    data    bytea   not null,
    primary key (file_id, seq)
);
-- chunks are already the user's bytes; compressing them costs more than it saves
alter table file_chunks alter column data set storage external;

create table jobs (
    id                text primary key,
    project           text    not null,
    name              text    not null,
    model             text,
    completion_window text    not null,
    priority          integer not null default 0,
    max_concurrency   integer,
    metadata          text,
    is_default        boolean not null default false,
    created_at        bigint  not null,
    created_us        bigint  not null
);
create unique index jobs_one_default on jobs (project) where is_default;
create index jobs_project_order on jobs (project, created_us desc, id desc);

create table batches (
    id                   text primary key,
    project              text    not null,
    job_id               text    not null references jobs (id),
    endpoint             text    not null,
    input_file_id        text    not null,
    completion_window    text    not null,
    status               text    not null,
    model                text,
    upstream             text,
    output_file_id       text,
    error_file_id        text,
    errors               text,
    metadata             text,
    output_expires_after bigint,
    created_at           bigint  not null,
    created_us           bigint  not null,
    in_progress_at       bigint,
    expires_at           bigint,
    finalizing_at        bigint,
    completed_at         bigint,
    failed_at            bigint,
    expired_at           bigint,
    cancelling_at        bigint,
    cancelled_at         bigint,
    total                integer not null default 0,
    completed            integer not null default 0,
    failed               integer not null default 0,
    input_tokens         bigint  not null default 0,
    output_tokens        bigint  not null default 0,
    total_tokens         bigint  not null default 0,
    idempotency_key      text,
    request_hash         text,
    -- engine bookkeeping: has validation inserted the lines, and the claim on batch-level work
    validated            boolean not null default false,
    claimed_by           text,
    lease_until          bigint,
    fence                bigint  not null default 0
);
create unique index batches_idempotency on batches (project, idempotency_key) where idempotency_key is not null;
create index batches_project_order on batches (project, created_us desc, id desc);
create index batches_live on batches (status) where status in ('validating', 'in_progress', 'finalizing', 'cancelling');
create index batches_input_file on batches (input_file_id);

-- One row per input line: the engine's work queue and its results.
create table requests (
    batch_id      text     not null references batches (id) on delete cascade,
    line          integer  not null,
    custom_id     text     not null,
    body          text     not null,
    -- queued | running | succeeded | failed | expired | cancelled
    state         text     not null default 'queued',
    attempts      integer  not null default 0,
    not_before    bigint   not null default 0,
    claimed_by    text,
    lease_until   bigint,
    fence         bigint   not null default 0,
    status_code   integer,
    request_id    text,
    response      text,
    error_code    text,
    error_message text,
    primary key (batch_id, line)
);
alter table requests alter column body set storage external;
create index requests_queued on requests (batch_id, line) where state = 'queued';
create index requests_running on requests (lease_until) where state = 'running';
