#!/usr/bin/env bash
# bench/results-poll.sh: what a client reading results while the batch runs costs the batch.
#
# throughput.sh's batch (LINES chat lines against a fake upstream answering after LATENCY_MS, at
# most CONCURRENCY in flight), run twice per round on one warm service: once alone, once with a
# client (bench/results-poller.mjs) that reads GET /v1/batches/{id}/results from the batch's
# creation on, every EVERY_S seconds with the cursor of its previous answer (at once while
# Openbatch-Has-More says so), until Openbatch-Complete. Rounds alternate which run goes first.
# Prints both rates (create -> completed, and in_progress -> completed), their ratio (the cost
# of reading: goal >= 0.95, i.e. at most 5%), CPU per line of openbatch and PostgreSQL in each
# run, and checks that the client got every line exactly once and that its lines are the output
# file's, byte for byte.
#
#   bash bench/results-poll.sh
#   ROUNDS=3 LINES=40000 bash bench/results-poll.sh
#
# Knobs: LINES (40000), WARMUP_LINES (40000), LATENCY_MS (50), CONCURRENCY (200), ROUNDS (2),
#        EVERY_S (1), POLL_S (0.2: how often the script itself reads the batch's status),
#        BATCH_TIMEOUT_S (1800), plus those in bench/lib.sh (BENCH_DB defaults to openbatch_results).
# Output: figures on stdout, a summary in bench/out/results-poll-summary.txt, logs in bench/out/.
# Exit status 0 only if every check passed (whatever the ratio).
set -eu -o pipefail
export BENCH_DB="${BENCH_DB:-openbatch_results}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LINES="${LINES:-40000}"
WARMUP_LINES="${WARMUP_LINES:-40000}"
LATENCY_MS="${LATENCY_MS:-50}"
CONCURRENCY="${CONCURRENCY:-200}"
ROUNDS="${ROUNDS:-2}"
EVERY_S="${EVERY_S:-1}"
POLL_S="${POLL_S:-0.2}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-1800}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"

POLLER_PID=""
stop_poller() { [[ -z "$POLLER_PID" ]] || kill "$POLLER_PID" 2>/dev/null || true; }
CLEANUP_HOOKS+=(stop_poller)

ensure_build
start_fake results-poll --latency-ms "$LATENCY_MS"
recreate_db
extra=()
if ((LINES > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$LINES"); fi
start_service results-poll "$MODEL" "$CONCURRENCY" ${extra[@]+"${extra[@]}"}
warm_up results-poll "$WARMUP_LINES" "$MODEL" "$ENDPOINT"

INPUT="$OUT_DIR/results-poll-input-$LINES.jsonl"
gen_chat_input "$LINES" "$INPUT" req "$MODEL"
FILE_ID="$(upload_file "$INPUT")"
log "uploaded $LINES lines as $FILE_ID"

ok=1
expect() {
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "check ok:     $d"; else log "check FAILED: $d"; ok=0; fi
}

# run_batch TAG POLLED(0|1): one batch of the uploaded file, measured as throughput.sh measures it,
# with the results client running from its creation when POLLED is 1. Sets R_E2E and R_RUN (lines/s,
# create -> completed and in_progress -> completed), R_CPU ("SVC_US PG_US" per line), R_POLLER (the
# client's JSON figures, or "-").
run_batch() {
  local tag="$1" polled="$2" batch id t_create t_inprog="" t_done="" status t fails=0 cpu0 cpu1 completed failed total
  curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
  fresh_checkpoint
  cpu0="$(cpu_snapshot "$SVC_PID")"
  t_create="$(now)"
  batch="$(create_batch "$FILE_ID" "$ENDPOINT")"
  id="$(jfield "$batch" .id)"
  [[ "$id" == batch* ]] || die "create answered no batch id: $batch"
  local lines_out="$OUT_DIR/results-poll-$tag-stream.jsonl" poller_out="$OUT_DIR/results-poll-$tag-poller.json"
  rm -f "$lines_out" "$poller_out"
  POLLER_PID=""
  if [[ "$polled" == 1 ]]; then
    node "$BENCH_DIR/results-poller.mjs" --url "$SVC_URL" --batch "$id" --out "$lines_out" --key "${BENCH_KEY:-bench}" \
      --every-s "$EVERY_S" --timeout-s "$BATCH_TIMEOUT_S" >"$poller_out" 2>"$poller_out.err" &
    POLLER_PID=$!
  fi
  log "$tag: batch $id$([[ "$polled" == 1 ]] && echo ", a client reading its results every ${EVERY_S}s" || echo ", nobody reading its results")"
  while :; do
    batch="$(curl -sS -m 10 -H "$AUTH_HEADER" "$SVC_URL/v1/batches/$id" 2>/dev/null || true)"
    if [[ ! "$batch" =~ \"status\":\"([a-z_]+)\" ]]; then
      fails=$((fails + 1)); ((fails < 25)) || die "GET /v1/batches/$id keeps failing: ${batch:0:500}"
      sleep "$POLL_S"; continue
    fi
    fails=0; status="${BASH_REMATCH[1]}"; t="$EPOCHREALTIME"
    case "$status" in
      validating) ;;
      in_progress|finalizing) [[ -n "$t_inprog" ]] || t_inprog="$t" ;;
      completed) [[ -n "$t_inprog" ]] || t_inprog="$t"; t_done="$t"; break ;;
      *) die "batch $id ended $status" ;;
    esac
    (( ${t/./} - ${t_create/./} <= BATCH_TIMEOUT_S * 1000000 )) || die "batch $id not completed after ${BATCH_TIMEOUT_S}s"
    sleep "$POLL_S"
  done
  cpu1="$(cpu_snapshot "$SVC_PID")"
  IFS=$'\t' read -r completed failed total < <(jfields "$batch" .request_counts.completed .request_counts.failed .request_counts.total)
  expect "$tag: request_counts $LINES/$LINES/0 (are $total/$completed/$failed)" [ "$total/$completed/$failed" = "$LINES/$LINES/0" ]
  local up; up="$(jfield "$(fake_stats)" .requests)"
  expect "$tag: the upstream saw exactly $LINES requests (saw $up)" [ "$up" = "$LINES" ]
  R_E2E="$(calc "$LINES / $(elapsed "$t_create" "$t_done")")"
  R_RUN="$(calc "$LINES / $(elapsed "$t_inprog" "$t_done")")"
  R_CPU="$(cpu_per_line "$cpu0" "$cpu1" "$LINES")"
  R_POLLER="-"
  if [[ "$polled" == 1 ]]; then
    local rc=0
    wait "$POLLER_PID" || rc=$?
    POLLER_PID=""
    expect "$tag: the results client ended well (exit $rc: $(head -c 300 "$poller_out.err" 2>/dev/null))" [ "$rc" = 0 ]
    R_POLLER="$(cat "$poller_out" 2>/dev/null || echo '{}')"
    # the stream's lines against the output file, byte for byte
    local out_id output="$OUT_DIR/results-poll-$tag-output.jsonl" code n distinct
    out_id="$(jfield "$batch" .output_file_id)"
    code="$(curl -sS -o "$output" -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/files/$out_id/content")" || code=000
    expect "$tag: GET the output file answers 200 (is $code)" [ "$code" = 200 ]
    n="$(grep -c . "$lines_out" 2>/dev/null || echo 0)"
    distinct="$(cut -d, -f2 "$lines_out" 2>/dev/null | sort -u | wc -l)"
    expect "$tag: the client got $LINES lines (got $n), $LINES distinct custom_ids (got $distinct)" [ "$n/$distinct" = "$LINES/$LINES" ]
    expect "$tag: the client's lines are the output file's, byte for byte" \
      cmp -s <(LC_ALL=C sort "$lines_out") <(LC_ALL=C sort "$output")
  fi
  log "$tag: create -> completed $R_E2E lines/s, in_progress -> completed $R_RUN lines/s, CPU per line (openbatch, PostgreSQL µs) $R_CPU"
}

declare -a plain_e2e=() plain_run=() polled_e2e=() polled_run=() rows=()
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2 == 1)); then order=(0 1); else order=(1 0); fi
  for p in "${order[@]}"; do
    tag="round$r-$([[ $p == 1 ]] && echo polled || echo plain)"
    run_batch "$tag" "$p"
    if [[ $p == 1 ]]; then polled_e2e+=("$R_E2E"); polled_run+=("$R_RUN"); else plain_e2e+=("$R_E2E"); plain_run+=("$R_RUN"); fi
    rows+=("$(printf '  %-16s %10s %12s %16s   %s' "$tag" "$R_E2E" "$R_RUN" "$R_CPU" "$R_POLLER")")
  done
done

mean() { printf '%s\n' "$@" | awk '{ s += $1; n++ } END { printf "%.1f", s / n }'; }
pe="$(mean "${plain_e2e[@]}")"; pr="$(mean "${plain_run[@]}")"
qe="$(mean "${polled_e2e[@]}")"; qr="$(mean "${polled_run[@]}")"
summary="$(
  echo "openbatch results-poll benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX, commit $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "  $LINES lines, upstream latency ${LATENCY_MS} ms, max-concurrency $CONCURRENCY, $ROUNDS round(s), client reading every ${EVERY_S}s"
  echo "  run              create->done  in_prog->done  CPU/line svc pg µs   results client"
  printf '%s\n' "${rows[@]}"
  echo "  mean without a reader:  create -> completed $pe lines/s, in_progress -> completed $pr lines/s"
  echo "  mean with a reader:     create -> completed $qe lines/s, in_progress -> completed $qr lines/s"
  echo "  ratio with / without:   create -> completed $(calc "$qe / $pe"), in_progress -> completed $(calc "$qr / $pr")  (goal >= 0.95)"
  echo "  checks: $([[ $ok == 1 ]] && echo "all passed" || echo "SOME FAILED (see above)")"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/results-poll-summary.txt"
[[ $ok == 1 ]]
