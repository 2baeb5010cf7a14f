-- A batch's row is updated as its lines settle (its settlement sequence and counts, thousands of
-- times a second while it runs). New row versions go in the row's own page while it has room
-- (a HOT update, pruned again at the next visit); when it has none, they go to the table's end,
-- and the table grows: a million lines left 2.5 MB of batches for 20 rows, which VACUUM cannot
-- give back while a live row sits in the last page. Leaving three quarters of each page for
-- updates keeps each row's versions in its page.
alter table batches set (fillfactor = 25);
