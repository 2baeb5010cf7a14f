-- Usage per project, model and hour (issue 20): what GET /v1/organization/usage/batches and
-- GET /v1/organization/costs read. Counted by the statements that settle lines, in the same
-- transaction as the lines' results and their batches' counters (LineStore.WRITE,
-- SETTLE_UNFINISHED, CANCEL_QUEUED), so a crash can neither lose a count nor count one twice: the
-- sums here always equal the sums of the batches' counters.
--
-- requests = lines settled (succeeded + failed); failed counts every line that settled without a
-- success (failed, expired, cancelled), as a batch's request_counts.failed does. hour is the start
-- of the hour (unix seconds) in which the lines settled. model is the batch's model ('' if none).
--
-- A writer locks its batches' rows first (in id order), then these rows in (project, model, hour)
-- order: two writers never wait on each other in a circle.
create table usage_hourly (
    project       text   not null,
    model         text   not null,
    hour          bigint not null,
    requests      bigint not null default 0,
    succeeded     bigint not null default 0,
    failed        bigint not null default 0,
    input_tokens  bigint not null default 0,
    output_tokens bigint not null default 0,
    primary key (project, model, hour)
);
-- The usage and costs routes read a time range across projects.
create index usage_hourly_hour on usage_hourly (hour);
