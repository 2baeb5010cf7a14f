-- Uploads in short transactions (issue 21).
--
-- Until now an upload went into the database in one transaction that stayed open, holding an xid
-- and a connection, for as long as the client took to send its body: a slow client pinned vacuum's
-- horizon and a connection. Now the file's row is inserted at the start, its chunks and line index
-- are committed a few at a time as they arrive, and a last short transaction makes the file
-- visible. Until then the row is an upload in progress, which no read of the API sees.

-- Not null: an upload in progress, and when (epoch milliseconds) it is abandoned for sure: its
-- process cuts it at openbatch.limits.upload-deadline, so a row still here past this time was left
-- by a process that died, and is deleted with its chunks and index. Null: a file (every row before
-- this version, and every file a batch writes).
alter table files add column upload_until bigint;

-- The uploads in progress, by when they are abandoned (the sweep of dead processes' uploads).
create index files_uploading on files (upload_until) where upload_until is not null;
