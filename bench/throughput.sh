#!/usr/bin/env bash
# bench/throughput.sh: the engine benchmark.
#
# One batch of LINES chat-completion lines against a fake upstream that answers every request
# after LATENCY_MS, with the upstream capped at CONCURRENCY requests in flight. The best any
# engine can do is CONCURRENCY / LATENCY = 200 / 0.05 s = 4,000 lines/s; the script reports how
# close openbatch gets (headline: create -> completed, what a user sees), and, since that limit is
# out of reach on a small box, the same rates against a bare client measured in the same run
# (bench/loadgen.mjs keeping CONCURRENCY in flight to the same fake for BARE_S seconds once the
# batch is done; issue 22's goals: ≥ 0.90 create -> completed, ≥ 0.95 in_progress -> completed),
# the CPU time per line of openbatch and of PostgreSQL (goals ≤ 100 and ≤ 70 µs), and checks that every line was sent exactly once and answered
# once, with no deadlock in the service log and no lease taken over.
#
#   bash bench/throughput.sh
#   LINES=10000 CONCURRENCY=100 LATENCY_MS=20 XMX=512m bash bench/throughput.sh
#
# Knobs: LINES (40000), WARMUP_LINES (40000; 0 = measure on a cold JVM), LATENCY_MS (50), CONCURRENCY (200), XMX (256m), POLL_S (0.2),
#        FINAL_POLL_S (0.05: while validating and from 99 % settled on),
#        BARE_S (10), PROGRESS_EVERY_S (3), BATCH_TIMEOUT_S (1800), plus those in bench/lib.sh.
# Output: figures on stdout, a summary in bench/out/throughput-summary.txt, logs in bench/out/.
# Exit status 0 only if every check passed.
set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LINES="${LINES:-40000}"
WARMUP_LINES="${WARMUP_LINES:-40000}"
LATENCY_MS="${LATENCY_MS:-50}"
BARE_S="${BARE_S:-10}"
CONCURRENCY="${CONCURRENCY:-200}"
POLL_S="${POLL_S:-0.2}"
FINAL_POLL_S="${FINAL_POLL_S:-0.05}"
PROGRESS_EVERY_S="${PROGRESS_EVERY_S:-3}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-1800}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"

# (a) build if needed
ensure_build

# (b) fake upstream
start_fake throughput --latency-ms "$LATENCY_MS"

# (c) fresh database
recreate_db

# (d) the service
extra=()
if ((LINES > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$LINES"); fi
start_service throughput "$MODEL" "$CONCURRENCY" ${extra[@]+"${extra[@]}"}

# (e0) warm-up: a first batch on the fresh JVM (its just-in-time compiler takes a core for the
# first seconds), timed and printed as the cold figure; then the fake's counters are zeroed so the
# checks below see only the measured batch. WARMUP_LINES=0 skips it (the measured run is cold).
warm_up throughput "$WARMUP_LINES" "$MODEL" "$ENDPOINT"

# (e) input file, upload, batch
INPUT="$OUT_DIR/throughput-input-$LINES.jsonl"
log "generating $LINES lines in $INPUT"
awk -v n="$LINES" -v model="$MODEL" -v url="$ENDPOINT" 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "{\"custom_id\":\"req-%d\",\"method\":\"POST\",\"url\":\"%s\",\"body\":{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hello %d\"}],\"max_tokens\":16}}\n", i, url, model, i
}' >"$INPUT"

t_up="$(now)"
FILE_ID="$(upload_file "$INPUT")"
log "uploaded $(wc -c <"$INPUT") bytes as $FILE_ID in $(elapsed "$t_up")s"

fresh_checkpoint
cpu0="$(cpu_snapshot "$SVC_PID")"
metrics_text >"$OUT_DIR/throughput-metrics-0.txt"
t_create="$(now)"
batch="$(create_batch "$FILE_ID" "$ENDPOINT")"
BATCH_ID="$(jfield "$batch" .id)"
[[ "$BATCH_ID" == batch* ]] || die "create answered no batch id: $batch"
log "created $BATCH_ID (status $(jfield "$batch" .status))"

t_inprog=""; t_final=""; t_done=""
status=""; last_progress="$(now)"; prev_completed=0; prev_t="$(now)"; fails=0
while :; do
  # one curl and bash's own regex per poll: the poll loop must not take CPU from what it measures
  batch="$(curl -sS -m 10 -H "$AUTH_HEADER" "$SVC_URL/v1/batches/$BATCH_ID" 2>/dev/null || true)"
  if [[ ! "$batch" =~ \"status\":\"([a-z_]+)\" ]]; then
    fails=$((fails + 1))
    ((fails < 25)) || die "GET /v1/batches/$BATCH_ID keeps failing: ${batch:0:500}"
    sleep "$POLL_S"; continue
  fi
  fails=0
  status="${BASH_REMATCH[1]}"
  t="$EPOCHREALTIME"
  completed=0; failed=0; total=0
  [[ "$batch" =~ \"completed\":([0-9]+) ]] && completed="${BASH_REMATCH[1]}"
  [[ "$batch" =~ \"failed\":([0-9]+) ]] && failed="${BASH_REMATCH[1]}"
  [[ "$batch" =~ \"total\":([0-9]+) ]] && total="${BASH_REMATCH[1]}"
  case "$status" in
    validating) ;;
    in_progress) [[ -n "$t_inprog" ]] || { t_inprog="$t"; log "in_progress after $(elapsed "$t_create" "$t")s"; } ;;
    finalizing) [[ -n "$t_inprog" ]] || { t_inprog="$t"; log "WARNING: in_progress was never observed; timing from now"; }
                [[ -n "$t_final" ]] || { t_final="$t"; log "finalizing after $(elapsed "$t_inprog" "$t")s in progress"; } ;;
    completed)  [[ -n "$t_inprog" ]] || { t_inprog="$t"; log "WARNING: in_progress was never observed"; }
                [[ -n "$t_final" ]] || t_final="$t"
                t_done="$t"; break ;;
    failed|expired|cancelled|cancelling)
      die "batch ended $status: $(jfield "$batch" .errors)" ;;
    *) die "unexpected status '$status': $batch" ;;
  esac
  if (( ${t/./} - ${last_progress/./} >= PROGRESS_EVERY_S * 1000000 )); then
    rate="$(awk -v c="$completed" -v f="$failed" -v pc="$prev_completed" -v dt="$(elapsed "$prev_t" "$t")" 'BEGIN{printf "%.0f", (c+f-pc)/dt}')"
    log "progress: $status completed=$completed failed=$failed total=$total (${rate} lines/s now)"
    last_progress="$t"; prev_completed=$((completed + failed)); prev_t="$t"
  fi
  if (( ${t/./} - ${t_create/./} > BATCH_TIMEOUT_S * 1000000 )); then
    die "batch not completed after ${BATCH_TIMEOUT_S}s (status $status, completed=$completed)"
  fi
  # every FINAL_POLL_S while validating and from 99 % settled on, so that in_progress and the end
  # are timed to that (at POLL_S the end could read up to a whole period late, 2 % of a 10 s run);
  # every POLL_S between, so that the poll takes no CPU from what it measures
  if [[ "$status" == validating ]] || ((completed + failed >= total * 99 / 100 && total > 0)); then sleep "$FINAL_POLL_S"
  else sleep "$POLL_S"; fi
done
cpu1="$(cpu_snapshot "$SVC_PID")"
metrics_text >"$OUT_DIR/throughput-metrics-1.txt"
read -r claim_p99 claims < <(hist_p99 "$OUT_DIR/throughput-metrics-0.txt" "$OUT_DIR/throughput-metrics-1.txt" openbatch_claim_duration_seconds)
read -r write_p99 writes < <(hist_p99 "$OUT_DIR/throughput-metrics-0.txt" "$OUT_DIR/throughput-metrics-1.txt" openbatch_write_duration_seconds)
log "completed: $(jfields "$batch" .request_counts)"

# (f) checks
ok=1
# expect DESCRIPTION COMMAND...: runs the test command, logs ok/FAILED, never exits (set -e safe).
expect() {
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "check ok:     $d"; else log "check FAILED: $d"; ok=0; fi
}
IFS=$'\t' read -r out_id err_id completed failed total usage < <(jfields "$batch" .output_file_id .error_file_id .request_counts.completed .request_counts.failed .request_counts.total .usage)
expect "request_counts.total == $LINES (is $total)" [ "$total" = "$LINES" ]
expect "request_counts completed=$LINES failed=0 (are $completed/$failed)" [ "$completed/$failed" = "$LINES/0" ]
expect "error_file_id is null (is $err_id)" [ "$err_id" = null ]

OUTPUT="$OUT_DIR/throughput-output.jsonl"
rm -f "$OUTPUT"
if [[ "$out_id" == null ]]; then
  expect "output_file_id is set" false
else
  t_dl="$(now)"
  code="$(curl -sS -o "$OUTPUT" -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/files/$out_id/content")" || code=000
  expect "GET /v1/files/$out_id/content answers 200 (is $code, $(elapsed "$t_dl")s)" [ "$code" = 200 ]
  # One pass over the output: lines, distinct custom_ids, lines whose response.status_code is 200,
  # custom_ids that are not one of the input's.
  read -r out_lines distinct ok200 foreign < <(node -e '
    const rl = require("readline").createInterface({ input: require("fs").createReadStream(process.argv[1]) });
    const n = Number(process.argv[2]); const seen = new Set(); let lines = 0, ok200 = 0, foreign = 0;
    rl.on("line", (l) => {
      if (!l) return; lines++;
      try {
        const o = JSON.parse(l); seen.add(o.custom_id);
        if (o.response && o.response.status_code === 200 && o.error === null) ok200++;
        const m = /^req-(\d+)$/.exec(o.custom_id || ""); if (!m || +m[1] < 1 || +m[1] > n) foreign++;
      } catch { foreign++; }
    });
    rl.on("close", () => console.log(lines, seen.size, ok200, foreign));' "$OUTPUT" "$LINES" 2>/dev/null || echo "0 0 0 0")
  expect "output has $LINES lines (has $out_lines)" [ "$out_lines" = "$LINES" ]
  expect "output has $LINES distinct custom_id (has $distinct)" [ "$distinct" = "$LINES" ]
  expect "every output line has status_code 200 and error null ($ok200)" [ "$ok200" = "$LINES" ]
  expect "no custom_id outside the input ($foreign)" [ "$foreign" = 0 ]
fi

stats="$(fake_stats)"
IFS=$'\t' read -r up_requests up_max_inflight up_max_conns < <(jfields "$stats" .requests .max_in_flight .max_connections)
expect "fake upstream saw exactly $LINES requests, none twice (saw $up_requests)" [ "$up_requests" = "$LINES" ]
expect "upstream concurrency never above max-concurrency $CONCURRENCY (max $up_max_inflight)" [ "$up_max_inflight" -le "$CONCURRENCY" ]
deadlocks="$(log_deadlocks "$SVC_LOG")"
expect "no deadlock in the service log (lines matching 'deadlock detected|40P01': $deadlocks)" [ "$deadlocks" = 0 ]
taken_over="$(metric_sum "$(metrics_text)" openbatch_leases_taken_over_total)"
expect "openbatch_leases_taken_over_total is 0 (is $taken_over)" [ "$taken_over" = 0 ]

# the bare client, on the same fake and box, now that the batch is done
log "bare client: $CONCURRENCY in flight to the same fake for ${BARE_S}s"
bare="$(bare_client_rate "$CONCURRENCY" "$BARE_S")" || bare=0

# (g) figures
run_s="$(elapsed "$t_inprog" "$t_done")"
engine_s="$(elapsed "$t_inprog" "$t_final")"
e2e_s="$(elapsed "$t_create" "$t_done")"
val_s="$(elapsed "$t_create" "$t_inprog")"
fin_s="$(elapsed "$t_final" "$t_done")"
rate="$(calc "$LINES / $run_s")"
ceiling="$(calc "$CONCURRENCY * 1000 / $LATENCY_MS")"
ratio="$(calc "$rate / $ceiling")"
e2e_rate="$(calc "$LINES / $e2e_s")"
e2e_ratio="$(calc "$e2e_rate / $ceiling")"
read -r cpu_svc_us cpu_pg_us < <(cpu_per_line "$cpu0" "$cpu1" "$LINES")
read -r cpu_svc_s cpu_pg_s < <(cpu_seconds "$cpu0" "$cpu1")
row() { printf '  %-38s %s\n' "$1" "$2"; }
summary="$(
  echo "openbatch throughput benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX)"
  row "lines" "$LINES"
  row "JVM" "$([[ -n "$COLD_FIGURE" ]] && echo "warm (after a warm-up batch; cold: $COLD_FIGURE)" || echo "cold (no warm-up batch)")"
  row "upstream" "latency ${LATENCY_MS} ms, max-concurrency $CONCURRENCY"
  row "validating (create -> in_prog.)" "${val_s} s"
  row "in_progress -> completed" "${run_s} s  (in_progress -> finalizing ${engine_s} s, finalizing -> completed ${fin_s} s)"
  row "end to end (create -> completed)" "${e2e_s} s"
  row "throughput (create -> completed)" "${e2e_rate} lines/s  (in_progress -> completed: ${rate} lines/s)"
  row "ceiling ($CONCURRENCY / ${LATENCY_MS} ms)" "${ceiling} lines/s"
  row "ratio (create -> completed / ceiling)" "${e2e_ratio}  (in_progress -> completed / ceiling: ${ratio})"
  row "bare client, same run (${BARE_S} s)" "${bare} requests/s  (the same fake, $CONCURRENCY in flight, no openbatch)"
  row "ratio to the bare client" "create -> completed $(calc "$e2e_rate / ($bare + 0.000001)") (goal ≥ 0.90), in_progress -> completed $(calc "$rate / ($bare + 0.000001)") (goal ≥ 0.95)"
  row "CPU per line" "openbatch ${cpu_svc_us} µs, PostgreSQL ${cpu_pg_us} µs  (goals ≤ 100 and ≤ 70; ${cpu_svc_s} s and ${cpu_pg_s} s, create -> completed)"
  row "upstream requests" "${up_requests}  (expected $LINES)"
  row "upstream max in flight" "${up_max_inflight}  (max connections ${up_max_conns})"
  row "deadlocks in the service log" "${deadlocks}"
  row "leases taken over (metric)" "${taken_over}"
  row "claims / result writes" "${claims} claims (p99 ${claim_p99} ms), ${writes} writes (p99 ${write_p99} ms)"
  row "batch usage" "${usage}"
  row "checks" "$([[ $ok == 1 ]] && echo "all passed" || echo "SOME FAILED (see above)")"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/throughput-summary.txt"

# (h) the EXIT trap stops the service and the fake upstream
[[ $ok == 1 ]]
