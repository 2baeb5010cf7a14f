#!/usr/bin/env bash
# bench/fleet-slow.sh: the server slows 4× for 30 s under a batch (issue 19).
#
# A slot server (bench/slot-server.mjs, SLOTS (32) × SERVICE_MS (200), one FIFO queue) and one
# openbatch process configured with max-concurrency MAX_CONC (256) and nothing else: the adaptive
# limit is the default. A batch of LINES runs alone; WARM_S (20 s) after it runs at the server, the
# server's service time goes × FACTOR (4) for SLOW_S (30 s) (POST /admin/slow), then back. From
# the slot server's 100 ms series:
#   - openbatch's lines at the server (running + waiting) before the slowdown (mean over the
#     BEFORE_S (10 s) before it) and FALL_S (10 s) into it (mean over its last second):
#     goal: in flight falls, to ≤ FALL_GOAL (0.75) of before, within FALL_S;
#   - the batch's rate before and over [end + RECOVER_S − 5, end + RECOVER_S] (RECOVER_S 30):
#     goal: ≥ RATE_GOAL (0.9) of the rate before, within RECOVER_S after the slowdown ends;
#   - no line failed, and none spent an attempt for it: openbatch's openbatch_lines_finished with
#     outcome retried stays 0, the server saw as many batch requests as there are lines, and the
#     finished batch's output holds every line once, none failed (bench/lib.sh's check).
#
#   bash bench/fleet-slow.sh
#   METRICS=1 bash bench/fleet-slow.sh      # also give openbatch the server's metrics-url
# Knobs: SLOTS, SERVICE_MS, MAX_CONC, LINES (default: enough for the whole run and a little more),
#        WARM_S, FACTOR, SLOW_S, BEFORE_S, FALL_S, RECOVER_S, FALL_GOAL, RATE_GOAL, METRICS (0),
#        BATCH_TIMEOUT_S (600), plus those of bench/lib.sh (BENCH_DB defaults to openbatch_fleet).
# Output: the figures with PASS/FAIL (and bench/out/fleet-slow-summary.txt); the series in
# bench/out/fleet-slow-stats.json. Exit 0 only if every check passed. About 2 minutes.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_fleet}"
# shellcheck source-path=SCRIPTDIR source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

SLOTS="${SLOTS:-32}"
SERVICE_MS="${SERVICE_MS:-200}"
MAX_CONC="${MAX_CONC:-256}"
WARM_S="${WARM_S:-20}"
FACTOR="${FACTOR:-4}"
SLOW_S="${SLOW_S:-30}"
BEFORE_S="${BEFORE_S:-10}"
FALL_S="${FALL_S:-10}"
RECOVER_S="${RECOVER_S:-30}"
FALL_GOAL="${FALL_GOAL:-0.75}"
RATE_GOAL="${RATE_GOAL:-0.9}"
METRICS="${METRICS:-0}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-600}"
MODEL="bench-model"
CAPACITY="$(calc "$SLOTS * 1000 / $SERVICE_MS")"
LINES="${LINES:-$(awk -v c="$CAPACITY" -v f="$FACTOR" -v w="$WARM_S" -v s="$SLOW_S" -v r="$RECOVER_S" \
  'BEGIN{printf "%d", c * (w + 10) + c / f * s + c * (r + 10)}')}"

ge() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}'; }
le() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a <= b)}'; }

# in_flight_mean STATS T0 T1: the batch's mean requests at the server (running + waiting) over [T0, T1].
in_flight_mean() {
  node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const w = (s.series || []).filter((x) => x.t >= +process.argv[1] && x.t <= +process.argv[2]);
    if (!w.length) { console.log("n/a"); process.exit(0); }
    console.log((w.reduce((a, x) => a + x.running_by_class.batch + x.waiting_by_class.batch, 0) / w.length).toFixed(1));' "$2" "$3" <<<"$1"
}

ensure_build
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
start_slot_server main --slots "$SLOTS" --service-ms "$SERVICE_MS" --model-name "$MODEL"
SLOTS_URL="${SLOT_URL[main]}"
recreate_db
extra_up=()
[[ "$METRICS" == 1 ]] && extra_up+=("metrics-url=$SLOTS_URL/metrics")
add_upstream slots "$SLOTS_URL" "$MODEL" "$MAX_CONC" ${extra_up[@]+"${extra_up[@]}"}
start_replica a fleet-a replica-a

INPUT="$OUT_DIR/fleet-slow-input-$LINES.jsonl"
gen_fleet_input "$LINES" "$INPUT" fs "$MODEL"
slot_reset main
BATCH_ID="$(submit_batch "$INPUT")"
log "batch $BATCH_ID: $LINES lines, max-concurrency $MAX_CONC against $SLOTS slots"
t_create="$(now)"
while :; do
  read -r st _ _ _ _ < <(batch_line "$BATCH_ID")
  running_b="$(jsx "$(slot_stats main)" 's.classes.batch.running')"
  [[ "$st" == in_progress ]] && ((running_b > 0)) && break
  case "$st" in completed|failed|expired|cancelled) die "batch ended $st before the measurement" ;; esac
  awk -v e="$(elapsed "$t_create")" 'BEGIN{exit !(e>120)}' && die "batch not running at the server 120 s after create"
  sleep 0.3
done
log "batch running at the server; ${WARM_S}s at full speed"
sleep "$WARM_S"

t_slow="$(now)"
slot_slow main "$FACTOR" "$SLOW_S"
t_end="$(calc "$t_slow + $SLOW_S")"
sleep "$(calc "$SLOW_S + $RECOVER_S + 0.5")"
stats="$(slot_stats main "series=1")"
printf '%s\n' "$stats" >"$OUT_DIR/fleet-slow-stats.json"

before_in="$(in_flight_mean "$stats" "$(calc "$t_slow - $BEFORE_S")" "$t_slow")"
fall_in="$(in_flight_mean "$stats" "$(calc "$t_slow + $FALL_S - 1")" "$(calc "$t_slow + $FALL_S")")"
slow_in="$(in_flight_mean "$stats" "$(calc "$t_end - 5")" "$t_end")"
read -r rate_before _ < <(series_rate "$stats" batch "$(calc "$t_slow - $BEFORE_S")" "$t_slow")
read -r rate_slow _ < <(series_rate "$stats" batch "$(calc "$t_slow + 10")" "$t_end")
read -r rate_after _ < <(series_rate "$stats" batch "$(calc "$t_end + $RECOVER_S - 5")" "$(calc "$t_end + $RECOVER_S")")
# the first second (from the series' running 1 s rate) at which the rate is back to RATE_GOAL of before
back_s="$(node -e '
  const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const [t1, goal] = [+process.argv[1], +process.argv[2]];
  const w = (s.series || []).filter((x) => x.t >= t1);
  for (let i = 10; i < w.length; i++) {
    const r = (w[i].done_by_class.batch - w[i - 10].done_by_class.batch) / (w[i].t - w[i - 10].t);
    if (r >= goal) { console.log((w[i].t - t1).toFixed(1)); process.exit(0); }
  }
  console.log("n/a");' "$t_end" "$(calc "$RATE_GOAL * ${rate_before:-0}")" <<<"$stats")"
fall_ratio="$(calc "${fall_in:-0} / ${before_in:-1}")"
after_ratio="$(calc "${rate_after:-0} / ${rate_before:-1}")"
# lines given back for a retry (each spent an attempt); the counter appears with the first one
retried_count() {
  curl -sS -m 10 "${REPLICA_MGMT_URL[a]}/q/metrics" | awk '
    /^openbatch_lines_finished_total\{/ && /outcome="retried"/ && /upstream="slots"/ { t += $NF }
    END { printf "%d\n", t }'
}
retried_mid="$(retried_count)"
log "in flight before $before_in, ${FALL_S}s into the slowdown $fall_in, at its end $slow_in; rate before $rate_before/s, slow $rate_slow/s, after $rate_after/s"

wait_batch "$BATCH_ID" "$BATCH_TIMEOUT_S" || die "batch did not end in ${BATCH_TIMEOUT_S}s"
check_batch_files fleet-slow "$LINES" fs
retried="$(retried_count)"
server_batch="$(jsx "$(slot_stats main)" 's.classes.batch.requests')"

check "every line once, none failed ($FILES_SUMMARY)" test "$FILES_OK" = 1
check "no line spent an attempt (retried: ${retried:-0}; the server saw $server_batch batch requests for $LINES lines)" \
  test "${retried:-0}" = 0 -a "$server_batch" = "$LINES"
check "GOAL in flight falls within ${FALL_S}s: $fall_in of $before_in = $fall_ratio ≤ $FALL_GOAL" le "$fall_ratio" "$FALL_GOAL"
check "GOAL rate ${RECOVER_S}s after the slowdown: $rate_after/s of $rate_before/s = $after_ratio ≥ $RATE_GOAL (back at ≥ $RATE_GOAL ${back_s}s after)" \
  ge "$after_ratio" "$RATE_GOAL"

summary="$(
  echo "openbatch fleet benchmark, the server slows ${FACTOR}× for ${SLOW_S}s  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load average at start $load0)"
  printf '  %-30s %s\n' "server" "$SLOTS slots × ${SERVICE_MS} ms = $CAPACITY req/s; × $FACTOR for ${SLOW_S}s" \
    "openbatch" "max-concurrency $MAX_CONC (adaptive, the default)$([[ "$METRICS" == 1 ]] && echo ", metrics-url"), $LINES lines" \
    "lines at the server" "before $before_in, ${FALL_S}s in $fall_in ($fall_ratio), at the end of the slowdown $slow_in" \
    "batch rate" "before $rate_before/s, slowed $rate_slow/s, ${RECOVER_S}s after $rate_after/s ($after_ratio); back to ≥ $RATE_GOAL ${back_s}s after" \
    "attempts" "retried $retried_mid by the end of the window, ${retried:-0} at the end; server saw $server_batch requests"
  printf '%s\n' "${SUMMARY[@]}"
  echo "RESULT: $([[ $OK == 1 ]] && echo PASS || echo FAIL)"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/fleet-slow-summary.txt"
[[ $OK == 1 ]]
