-- Bodies stored once (issue 22).
--
-- Until now every request body was stored twice: in the input file's chunks, and copied into
-- requests.body when the batch was validated. Now a line validated from the file's line index
-- keeps only where its body is: chunk body_seq of its batch's input file, body_length bytes from
-- byte body_at. The engine's claim cuts the bodies out of the chunks it claims lines from, each
-- chunk read once a claim (LineStore.CLAIM). requests.body stays for the lines that have no place
-- of their own in one chunk: lines longer than a chunk, lines of a file validated without an
-- index, and lines written before this migration. Exactly one of body and body_seq is set.
--
-- The input file of a batch that still runs cannot be deleted (FileService, FileStore's expiry);
-- deleting it afterwards deletes the bodies of its batches' lines with it, so a retry of such a
-- batch is refused (input_file_deleted) rather than sending lines without a body.
alter table requests alter column body drop not null;
alter table requests add column body_seq integer;
alter table requests add column body_at integer;
alter table requests add column body_length integer;
alter table requests add constraint requests_body_once check ((body is null) <> (body_seq is null));

-- The index of a file's lines by chunk served only the copy of the bodies out of the chunks.
drop index file_lines_chunk;
