#!/usr/bin/env bash
# bench/pg-restart.sh: PostgreSQL goes away mid-batch and comes back; the service must ride it out.
#
# One service process (max-concurrency CONCURRENCY = 20), a fake upstream answering after
# LATENCY_MS (100 ms), one batch of LINES (3,000) chat lines whose custom_id = messages[0].content.
# When STOP_AT_PCT (45%) of the lines are done:
#   pg_ctlcluster --skip-systemctl-redirect PG_VERSION PG_CLUSTER stop -m fast
# then GET /q/health/ready is sampled every 0.5 s for PG_DOWN_S (5 s, at most 6: the outage,
# start included, stays under 8 s, other processes on the machine use this PostgreSQL),
# PostgreSQL is started again, and the script waits
# for ready = 200 again (without restarting the service) and for the batch to complete.
#
# Checks: /q/health/ready answered 503 while PostgreSQL was down; it answered 200 again within
# READY_AGAIN_S (60 s) of the restart; the service process never exited; the batch completed;
# each custom_id exactly once across output+error, counts agree; the upstream saw every line.
# Prints how many lines the upstream saw twice (lines whose result could not be written while
# the database was down are sent again by design only if their claim was lost; expect few).
# PostgreSQL is ALWAYS started again when the script ends, whatever happens (EXIT/INT/TERM
# trap), and `pg_isready -h 127.0.0.1` is checked at the end.
#
#   bash bench/pg-restart.sh
#   OPENBATCH_JAR=/tmp/ob-app/quarkus-run.jar bash bench/pg-restart.sh
#
# Knobs: LINES (3000), LATENCY_MS (100), CONCURRENCY (20), STOP_AT_PCT (45), PG_DOWN_S (5, at most 6: the start adds 1-2 s),
#        READY_AGAIN_S (60), BATCH_TIMEOUT_S (300), PG_VERSION (15), PG_CLUSTER (main), plus those
#        in bench/lib.sh (BENCH_DB defaults to openbatch_pgrestart).
# Output: PASS/FAIL per check and bench/out/pg-restart-summary.txt. Exit 0 only if all passed.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_pgrestart}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LINES="${LINES:-3000}"
LATENCY_MS="${LATENCY_MS:-100}"
CONCURRENCY="${CONCURRENCY:-20}"
STOP_AT_PCT="${STOP_AT_PCT:-45}"
PG_DOWN_S="${PG_DOWN_S:-5}"   # from the stop command to the start command; the start itself adds ~1-2 s
READY_AGAIN_S="${READY_AGAIN_S:-60}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-300}"
PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
MODEL="bench-model"
need pg_ctlcluster
need pg_isready
if awk -v d="$PG_DOWN_S" 'BEGIN{exit !(d>6)}'; then PG_DOWN_S=6; fi   # keep the whole outage <= 8 s

pg_ctl() { pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" "$@"; }
pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT"; }
# Runs from the EXIT trap (before the service is stopped): PostgreSQL must be up when we leave.
ensure_pg_up() {
  local i
  if pg_up; then return 0; fi
  log "PostgreSQL is down: starting it again"
  pg_ctl start || log "pg_ctlcluster start failed"
  for ((i = 0; i < 300; i++)); do pg_up && break; sleep 0.1; done
  if pg_up; then log "PostgreSQL is up"; else log "PostgreSQL is STILL DOWN: check pg_lsclusters"; fi
}
CLEANUP_HOOKS+=(ensure_pg_up)
sampler=""
stop_sampler() { [[ -z "$sampler" ]] || { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; }; }
CLEANUP_HOOKS+=(stop_sampler)

OK=1
SUMMARY=()
check() {
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "PASS  $d"; SUMMARY+=("PASS  $d"); else log "FAIL  $d"; SUMMARY+=("FAIL  $d"); OK=0; fi
}
ready_code() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$MGMT_URL/q/health/ready" || true; }

pg_up || die "PostgreSQL is not running at $PGHOST:$PGPORT"
ensure_build
start_fake pgrestart --latency-ms "$LATENCY_MS"
recreate_db
start_service pgrestart "$MODEL" "$CONCURRENCY"
svc_pid="$SVC_PID"

INPUT="$OUT_DIR/pg-restart-input.jsonl"
gen_chat_input "$LINES" "$INPUT" pg "$MODEL"
FILE_ID="$(upload_file "$INPUT")"
batch="$(create_batch "$FILE_ID" /v1/chat/completions)"
BID="$(jfield "$batch" .id)"
[[ "$BID" == batch* ]] || die "create answered no batch id: $batch"
log "$LINES lines: $FILE_ID -> $BID"
t_create="$(now)"
wait_batch "$BID" "$BATCH_TIMEOUT_S" $((LINES * STOP_AT_PCT / 100)) || die "the batch did not reach ${STOP_AT_PCT}%"
done_at_stop="$BATCH_DONE"

# ---- PostgreSQL down ----
# A background sampler probes /q/health/ready every 0.5 s (code and latency, 3 s timeout) while the
# main line keeps the outage to PG_DOWN_S whatever the probes do.
log "stopping PostgreSQL ($done_at_stop/$LINES done)"
SAMPLES="$OUT_DIR/pg-restart-ready-samples.txt"; : >"$SAMPLES"
STOP_SAMPLING="$OUT_DIR/.pg-restart-stop-sampling"; rm -f "$STOP_SAMPLING"
t_stop="$(now)"
pg_ctl stop -m fast || log "pg_ctlcluster stop answered non-zero"
stop_took="$(elapsed "$t_stop")"
(
  while [[ ! -e "$STOP_SAMPLING" ]]; do
    ts="$(now)"
    r="$(curl -s -o /dev/null --max-time 3 -w '%{http_code} %{time_total}' "$MGMT_URL/q/health/ready" || true)"
    printf '%s %s\n' "$ts" "${r:-000 3}" >>"$SAMPLES"
    sleep 0.5
  done
) &
sampler=$!
api GET "/v1/batches/$BID" --max-time 3
api_down="$API_STATUS ${API_BODY:0:300}"
log "GET /v1/batches/$BID while PostgreSQL is down: $api_down"
while awk -v e="$(elapsed "$t_stop")" -v d="$PG_DOWN_S" 'BEGIN{exit !(e<d)}'; do sleep 0.1; done
touch "$STOP_SAMPLING"
t_start_cmd="$(now)"
pg_ctl start || log "pg_ctlcluster start answered non-zero"
t_start="$(now)"
for ((i = 0; i < 100; i++)); do pg_up && break; sleep 0.1; done
down_s="$(elapsed "$t_stop")"
wait "$sampler" 2>/dev/null || true
sampler=""
rm -f "$STOP_SAMPLING"
# only the probes that ended before the start command count as "while down"
codes_down=(); lat_down=()
while read -r ts code lat; do
  awk -v a="$ts" -v l="$lat" -v b="$t_start_cmd" 'BEGIN{exit !(a+l<b)}' || continue
  codes_down+=("$code"); lat_down+=("$lat")
done <"$SAMPLES"
log "PostgreSQL up again: down ${down_s}s (stop took ${stop_took}s, start $(elapsed "$t_start_cmd" "$t_start")s)"
log "ready while PostgreSQL was down: ${codes_down[*]} (probe seconds: ${lat_down[*]})"

# ---- service ready again? ----
ready_again=""; codes_up=()
while awk -v e="$(elapsed "$t_start")" -v m="$READY_AGAIN_S" 'BEGIN{exit !(e<m)}'; do
  c="$(ready_code)"; codes_up+=("$c")
  if [[ "$c" == 200 ]]; then ready_again="$(elapsed "$t_start")"; break; fi
  sleep 0.25
done
log "ready again after ${ready_again:-never}s (codes ${codes_up[*]})"
n503=0; for c in "${codes_down[@]}"; do [[ "$c" == 503 ]] && n503=$((n503 + 1)); done
check "/q/health/ready answered 503 while PostgreSQL was down ($n503 of ${#codes_down[@]} probes: ${codes_down[*]}; seconds per probe: ${lat_down[*]})" \
  [ "$n503" -gt 0 -a "$n503" = "${#codes_down[@]}" ]
check "/q/health/ready 200 again without a restart, ${ready_again:-never}s after PostgreSQL was back (<= ${READY_AGAIN_S}s)" [ -n "$ready_again" ]

# ---- the batch ----
if wait_batch "$BID" "$BATCH_TIMEOUT_S"; then ended=1; else ended=0; fi
run_s="$(elapsed "$t_create")"
check "the service process never exited (pid $svc_pid)" kill -0 "$svc_pid"
check "batch ended (status $BATCH_STATUS, ${run_s}s after create)" [ "$ended" = 1 ]
check_batch_files pg-restart "$LINES" pg
check "each custom_id exactly once in the files, counts agree ($FILES_SUMMARY)" [ "$FILES_OK" = 1 ]
curl -sS "$FAKE_URL/stats" >"$OUT_DIR/pg-restart-stats-end.json"
read -r missing once twice more _ < <(key_counts "$OUT_DIR/pg-restart-stats-end.json" "$LINES" pg "$OUT_DIR/pg-restart-dups.txt") || true
up_req="$(jfield "$(cat "$OUT_DIR/pg-restart-stats-end.json")" .requests)"
check "upstream saw every line (missing $missing)" [ "$missing" = 0 ]
warns="$(grep -c ' WARN ' "$SVC_LOG" || true)"; errs="$(grep -c ' ERROR ' "$SVC_LOG" || true)"

ensure_pg_up
check "pg_isready -h $PGHOST at the end" pg_isready -q -h "$PGHOST" -p "$PGPORT"
{
  echo "openbatch PostgreSQL-restart test  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, repo HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo ?), jar $OPENBATCH_JAR)"
  echo "  $LINES lines, ${LATENCY_MS} ms, max-concurrency $CONCURRENCY; PostgreSQL stopped at $done_at_stop/$LINES done, down ${down_s}s"
  echo "  ready while down: ${codes_down[*]} (seconds per probe: ${lat_down[*]}); ready again ${ready_again:-never}s after PostgreSQL was back"
  echo "  GET /v1/batches/{id} while down: $api_down"
  echo "  upstream: $up_req requests; lines seen once $once, twice $twice, more $more, never $missing"
  echo "  service log: $warns WARN, $errs ERROR lines ($SVC_LOG)"
  printf '  %s\n' "${SUMMARY[@]}"
  if [[ $OK == 1 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} | tee "$OUT_DIR/pg-restart-summary.txt"
[[ $OK == 1 ]]
