-- Results while a batch runs, the state of every line, and retries of what failed (issue 11).

-- The transaction that settles a line (succeeded, failed, expired, cancelled) stamps it with its
-- own transaction id. A reader of GET /v1/batches/{id}/results returns only lines stamped by a
-- transaction older than every transaction still running (pg_snapshot_xmin), in (settled_xid,
-- line) order: no line stamped by a transaction that commits later can ever sort before what it
-- returned, so a client that continues after the last line it got receives each line once.
-- Validation never stamps; a retry that sends a line back to the queue does not settle it.
alter table requests add column settled_xid xid8;
-- One entry per line, made once, when it settles: each read of results is a range of it.
create index requests_settled on requests (batch_id, settled_xid, line) where settled_xid is not null;
-- The lines that went to the error file, in line order: GET /v1/batches/{id}/requests filtered by
-- those states, and POST /v1/batches/{id}/retry, read only them. A line that succeeds never enters it.
create index requests_unsuccessful on requests (batch_id, line) where state in ('failed', 'expired', 'cancelled');

-- The lines of batches still running when this version arrives were settled without a stamp:
-- this transaction stamps them, so that their results stream is whole.
update requests set settled_xid = pg_current_xact_id()
 where state in ('succeeded', 'failed', 'expired', 'cancelled')
   and batch_id in (select id from batches where status in ('validating', 'in_progress', 'finalizing', 'cancelling'));

-- Each batch's secret for the ids of its lines (batch_req-…): an id is the line number encrypted
-- with it, so the output file, the error file, the results stream and the list of lines show the
-- same id for a line, and no id can be guessed from another. Never shown to anyone.
alter table batches add column line_key bytea not null default uuid_send(gen_random_uuid());
