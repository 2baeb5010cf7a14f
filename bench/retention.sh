#!/usr/bin/env bash
# bench/retention.sh: does a database that ran LINES lines return to its size once their
# retention has passed? (issue 21)
#
# A fresh database, the service started on it (migrations applied): size "before". Then LINES
# chat lines in batches of BATCH_LINES against a fake upstream: size "after the run". Then the
# retention period passes: the script stands in for the clock (30 days, which it cannot wait) by
# setting every batch's data expiry and every file's expires_at to the past, in the database, as
# the days would; the service's own housekeeping jobs (openbatch.retention.interval=2s here) then
# purge, in their small transactions, and the script waits until nothing is overdue and every
# line is gone. `VACUUM` (plain, as autovacuum does: no exclusive lock; run twice, see (c)) follows:
# size "after retention + VACUUM". Before the VACUUM it waits for the service's index upkeep (the
# same 2 s interval) to rebuild the indexes the purge emptied: plain VACUUM frees index pages for
# reuse but gives them back to the file system only through such a rebuild. ROUNDS=2 (the default)
# does it all twice: the second round says whether it holds for a database that keeps running batches.
#
#   bash bench/retention.sh                      # 1,000,000 lines (20 batches of 50,000)
#   LINES=100000 bash bench/retention.sh
#
# Knobs: LINES (1000000), BATCH_LINES (50000), ROUNDS (2), LATENCY_MS (2), CONCURRENCY (256),
#        PURGE_TIMEOUT_S (1800), BATCH_TIMEOUT_S (3600), plus those in bench/lib.sh.
# Output: figures on stdout, a summary in bench/out/retention-summary.txt, logs in bench/out/.
# Exit status 0 only if every check passed.
set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LINES="${LINES:-1000000}"
BATCH_LINES="${BATCH_LINES:-50000}"
ROUNDS="${ROUNDS:-2}"
LATENCY_MS="${LATENCY_MS:-2}"
CONCURRENCY="${CONCURRENCY:-256}"
PURGE_TIMEOUT_S="${PURGE_TIMEOUT_S:-1800}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-3600}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"
SUMMARY=()
FAILED=0

db_bytes() { psql_db -d "$BENCH_DB" -c "select pg_database_size(current_database())"; }
mib() { awk -v b="$1" 'BEGIN{printf "%.1f MiB", b/1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
say() { log "$*"; SUMMARY+=("$*"); }
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then say "PASS $1"; else say "FAIL $1"; FAILED=1; fi
}
# the largest relations, tables with their TOAST and indexes apart
largest() {
  psql_db -d "$BENCH_DB" -F $'\t' -c "select c.relname, c.relkind, pg_relation_size(c.oid) from pg_class c
      join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('public', 'pg_toast') and c.relkind in ('r', 'i', 't')
      order by 3 desc limit 8" | awk -F'\t' '{ printf "        %-40s %s %8.1f MiB\n", $1, $2, $3/1048576 }'
}

ensure_build
start_fake retention --latency-ms "$LATENCY_MS"
recreate_db
extra=("-Dopenbatch.retention.interval=2s")
if ((BATCH_LINES > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$BATCH_LINES"); fi
start_service retention "$MODEL" "$CONCURRENCY" "${extra[@]}"

psql_db -d "$BENCH_DB" -c "vacuum" >/dev/null
BEFORE="$(db_bytes)"
say "database before any line: $(mib "$BEFORE") ($BEFORE bytes)"

batches_n=$(((LINES + BATCH_LINES - 1) / BATCH_LINES))
for ((round = 1; round <= ROUNDS; round++)); do
  start_size="$(db_bytes)"
  # (a) the lines: one batch after another (the engine runs each at full speed; a queue of them changes nothing here)
  t0="$(now)"
  left="$LINES"
  for ((b = 1; b <= batches_n; b++)); do
    n=$((left < BATCH_LINES ? left : BATCH_LINES)); left=$((left - n))
    input="$OUT_DIR/retention-input-$n.jsonl"
    [[ -f "$input" ]] || gen_chat_input "$n" "$input" "r" "$MODEL"
    id="$(jfield "$(create_batch "$(upload_file "$input")" "$ENDPOINT")" .id)"
    wait_batch "$id" "$BATCH_TIMEOUT_S" || die "batch $id did not end"
    [[ "$BATCH_STATUS" == completed ]] || die "batch $id ended $BATCH_STATUS"
    log "round $round: batch $b/$batches_n ($id, $n lines) completed"
  done
  RUN_S="$(elapsed "$t0")"
  psql_db -d "$BENCH_DB" -c "checkpoint" >/dev/null
  AFTER_RUN="$(db_bytes)"
  rows="$(psql_db -d "$BENCH_DB" -c "select count(*) from requests")"
  say "round $round: $LINES lines in $RUN_S s; database after the run: $(mib "$AFTER_RUN") ($rows rows in requests)"

  # (b) retention passes: every expiry set to the past, as the clock would in 30 days; the service purges
  purged0="$(metric_sum "$(metrics_text)" openbatch_retention_purged_rows_total)"
  now_s="$(date +%s)"
  psql_db -d "$BENCH_DB" -c "update batches set data_expires_at = $now_s - 1 where data_expires_at is not null and not data_purge_done;
                             update files set expires_at = $now_s - 1 where expires_at is not null" >/dev/null
  t1="$(now)"
  while :; do
    left_rows="$(psql_db -d "$BENCH_DB" -c "select (select count(*) from requests) + (select count(*) from files)
                                              + (select count(*) from batches where data_expires_at is not null and not data_purge_done)")"
    ((left_rows == 0)) && break
    awk -v e="$(elapsed "$t1")" -v m="$PURGE_TIMEOUT_S" 'BEGIN{exit !(e>m)}' && die "retention left $left_rows rows after ${PURGE_TIMEOUT_S}s"
    sleep 1
  done
  PURGE_S="$(elapsed "$t1")"
  m="$(metrics_text)"
  purged=$(( $(metric_sum "$m" openbatch_retention_purged_rows_total) - purged0 ))
  say "round $round: retention deleted $purged rows (lines and files) in $PURGE_S s (with the service's 2 s interval)"
  check "round $round: every line and file gone, every batch still there ($batches_n per round)" \
    test "$(psql_db -d "$BENCH_DB" -c "select count(*) from batches")" -eq $((batches_n * round))
  check "round $round: openbatch_retention_overdue_seconds is 0 once done" \
    test "$(metric_sum "$(metrics_text)" openbatch_retention_overdue_seconds)" -eq 0

  # (c) the service's index upkeep rebuilds the indexes the purge emptied (every 2 s here, as
  # retention; REINDEX INDEX CONCURRENTLY): wait until the emptied tables' indexes stop shrinking
  t2="$(now)"; last=-1; same=0
  while ((same < 3)); do
    ix="$(psql_db -d "$BENCH_DB" -c "select coalesce(sum(pg_indexes_size(c.oid)), 0) from pg_class c where c.relname = any(array['requests','file_lines','file_chunks','files'])")"
    if [[ "$ix" == "$last" ]]; then same=$((same + 1)); else same=0; last="$ix"; fi
    awk -v e="$(elapsed "$t2")" -v m="$PURGE_TIMEOUT_S" 'BEGIN{exit !(e>m)}' && break
    sleep 2
  done
  rebuilt="$(metric_sum "$(metrics_text)" openbatch_index_rebuilds_total)"
  say "round $round: index upkeep settled after $(elapsed "$t2") s; $rebuilt index rebuild(s) by the service so far"

  # (d) VACUUM, and the sizes. Twice, as autovacuum comes back: a btree page that one VACUUM
  # empties and deletes becomes reusable only once no transaction can still need it, and it is
  # the next VACUUM that records it as free (without that, the next round's lines grow the
  # indexes again instead of using their freed pages)
  psql_db -d "$BENCH_DB" -c "vacuum" >/dev/null
  psql_db -d "$BENCH_DB" -c "vacuum" >/dev/null
  psql_db -d "$BENCH_DB" -c "checkpoint" >/dev/null
  AFTER="$(db_bytes)"
  say "round $round: database after retention + VACUUM: $(mib "$AFTER") = $(ratio "$AFTER" "$BEFORE") x before any line, $(ratio "$AFTER" "$start_size") x the round's start"
  say "        largest relations now:"
  while IFS= read -r l; do say "$l"; done < <(largest)
  check "round $round: after retention + VACUUM, within 10 % of the size before any line" \
    awk -v a="$AFTER" -v b="$BEFORE" 'BEGIN{exit !(a <= 1.1*b)}'
done

printf '%s\n' "${SUMMARY[@]}" >"$OUT_DIR/retention-summary.txt"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
