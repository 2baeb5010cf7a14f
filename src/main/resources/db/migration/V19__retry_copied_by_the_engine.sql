-- A retry batch's lines are copied by the engine, not by the API call (issue 22: a retry of a
-- million lines answers in bounded time). POST /v1/batches/{id}/retry inserts the batch
-- validating, not yet validated, naming the batch it retries and the error codes it takes; the
-- engine's validation step copies the lines in one transaction and starts it, as it validates a
-- created batch's file.
alter table batches add column retry_of text;
alter table batches add column retry_codes text[];
