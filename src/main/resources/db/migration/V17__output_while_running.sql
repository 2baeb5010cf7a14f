-- Output written while the batch runs (issue 22).
--
-- Until now a batch's output and error files were written at its end, in one pass over its lines:
-- finalizing took seconds for a large batch. Now an engine job appends the lines that settled to
-- the two files while the batch runs, in settlement order (the order of the results stream), one
-- short transaction a step, and the batch's end appends only the lines settled since the last
-- step. batches.output_seq is the mark: every line of the batch numbered up to it
-- (requests.settled_seq) is in its files, none after it; a step advances it in the transaction
-- that appends the lines, so a crash at any moment leaves the files a consistent prefix.
alter table batches add column output_seq bigint not null default 0;

-- A batch's output or error file being written while the batch runs is hidden from every read as
-- an upload in progress is (V14): its files.upload_until is 9223372036854775807 (never abandoned
-- by time, so the sweep of dead uploads leaves it), and its end sets it null with the file's
-- expiry, as a publish does.
