-- Retention (issue 21): a batch's lines (bodies and answers) are deleted once its data expires;
-- the batch row stays, and says so.

-- When the batch's lines go: set at its terminal transition (its end + output_expires_after, or
-- + openbatch.retention.batch-data); null while it is live.
alter table batches add column data_expires_at bigint;
-- When the purge of its lines began. From then on the API answers 410 (results, lines) and 409
-- (retry) for it: the mark commits before (or with) the first deletion, so no reader sees a part.
alter table batches add column data_purged_at bigint;
-- Every line of it is deleted; the purge will not look at it again.
alter table batches add column data_purge_done boolean not null default false;

-- The batches whose lines are due or being deleted, by due time: each purge step picks the
-- earliest one not held by another process (for update skip locked).
create index batches_data_due on batches (data_expires_at) where data_expires_at is not null and not data_purge_done;

-- Batches that ended before this version: their data expires at their end + output_expires_after,
-- or + 30 days (the default of openbatch.retention.batch-data); older ones go at the first purge.
update batches
   set data_expires_at = coalesce(completed_at, failed_at, expired_at, cancelled_at) + coalesce(output_expires_after, 2592000)
 where status in ('completed', 'failed', 'expired', 'cancelled');

-- Files stored without an expiry expire 30 days after their creation (the default of
-- openbatch.retention.files, which new files get in their expires_at at upload).
update files set expires_at = created_at + 2592000 where expires_at is null;

-- Files past their expires_at, found without reading every file.
create index files_expiry on files (expires_at) where expires_at is not null;

-- Webhook events by age, for their retention.
create index webhook_events_age on webhook_events (created_at);
