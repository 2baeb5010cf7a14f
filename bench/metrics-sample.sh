#!/usr/bin/env bash
# bench/metrics-sample.sh: a sample of the service's openbatch_* Prometheus metrics under load.
#
# Runs one batch of LINES (20,000) chat lines against the fake upstream (LATENCY_MS = 50 ms,
# max-concurrency CONCURRENCY = 100), scrapes GET /q/metrics when SCRAPE_AT_PCT (50%) of the lines
# are done, and writes every openbatch_* sample line plus their # HELP / # TYPE lines to
# docs/metrics-sample.txt (SAMPLE_FILE), under a header saying when and under what load it was
# taken. Then waits for the batch to complete and checks each line is in the files exactly once.
#
#   bash bench/metrics-sample.sh
#   OPENBATCH_JAR=/tmp/ob-app/quarkus-run.jar bash bench/metrics-sample.sh
#
# Knobs: LINES (20000), LATENCY_MS (50), CONCURRENCY (100), SCRAPE_AT_PCT (50), SAMPLE_FILE
#        (docs/metrics-sample.txt), BATCH_TIMEOUT_S (300), plus those in bench/lib.sh
#        (BENCH_DB defaults to openbatch_metrics).
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_metrics}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LINES="${LINES:-20000}"
LATENCY_MS="${LATENCY_MS:-50}"
CONCURRENCY="${CONCURRENCY:-100}"
SCRAPE_AT_PCT="${SCRAPE_AT_PCT:-50}"
SAMPLE_FILE="${SAMPLE_FILE:-$REPO_DIR/docs/metrics-sample.txt}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-300}"
MODEL="bench-model"

ensure_build
start_fake metrics --latency-ms "$LATENCY_MS"
recreate_db
start_service metrics "$MODEL" "$CONCURRENCY"

INPUT="$OUT_DIR/metrics-input.jsonl"
gen_chat_input "$LINES" "$INPUT" m "$MODEL"
FILE_ID="$(upload_file "$INPUT")"
batch="$(create_batch "$FILE_ID" /v1/chat/completions)"
BID="$(jfield "$batch" .id)"
[[ "$BID" == batch* ]] || die "create answered no batch id: $batch"
log "$LINES lines: $FILE_ID -> $BID"
t_create="$(now)"
wait_batch "$BID" "$BATCH_TIMEOUT_S" $((LINES * SCRAPE_AT_PCT / 100)) || die "the batch did not reach ${SCRAPE_AT_PCT}%"
[[ "$BATCH_STATUS" == in_progress ]] || log "WARNING: scraping with the batch $BATCH_STATUS, not in_progress"

RAW="$OUT_DIR/metrics-raw.txt"
t_scrape="$(now)"
code="$(curl -sS -o "$RAW" -w '%{http_code}' "$MGMT_URL/q/metrics")" || code=000
[[ "$code" == 200 ]] || die "GET /q/metrics answered $code"
done_at_scrape="$BATCH_DONE"
up_inflight="$(jfield "$(curl -sS "$FAKE_URL/stats?by_key=0")" .in_flight)"
log "scraped /q/metrics at $done_at_scrape/$LINES done, $(elapsed "$t_create" "$t_scrape")s after create ($(wc -l <"$RAW") lines)"

tmp="$SAMPLE_FILE.tmp"
{
  echo "# openbatch metrics sample: the openbatch_* lines of GET /q/metrics (Prometheus text format), with their HELP and TYPE lines."
  echo "# Taken $(date -u +%Y-%m-%dT%H:%M:%SZ) by bench/metrics-sample.sh, repo HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, -Xmx$XMX."
  echo "# Load: one process, one batch of $LINES /v1/chat/completions lines, status $BATCH_STATUS, $done_at_scrape done at the scrape"
  echo "# ($(elapsed "$t_create" "$t_scrape") s after create); upstream 'fake' = bench/fake-upstream.mjs answering after $LATENCY_MS ms,"
  echo "# max-concurrency $CONCURRENCY, $up_inflight requests in flight at the fake when scraped. Other Quarkus/JVM metrics are left out."
  grep -E '^(# (HELP|TYPE) )?openbatch_' "$RAW"
} >"$tmp"
mv "$tmp" "$SAMPLE_FILE"
n_samples="$(grep -c '^openbatch_' "$SAMPLE_FILE" || true)"
n_names="$(grep -c '^# TYPE openbatch_' "$SAMPLE_FILE" || true)"
log "wrote $SAMPLE_FILE: $n_names metrics, $n_samples sample lines"
grep -E '^openbatch_(upstream_in_flight|upstream_concurrency_limit|lines_waiting|batches\{status="in_progress"|lines_finished_total|leases_taken_over_total|claim_duration_seconds_count|write_duration_seconds_count|upstream_request_duration_seconds_(count|sum))' "$SAMPLE_FILE" >&2 || true

ok=1
if wait_batch "$BID" "$BATCH_TIMEOUT_S"; then :; else ok=0; fi
check_batch_files metrics "$LINES" m
log "batch: $FILES_SUMMARY ($(elapsed "$t_create")s after create)"
[[ "$FILES_OK" == 1 ]] || ok=0
[[ $n_names -gt 0 ]] || { log "no openbatch_* metric in /q/metrics"; ok=0; }
{
  echo "openbatch metrics sample  ($(date -u +%Y-%m-%dT%H:%M:%SZ)): $n_names metrics, $n_samples sample lines in $SAMPLE_FILE, scraped at $done_at_scrape/$LINES done"
  echo "  batch: $FILES_SUMMARY"
  if [[ $ok == 1 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} | tee "$OUT_DIR/metrics-sample-summary.txt"
[[ $ok == 1 ]]
