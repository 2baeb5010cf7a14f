-- Webhooks: endpoints a project registers, the outbox of events written with each batch's
-- terminal transition, and one delivery per (event, endpoint), claimed like lines are
-- (see docs/ARCHITECTURE.md, "Webhooks").

-- A project's receivers. The secret signs every delivery (Standard Webhooks: HMAC-SHA256 keyed
-- with the base64-decoded bytes after "whsec_"); it must be kept, not hashed, to sign with.
-- After a rotation the previous secret signs too, until previous_secret_until (Unix seconds).
create table webhook_endpoints (
    id                    text   primary key,
    project               text   not null,
    url                   text   not null,
    name                  text   not null,
    event_types           text   not null,  -- comma list: batch.completed,batch.failed,...
    secret                text   not null,
    previous_secret       text,
    previous_secret_until bigint,
    created_at            bigint not null,
    created_us            bigint not null,
    updated_at            bigint not null
);
create index webhook_endpoints_project_order on webhook_endpoints (project, created_us desc, id desc);

-- The outbox: one row per terminal transition, inserted in the transaction that makes the batch
-- terminal, so no terminal batch lacks its event and no rolled-back transition has one.
create table webhook_events (
    id         text   primary key,
    project    text   not null,
    type       text   not null,
    batch_id   text   not null,
    created_at bigint not null,
    created_us bigint not null
);
create unique index webhook_events_once on webhook_events (batch_id, type);

-- One row per (event, endpoint subscribed to its type), made with the event. The work queue of
-- the deliverers: pending rows due by next_attempt_at (Unix ms) are claimed with
-- claimed_by/lease_until and fence+1; every write after an attempt checks the fence, so a
-- deliverer whose claim lapsed and was taken over changes nothing.
create table webhook_deliveries (
    endpoint_id      text    not null references webhook_endpoints (id) on delete cascade,
    event_id         text    not null references webhook_events (id) on delete cascade,
    project          text    not null,
    state            text    not null,  -- pending | succeeded | failed
    attempts         integer not null default 0,
    next_attempt_at  bigint  not null,
    claimed_by       text,
    lease_until      bigint,
    fence            bigint  not null default 0,
    last_status_code integer,
    last_error       text,
    last_attempt_at  bigint,
    finished_at      bigint,
    created_at       bigint  not null,
    created_us       bigint  not null,
    primary key (endpoint_id, event_id)
);
-- Due work per project (a probe per project, then a claim of that project's earliest due rows).
create index webhook_deliveries_due on webhook_deliveries (project, next_attempt_at) where state = 'pending';
-- An endpoint's latest deliveries, newest first (GET /v1/webhooks/{id}/deliveries).
create index webhook_deliveries_endpoint_order on webhook_deliveries (endpoint_id, created_us desc, event_id desc);
create index webhook_deliveries_event on webhook_deliveries (event_id);
