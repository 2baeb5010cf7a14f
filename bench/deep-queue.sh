#!/usr/bin/env bash
# bench/deep-queue.sh: the engine with a deep queue.
#
# 1,000 in_progress batches holding 10,000,000 queued lines, put straight into the tables with
# SQL (then VACUUM ANALYZE): does the engine still settle lines as fast as with 40,000 queued
# lines? Two cases in one run, each on a fresh database: "small" (QUEUED_SMALL lines) and "big"
# (QUEUED_BIG lines), both over BATCHES batches in PROJECTS projects. For each: the service
# creates the schema (engine off), the tables are filled, the service starts again (engine on,
# -Xmx256m, fake upstream at LATENCY_MS, max-concurrency CONCURRENCY), and after a warm-up the
# script measures over a window: lines settled per second, claim and result-write p99 from the
# service's own histograms, heap (sampled every SAMPLE_S) and RSS, CPU per settled line,
# deadlocks in the log, leases taken over. Goals: big rate >= 0.9 x small rate, claim p99 <= 20 ms,
# write p99 <= 50 ms, heap within -Xmx256m throughout (no OutOfMemoryError, process alive).
#
#   bash bench/deep-queue.sh
#   QUEUED_BIG=1000000 WINDOW_S=30 bash bench/deep-queue.sh
#   BATCHES=20 QUEUED_SMALL=2000 QUEUED_BIG=20000 WARMUP_S=3 WINDOW_S=10 bash bench/deep-queue.sh
#
# The small queue empties in ~10 s at 4,000 lines/s, so each phase also ends early: the warm-up
# once WARMUP_MAX_PCT of the case's lines have settled, the window once STOP_AT_PCT have (the
# window actually used is printed). The batches are left unfinished in the database.
#
# Knobs: QUEUED_SMALL (40000), QUEUED_BIG (10000000), BATCHES (1000), PROJECTS (20), CASES
#        ("small big"), WARMUP_S (10), WINDOW_S (60), WARMUP_MAX_PCT (25), STOP_AT_PCT (90),
#        POLL_S (0.5: settled-line checks), SAMPLE_S (2: heap and RSS samples), LATENCY_MS (50),
#        CONCURRENCY (200), FILL_CHUNKS (10 insert statements for the lines), XMX (256m), plus
#        those in bench/lib.sh (BENCH_DB defaults to openbatch_deep here).
#        For looking at a filled database: FILL_ONLY=1 stops after the fill of each case (use one
#        case: they share the database) and leaves the database; SCHEMA_FROM=files creates the
#        schema by applying src/main/resources/db/migration/V*.sql with psql instead of starting
#        the service (no jar needed).
# Output: figures on stdout, a summary in bench/out/deep-queue-summary.txt, logs in bench/out/.
# Exit status 0 only if every check passed (whatever the goals).
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_deep}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUEUED_SMALL="${QUEUED_SMALL:-40000}"
QUEUED_BIG="${QUEUED_BIG:-10000000}"
BATCHES="${BATCHES:-1000}"
PROJECTS="${PROJECTS:-20}"
CASES="${CASES:-small big}"
WARMUP_S="${WARMUP_S:-10}"
WINDOW_S="${WINDOW_S:-60}"
WARMUP_MAX_PCT="${WARMUP_MAX_PCT:-25}"
STOP_AT_PCT="${STOP_AT_PCT:-90}"
POLL_S="${POLL_S:-0.5}"
SAMPLE_S="${SAMPLE_S:-2}"
LATENCY_MS="${LATENCY_MS:-50}"
CONCURRENCY="${CONCURRENCY:-200}"
FILL_CHUNKS="${FILL_CHUNKS:-10}"
FILL_ONLY="${FILL_ONLY:-0}"
SCHEMA_FROM="${SCHEMA_FROM:-service}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"
MIGRATIONS_DIR="$REPO_DIR/src/main/resources/db/migration"
((BATCHES >= 1 && PROJECTS >= 1 && PROJECTS <= 99)) || die "BATCHES must be >= 1 and PROJECTS 1..99"
((FILL_CHUNKS >= 1)) || die "FILL_CHUNKS must be >= 1"
[[ "$SCHEMA_FROM" == service || "$SCHEMA_FROM" == files ]] || die "SCHEMA_FROM must be service or files"

psql_bench() { psql_db -d "$BENCH_DB" "$@"; }
# over SECONDS LIMIT: true when SECONDS > LIMIT (floating point)
over() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# ---------- schema and fill ----------
# make_schema: an empty schema in a fresh BENCH_DB, by the service's own Flyway migrations
# (engine off: nothing runs), or with SCHEMA_FROM=files by applying the migration files.
make_schema() {
  recreate_db
  if [[ "$SCHEMA_FROM" == files ]]; then
    local f
    for f in "$MIGRATIONS_DIR"/V*__*.sql; do
      log "applying $(basename "$f")"
      psql_bench -f "$f" >/dev/null || die "$f failed"
    done
    return 0
  fi
  start_service deep-queue-schema "" 0 -Dopenbatch.engine.enabled=false
  stop_pid "$SVC_PID" service; SVC_PID=""
  log "schema created by the service (Flyway version $(psql_bench -c "select max(version::int) from flyway_schema_history where success" || echo '?'))"
}

# fill QUEUED: one default job per project, one input file row, BATCHES in_progress batches
# (round-robin over the projects) and QUEUED queued lines spread evenly over them, like a
# validated chat-completions batch (custom_id and content b<batch>-<line>); then VACUUM ANALYZE
# (so autovacuum does not wake up on the new rows during the measurement) and a CHECKPOINT (so
# the writing of the filled pages does not either). Sets FILL_S.
FILL_S=""
fill() {
  local queued="$1" now_s now_us base rem chunk lo hi t0 t
  now_s="$(date +%s)"; now_us="${EPOCHREALTIME/./}"
  base=$((queued / BATCHES)); rem=$((queued % BATCHES))
  t0="$(now)"
  log "filling: $PROJECTS projects, $BATCHES batches, $queued queued lines"
  psql_bench -v projects="$PROJECTS" -v batches="$BATCHES" -v base="$base" -v rem="$rem" \
    -v now_s="$now_s" -v now_us="$now_us" -v model="$MODEL" -v endpoint="$ENDPOINT" <<'SQL'
set synchronous_commit = off;

-- project p: 'project-01'..; its default job 'job-deepqueue00000000001'..
insert into jobs (id, project, name, model, completion_window, priority, is_default, created_at, created_us)
select format('job-deepqueue%s', lpad(p::text, 11, '0')),
       format('project-%s', lpad(p::text, 2, '0')),
       'default', null, '24h', 0, true, :now_s, :now_us + p
from generate_series(1, :projects) as p;

-- the input file every batch points at (its bytes are never read: the lines are already in)
insert into files (id, project, purpose, filename, bytes, status, created_at, created_us)
values ('file-deepqueueinput0000001', 'project-01', 'batch', 'deep-queue.jsonl', 0, 'processed', :now_s, :now_us);

-- batch b: 'batch-deepqueue000000001'.., in project (b-1) % projects + 1, holding base lines
-- (one more for the first rem batches), validated and in_progress on upstream 'fake'
insert into batches (id, project, job_id, endpoint, input_file_id, completion_window, status,
                     model, upstream, metadata, created_at, created_us, in_progress_at, expires_at,
                     total, validated)
select format('batch-deepqueue%s', lpad(b::text, 9, '0')),
       format('project-%s', lpad(p::text, 2, '0')),
       format('job-deepqueue%s', lpad(p::text, 11, '0')),
       :'endpoint', 'file-deepqueueinput0000001', '24h', 'in_progress',
       :'model', 'fake', '{"bench":"deep-queue"}', :now_s, :now_us + 1000 + b, :now_s, :now_s + 86400,
       :base + (b <= :rem)::int, true
from generate_series(1, :batches) as b,
     lateral (select (b - 1) % :projects + 1 as p) as project;
SQL
  # the lines, FILL_CHUNKS statements over consecutive batches; state 'queued' is the default
  for ((chunk = 0; chunk < FILL_CHUNKS; chunk++)); do
    lo=$((chunk * BATCHES / FILL_CHUNKS + 1)); hi=$(((chunk + 1) * BATCHES / FILL_CHUNKS))
    ((lo <= hi)) || continue
    t="$(now)"
    psql_bench -v lo="$lo" -v hi="$hi" -v base="$base" -v rem="$rem" -v model="$MODEL" <<'SQL'
set synchronous_commit = off;
insert into requests (batch_id, line, custom_id, body)
select format('batch-deepqueue%s', lpad(b::text, 9, '0')),
       line,
       format('b%s-%s', b, line),
       format('{"model":"%s","messages":[{"role":"user","content":"b%s-%s"}],"max_tokens":16}', :'model', b, line)
from generate_series(:lo, :hi) as b,
     lateral generate_series(1, :base + (b <= :rem)::int) as line;
SQL
    log "  lines of batches $lo..$hi in $(elapsed "$t")s"
  done
  t="$(now)"
  psql_bench -c "vacuum (analyze) jobs, files, batches, requests" -c "checkpoint"
  log "  vacuum analyze + checkpoint in $(elapsed "$t")s"
  FILL_S="$(elapsed "$t0")"
  log "filled in ${FILL_S}s: $(psql_bench -c "select count(*) || ' lines, ' || pg_size_pretty(pg_total_relation_size('requests')) || ' (requests with indexes), database ' || pg_size_pretty(pg_database_size(current_database())) from requests")"
}

# disk_check QUEUED: dies unless PostgreSQL's data directory has room for the lines (about 700
# bytes each with indexes, WAL and slack; measured ~400).
disk_check() {
  local need_kb=$(($1 * 700 / 1024 + 1048576)) dir avail_kb
  dir="$(psql_db -d postgres -c "show data_directory" 2>/dev/null || true)"
  if [[ -z "$dir" || ! -d "$dir" ]]; then
    log "WARNING: cannot see PostgreSQL's data directory (${dir:-?}); not checking disk space (need ~$((need_kb / 1048576)) GiB)"
    return 0
  fi
  avail_kb="$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')"
  log "disk: $((avail_kb / 1048576)) GiB free at $dir, ~$((need_kb / 1048576)) GiB needed for $1 lines"
  ((avail_kb > need_kb)) || die "not enough disk space at $dir: $((avail_kb / 1024)) MiB free, ~$((need_kb / 1024)) MiB needed"
}

# ---------- measuring ----------
settled() { psql_bench -c "select coalesce(sum(completed + failed), 0) from batches"; }
# heap_bytes METRICS_FILE: jvm_memory_used_bytes summed over the heap pools ("?" when absent)
heap_bytes() {
  awk '/^jvm_memory_used_bytes\{/ && /area="heap"/ { t += $NF; found = 1 } END { if (found) printf "%.0f\n", t; else print "?" }' "$1"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SVC_PID/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$SVC_PID/status" 2>/dev/null || echo 0; }
# run_case NAME QUEUED: schema, fill, service, warm-up, window; figures into F[NAME.*]
declare -A F=()
run_case() {
  local name="$1" queued="$2" t_start t s0 s1 t0 t1 cpu0 cpu1 m0 m1 last_sample heap heap_max=0 rss rss_max=0 n warm_limit stop_limit
  log "===== case $name: $queued queued lines in $BATCHES batches, $PROJECTS projects ====="
  disk_check "$queued"
  make_schema
  fill "$queued"
  F[$name.fill]="$FILL_S"
  if [[ "$FILL_ONLY" == 1 ]]; then return 0; fi

  curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
  start_service "deep-queue-$name" "$MODEL" "$CONCURRENCY"
  t_start="$(now)"
  warm_limit=$((queued * WARMUP_MAX_PCT / 100)); stop_limit=$((queued * STOP_AT_PCT / 100))

  # warm-up: WARMUP_S, or until WARMUP_MAX_PCT of the lines have settled
  while :; do
    s0="$(settled)"; t0="$(now)"
    if over "$(elapsed "$t_start" "$t0")" "$WARMUP_S" || ((s0 >= warm_limit)); then break; fi
    kill -0 "$SVC_PID" 2>/dev/null || die "the service exited during the warm-up; see $SVC_LOG"
    sleep "$POLL_S"
  done
  m0="$OUT_DIR/deep-queue-$name-metrics-start.txt"; m1="$OUT_DIR/deep-queue-$name-metrics-end.txt"
  metrics_text >"$m0"
  cpu0="$(cpu_snapshot "$SVC_PID")"
  log "window starts after $(elapsed "$t_start" "$t0")s of warm-up: $s0 lines settled, $((queued - s0)) left"

  # window: WINDOW_S, or until STOP_AT_PCT of the lines have settled; heap and RSS every SAMPLE_S
  last_sample=0
  while :; do
    if over "$(elapsed "$last_sample")" "$SAMPLE_S"; then
      last_sample="$(now)"
      heap="$(metrics_text | heap_bytes /dev/stdin)"
      [[ "$heap" == "?" ]] || ((heap <= heap_max)) || heap_max="$heap"
      rss="$(rss_kb)"; ((rss <= rss_max)) || rss_max="$rss"
    fi
    sleep "$POLL_S"
    s1="$(settled)"; t1="$(now)"
    if over "$(elapsed "$t0" "$t1")" "$WINDOW_S" || ((s1 >= stop_limit)); then break; fi
    kill -0 "$SVC_PID" 2>/dev/null || break
  done
  cpu1="$(cpu_snapshot "$SVC_PID")"
  metrics_text >"$m1"
  heap="$(heap_bytes "$m1")"; [[ "$heap" == "?" ]] || ((heap <= heap_max)) || heap_max="$heap"
  n=$((s1 - s0))
  log "window: $n lines settled in $(elapsed "$t0" "$t1")s"

  F[$name.alive]=0; kill -0 "$SVC_PID" 2>/dev/null && F[$name.alive]=1
  F[$name.warmup]="$(elapsed "$t_start" "$t0")"
  F[$name.window]="$(elapsed "$t0" "$t1")"
  F[$name.left0]=$((queued - s0)); F[$name.left1]=$((queued - s1))
  F[$name.settled]="$n"
  F[$name.rate]="$(calc "$n / ${F[$name.window]}")"
  read -r F["$name.claim_p99"] F["$name.claims"] < <(hist_p99 "$m0" "$m1" openbatch_claim_duration_seconds)
  read -r F["$name.write_p99"] F["$name.writes"] < <(hist_p99 "$m0" "$m1" openbatch_write_duration_seconds)
  read -r F["$name.choose_p99"] F["$name.chooses"] < <(hist_p99 "$m0" "$m1" openbatch_choose_duration_seconds)
  F[$name.heap_max]="$([[ "$heap_max" == 0 ]] && echo "?" || echo "$((heap_max / 1048576))")"
  F[$name.rss_max]=$((rss_max / 1024)); F[$name.hwm]=$(($(hwm_kb) / 1024))
  read -r F["$name.cpu_svc"] F["$name.cpu_pg"] < <(cpu_per_line "$cpu0" "$cpu1" "$n")
  F[$name.deadlocks]="$(log_deadlocks "$SVC_LOG")"
  F[$name.oom]="$(grep -c OutOfMemoryError "$SVC_LOG" || true)"
  F[$name.taken_over]="$(metric_sum "$(cat "$m1")" openbatch_leases_taken_over_total)"
  F[$name.max_in_flight]="$(jfield "$(fake_stats)" .max_in_flight)"
  F[$name.log]="$SVC_LOG"

  stop_pid "$SVC_PID" service; SVC_PID=""
}

# ---------- main ----------
if [[ "$FILL_ONLY" != 1 ]]; then
  ensure_build
  start_fake deep-queue --latency-ms "$LATENCY_MS"
elif [[ "$SCHEMA_FROM" == service ]]; then
  ensure_build
fi
for c in $CASES; do
  case "$c" in
    small) run_case small "$QUEUED_SMALL" ;;
    big) run_case big "$QUEUED_BIG" ;;
    *) die "unknown case '$c' (small, big)" ;;
  esac
done
if [[ "$FILL_ONLY" == 1 ]]; then
  log "FILL_ONLY=1: database $BENCH_DB is left filled (drop it with: psql -h $PGHOST -U $PGUSER -c 'drop database $BENCH_DB')"
  exit 0
fi

# ---------- checks and summary ----------
ok=1
expect() {
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "check ok:     $d"; else log "check FAILED: $d"; ok=0; fi
}
goal() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { if (a !~ /^[0-9.]+$/) { print "?"; exit } print ((op == "<=" ? a <= b : a >= b) ? "met" : "MISSED") }'; }
for c in $CASES; do
  expect "$c: lines settled in the window (${F[$c.settled]})" [ "${F[$c.settled]}" -gt 0 ]
  expect "$c: the service alive at the end of the window, no OutOfMemoryError in its log (${F[$c.oom]})" [ "${F[$c.alive]}/${F[$c.oom]}" = 1/0 ]
  expect "$c: no deadlock in the service log (${F[$c.deadlocks]})" [ "${F[$c.deadlocks]}" = 0 ]
  expect "$c: openbatch_leases_taken_over_total is 0 (is ${F[$c.taken_over]})" [ "${F[$c.taken_over]}" = 0 ]
  expect "$c: upstream concurrency never above max-concurrency $CONCURRENCY (max ${F[$c.max_in_flight]})" [ "${F[$c.max_in_flight]}" -le "$CONCURRENCY" ]
done

ratio="n/a"
if [[ -n "${F[small.rate]:-}" && -n "${F[big.rate]:-}" ]] && over "${F[small.rate]}" 0; then
  ratio="$(calc "${F[big.rate]} / ${F[small.rate]}")"
fi
# pad TEXT WIDTH: TEXT and spaces up to WIDTH characters (printf pads bytes: ≤ and µ take two or three)
pad() {
  local LC_ALL=C.UTF-8
  local s="$1" n
  n=$(($2 - ${#s})); ((n > 0)) || n=0
  printf '%s%*s' "$s" "$n" ""
}
# ms P99: "P99 ms", or P99 as it is when it is not a number (n/a, inf)
ms() { if [[ "$1" =~ ^[0-9.]+$ ]]; then printf '%s ms' "$1"; else printf '%s' "$1"; fi; }
# one column per case: CELL[case.i] is row i's figure, LABELS[i] its label
LABELS=("case" "queued lines at the fill" "fill (+ vacuum analyze, checkpoint)" "warm-up / window"
  "lines queued at window start / end" "lines settled per second" "claim p99 (goal ≤ 20 ms)"
  "write p99 (goal ≤ 50 ms)" "choose p99 (no goal)" "heap max (sampled every ${SAMPLE_S} s)" "RSS max in window / peak"
  "CPU per settled line: openbatch" "CPU per settled line: PostgreSQL"
  "deadlocks in the log / taken over" "upstream max in flight")
declare -A CELL=()
for c in $CASES; do
  cells=("$c" "$([[ $c == small ]] && echo "$QUEUED_SMALL" || echo "$QUEUED_BIG")"
    "${F[$c.fill]} s"
    "${F[$c.warmup]} s / ${F[$c.window]} s"
    "${F[$c.left0]} / ${F[$c.left1]}"
    "${F[$c.rate]}  (${F[$c.settled]} lines)"
    "$(ms "${F[$c.claim_p99]}") ($(goal "${F[$c.claim_p99]}" "<=" 20), ${F[$c.claims]} claims)"
    "$(ms "${F[$c.write_p99]}") ($(goal "${F[$c.write_p99]}" "<=" 50), ${F[$c.writes]} writes)"
    "$(ms "${F[$c.choose_p99]}") (${F[$c.chooses]} times)"
    "${F[$c.heap_max]} MiB of -Xmx$XMX"
    "${F[$c.rss_max]} / ${F[$c.hwm]} MiB"
    "${F[$c.cpu_svc]} µs"
    "${F[$c.cpu_pg]} µs"
    "${F[$c.deadlocks]} / ${F[$c.taken_over]}"
    "${F[$c.max_in_flight]}")
  for i in "${!cells[@]}"; do CELL[$c.$i]="${cells[$i]}"; done
done
summary="$(
  echo "openbatch deep-queue benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX)"
  echo "  $BATCHES in_progress batches in $PROJECTS projects; upstream latency ${LATENCY_MS} ms, max-concurrency $CONCURRENCY"
  for i in "${!LABELS[@]}"; do
    line="  $(pad "${LABELS[$i]}" 36)"
    for c in $CASES; do line+=" $(pad "${CELL[$c.$i]}" 36)"; done
    printf '%s\n' "${line%"${line##*[! ]}"}"
  done
  printf '  %s %s\n' "$(pad "ratio big / small rate (goal ≥ 0.9)" 36)" "$ratio ($(goal "$ratio" ">=" 0.9))"
  printf '  %s %s\n' "$(pad "checks" 36)" "$([[ $ok == 1 ]] && echo "all passed" || echo "SOME FAILED (see above)")"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/deep-queue-summary.txt"

# the EXIT trap stops the fake upstream (the service is already stopped)
[[ $ok == 1 ]]
