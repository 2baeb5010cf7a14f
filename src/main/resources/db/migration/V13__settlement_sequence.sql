-- Results no other transaction can hold back (issue 21).
--
-- Until now a settled line was stamped with its transaction's id, and the results stream returned
-- only lines stamped below the oldest transaction still running on the whole server
-- (pg_snapshot_xmin): one long transaction anywhere (a slow upload, another program's, in another
-- database) held back every tenant's results. Now each batch numbers its settled lines: a
-- statement that settles lines locks the batch's row and takes the next numbers from
-- batches.settled_seq. Two writers of one batch take their numbers one after the other, so the
-- one with the smaller numbers has committed before the other could take its own: a snapshot that
-- sees a number sees every smaller one, and the stream returns everything it sees.
alter table batches add column settled_seq bigint not null default 0;
alter table requests add column settled_seq bigint;

-- Lines settled before this version keep the order the stream gave them.
with s as (
  select ctid as rid, row_number() over (partition by batch_id order by settled_xid, line) as n
    from requests where settled_xid is not null
)
update requests r set settled_seq = s.n from s where r.ctid = s.rid;
update batches b set settled_seq = m.n
  from (select batch_id, max(settled_seq) as n from requests where settled_seq is not null group by batch_id) m
 where b.id = m.batch_id;

drop index requests_settled;
alter table requests drop column settled_xid;
-- One entry per line, made once, when it settles: each read of results is a range of it.
create index requests_settled on requests (batch_id, settled_seq) where settled_seq is not null;
