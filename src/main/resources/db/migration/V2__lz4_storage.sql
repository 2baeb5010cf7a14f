-- Store bodies and file bytes compressed with lz4 (fast enough to be cheaper than the I/O it
-- saves; JSON lines shrink several times). Lines up to a page stay inline, not toasted.
alter table requests alter column body set storage extended;
alter table requests alter column body set compression lz4;
alter table requests alter column response set compression lz4;
alter table requests set (toast_tuple_target = 8160);
alter table file_chunks alter column data set storage extended;
alter table file_chunks alter column data set compression lz4;
