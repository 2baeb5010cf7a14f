#!/usr/bin/env bash
# bench/ceiling.sh: how fast can anything go against the fake upstream on this box?
#
# throughput.sh and many-batches.sh report their rate against the nominal ceiling
# CONCURRENCY / LATENCY (200 / 50 ms = 4,000 lines/s). This script measures what the box itself
# allows: a bare Node client (bench/loadgen.mjs: no database, no validation, no files) keeps
# CONCURRENCY requests in flight against the same fake upstream, first on an otherwise idle box,
# then while other processes (bench/burn.mjs, two of them, one per core) keep BURN_CORES cores
# busy, as openbatch and PostgreSQL do during a benchmark. It prints each rate and its ratio to
# the nominal ceiling, and the CPU the goals of issue 8 leave to the engine and the database at
# GOAL_RATIO of the ceiling: (GOAL_OPENBATCH_US + GOAL_PG_US) per line, less what the bare client
# itself spends per request (an engine has to send its requests too). The rate measured with
# that load is the most an engine within those CPU goals can reach here.
#
# Then the database's floor for one batch of LINES lines: `psql \copy` of the lines into a table
# shaped like `requests` (the least any validation must write) and `\copy` of as many
# 600-byte results out of it in line order (the least any output file must read), each timed.
# A batch can finish no sooner than (copy in) + LINES / (rate) + (copy out), unless its output is
# written while it runs.
#
#   bash bench/ceiling.sh
#   SECONDS_EACH=15 BURN_CORES="0.5 1.0" bash bench/ceiling.sh
#
# Knobs: LATENCY_MS (50), CONCURRENCY (200), SECONDS_EACH (8), RUNS (2 per load), BURN_CORES
#        (extra loads, cores; default "0.25 0.5" plus the goals' budget), GOAL_RATIO (0.90),
#        GOAL_OPENBATCH_US (250), GOAL_PG_US (100), LINES (40000), plus those in bench/lib.sh
#        (BENCH_DB defaults to openbatch_ceiling here).
# Output: figures on stdout and bench/out/ceiling-summary.txt. Exit status 0 when every run
# measured (whatever the rates).
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_ceiling}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LATENCY_MS="${LATENCY_MS:-50}"
CONCURRENCY="${CONCURRENCY:-200}"
SECONDS_EACH="${SECONDS_EACH:-8}"
RUNS="${RUNS:-2}"
GOAL_RATIO="${GOAL_RATIO:-0.90}"
GOAL_OPENBATCH_US="${GOAL_OPENBATCH_US:-250}"
GOAL_PG_US="${GOAL_PG_US:-100}"
CEILING="$(calc "$CONCURRENCY * 1000 / $LATENCY_MS")"

start_fake ceiling --latency-ms "$LATENCY_MS" --quiet
URL="$FAKE_URL/v1/chat/completions"
BURN_PIDS=()
stop_burn() { local p; for p in "${BURN_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; BURN_PIDS=(); }
CLEANUP_HOOKS+=(stop_burn)

# one_run CORES: prints "rate p50 p99 cpu_us_per_request" of one loadgen run under CORES of extra load
one_run() {
  local cores="$1" duty out
  if [[ "$cores" != 0 ]]; then
    duty="$(calc "$cores / 2")"
    node "$BENCH_DIR/burn.mjs" --duty "$duty" --seconds $((SECONDS_EACH + 3)) & BURN_PIDS+=($!)
    node "$BENCH_DIR/burn.mjs" --duty "$duty" --seconds $((SECONDS_EACH + 3)) & BURN_PIDS+=($!)
    sleep 1
  fi
  out="$(node "$BENCH_DIR/loadgen.mjs" --url "$URL" --concurrency "$CONCURRENCY" --seconds "$SECONDS_EACH")"
  stop_burn
  jfields "$out" .rate_per_s .latency_ms.p50 .latency_ms.p99 .cpu_us_per_request | tr '\t' ' '
}

SUMMARY=()
say() { printf '%s\n' "$*"; SUMMARY+=("$*"); }

log "bare client alone, $RUNS runs of ${SECONDS_EACH}s"
client_us=0; best_alone=0
ROWS=()
for ((i = 1; i <= RUNS; i++)); do
  read -r rate p50 p99 cpu < <(one_run 0)
  ROWS+=("0 $rate $p50 $p99")
  client_us="$(calc "$client_us + $cpu / $RUNS")"
  best_alone="$(awk -v a="$best_alone" -v b="$rate" 'BEGIN{print (b > a ? b : a)}')"
done
goal_rate="$(calc "$GOAL_RATIO * $CEILING")"
budget="$(calc "($GOAL_OPENBATCH_US + $GOAL_PG_US - $client_us) * $goal_rate / 1000000")"
log "the client spends $client_us µs per request; the goals leave $budget cores beyond it at $goal_rate lines/s"

for cores in ${BURN_CORES:-0.25 0.5} "$budget"; do
  for ((i = 1; i <= RUNS; i++)); do
    log "bare client with $cores cores busy elsewhere (run $i)"
    read -r rate p50 p99 cpu < <(one_run "$cores")
    ROWS+=("$cores $rate $p50 $p99")
  done
done

LINES="${LINES:-40000}"
recreate_db
log "database floor: \\copy of $LINES lines in and out"
TSV="$OUT_DIR/ceiling-lines.tsv"
awk -v n="$LINES" 'BEGIN { r = sprintf("%600s", ""); gsub(/ /, "x", r);
  for (i = 1; i <= n; i++) printf "batch-ceiling\t%d\treq-%d\t{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"hello %d\"}],\"max_tokens\":16}\t%s\n", i, i, i, r }' >"$TSV"
psql_db -d "$BENCH_DB" -c "create table requests (batch_id text, line int, custom_id text not null, body text not null,
  response text, state text not null default 'queued', primary key (batch_id, line))"
t0="$(now)"
psql_db -d "$BENCH_DB" -c "\\copy requests (batch_id, line, custom_id, body, response) from '$TSV'"
copy_in="$(elapsed "$t0")"
t0="$(now)"
psql_db -d "$BENCH_DB" -c "\\copy (select line, custom_id, response from requests where batch_id = 'batch-ceiling' order by line) to '/dev/null'"
copy_out="$(elapsed "$t0")"
rm -f "$TSV"
psql_db -d postgres -c "drop database if exists \"$BENCH_DB\"" >/dev/null || true

say "ceiling of this box  ($(date -u +%FT%TZ), $(nproc) cores, fake upstream at $LATENCY_MS ms, $CONCURRENCY in flight)"
say "  nominal ceiling                      $CEILING requests/s"
say "  bare client's own CPU                $client_us µs per request"
say "  CPU the goals leave at $GOAL_RATIO      ($GOAL_OPENBATCH_US + $GOAL_PG_US - $client_us) µs x $goal_rate lines/s = $budget cores"
say "  extra load (cores)   rate (req/s)   ratio   latency p50 / p99 (ms)"
for row in "${ROWS[@]}"; do
  read -r cores rate p50 p99 <<<"$row"
  say "$(printf '  %-20s %-14s %-7s %s / %s' "$cores" "$rate" "$(calc "$rate / $CEILING")" "$p50" "$p99")"
done
budget_rate="$(printf '%s\n' "${ROWS[@]}" | awk -v c="$budget" '$1 == c { s += $2; n++ } END { printf "%.0f", s / n }')"
say "  database floor for $LINES lines     copy in $copy_in s, copy out $copy_out s"
say "  best create -> completed within the CPU goals: $copy_in + $LINES / $budget_rate + $copy_out s, a ratio of $(calc "$LINES / ($copy_in + $LINES / $budget_rate + $copy_out) / $CEILING")"
printf '%s\n' "${SUMMARY[@]}" >"$OUT_DIR/ceiling-summary.txt"
