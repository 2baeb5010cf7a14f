-- Ingest in one pass (issue 13): an upload of a batch file is cut into chunks at line ends and
-- each line is read once as it arrives; what validation needs of it is kept here, so that creating
-- a batch reads this index, not the file, and PostgreSQL copies the bodies out of the chunks.

-- One row per line of a batch file that is not blank, up to the point where every batch's verdict
-- is sealed (see FileIngest). seq/last_seq: the chunks where the body starts and ends (the same
-- unless the line is longer than a chunk); body_at: the body's offset in chunk seq, body_length
-- its bytes. The rest is what the line says whatever the batch (custom_id, url, model), or the
-- error it has of its own: checked before the url check, or after it (error_late).
create table file_lines (
    file_id       text    not null references files (id) on delete cascade,
    line          integer not null,
    seq           integer not null,
    last_seq      integer not null,
    body_at       integer not null,
    body_length   integer not null,
    custom_id     text,
    url           text,
    model         text,
    error_code    text,
    error_message text,
    error_param   text,
    error_late    boolean not null,
    primary key (file_id, line)
);
-- the lines whose body lies in one chunk, chunk by chunk (the copy into requests)
create index file_lines_chunk on file_lines (file_id, seq);

-- The limits the index was made under and whether it holds every line ('v1 <max-line-bytes>
-- <max-batch-lines> <max-reported-errors> complete|stopped'); null: no index (another purpose, or a
-- file stored before V6), and validation reads the file itself.
alter table files add column line_index text;
