#!/usr/bin/env bash
# bench/fleet.sh: sharing an inference server between a batch and interactive users.
#
# A slot server (bench/slot-server.mjs: SLOTS slots, SERVICE_MS per request, one FIFO queue, as a
# continuous-batching server behaves; capacity = SLOTS / SERVICE_MS = 32 / 0.2 s = 160 req/s) and an
# open-loop interactive load (bench/interactive-load.mjs: Poisson arrivals at LOAD_FRACTION (0.5)
# of the capacity, 80/s, same arrival times every run: SEED). openbatch runs one batch of LINES
# lines against the slot server, configured with max-concurrency MAX_CONC (256, against 32 slots).
#
#   0. the interactive load alone against the server for INTERACTIVE_S (30 s) → its p99 (client side;
#      openbatch is already started, idle, so that both runs share the machine with the same processes);
#   A. the batch starts; after RAMP_S (10 s) of it running, the same interactive load for
#      INTERACTIVE_S → interactive p99 with the batch, the ratio with / alone (goal ≤ P99_GOAL 1.15),
#      and the batch's rate over the interactive arrival window less its first A_SKIP_S (5 s: the
#      queue's transient; lines done at the server, from its 100 ms series) against the spare
#      capacity = capacity − the interactive rate actually sent (goal ≥ SPARE_GOAL 0.85);
#   B. SETTLE_S (5 s) after the interactive load ended, the batch alone for B_S (30 s; shorter if
#      the batch runs low: it ends when fewer than 2 × MAX_CONC lines are left) → batch rate /
#      capacity (goal ≥ CAP_GOAL 0.95).
#   Then the batch is cancelled (FINISH=1: waited for, and its files checked: every line once, none
#   failed).
#
# Latencies are the client's (interactive-load.mjs: send → end of answer); the slot server's own
# (arrival → answer) are printed beside them, with the server-side ratio. Both include how late the
# Node processes run on a busy machine (client lag, slot-server timer lag, printed too): the p99
# alone is the noisiest figure (2 loaded cores: 239 to 404 ms for a 200 ms service), so compare
# runs on a quiet machine, or several runs. The server's throughput is exact whatever its timer
# lag (slot-server.mjs keeps service times on a virtual clock).
#
# openbatch's adaptive limit (on by default) keeps its lines from queueing at the server; with
# METRICS=1 it also reads the server's running and waiting counts every 100 ms and keeps to its free
# slots. On a FIFO server with a fixed service time no client reaches both goals of scenario A at
# once (bench/fleet-bound.mjs shows the bound); SERVICE_JITTER=0.3 gives service times that vary,
# as an LLM server's do.
#
#   bash bench/fleet.sh
#   LINES=6000 INTERACTIVE_S=20 B_S=15 bash bench/fleet.sh          # quicker
#   PRIORITY=1 bash bench/fleet.sh     # server-side priority scheduling, batch lines priority 1 (a reference)
#   METRICS=1 bash bench/fleet.sh      # also configure metrics-url (only for a build that knows the key)
#
# Knobs: SLOTS (32), SERVICE_MS (200), SERVICE_JITTER (0), LOAD_FRACTION (0.5), RATE (default
#        LOAD_FRACTION × capacity), INTERACTIVE_S (30), SEED (1), LINES (20000), MAX_CONC (256),
#        IDLE_S (10: the idle service settles before phase 0), RAMP_S (10), A_SKIP_S (5), SETTLE_S (5), B_S (30), FINISH (0), PRIORITY (0), BATCH_PRIORITY (1),
#        METRICS (0), METRICS_KEY (metrics-url), FREE_SLOTS (unset: openbatch's default, 1; with METRICS=1, the
#        server's slots kept free for others), UPSTREAM_KEY (replica-a: the api-key openbatch sends,
#        so the slot server counts it as that client), P99_GOAL (1.15), SPARE_GOAL (0.85),
#        CAP_GOAL (0.95), MIN_WINDOW_S (5), BATCH_TIMEOUT_S (600), plus those of bench/lib.sh
#        (BENCH_DB defaults to openbatch_fleet).
# Output: figures with their goals and PASS/FAIL on stdout (and bench/out/fleet-summary.txt); the
# slot server's /stats of each phase in bench/out/fleet-stats-*.json, the interactive results in
# bench/out/fleet-interactive-*.json. Exit 0 only if every check passed. About 3 minutes.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_fleet}"
# shellcheck source-path=SCRIPTDIR source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

SLOTS="${SLOTS:-32}"
SERVICE_MS="${SERVICE_MS:-200}"
SERVICE_JITTER="${SERVICE_JITTER:-0}"
LOAD_FRACTION="${LOAD_FRACTION:-0.5}"
CAPACITY="$(calc "$SLOTS * 1000 / $SERVICE_MS")"
RATE="${RATE:-$(calc "$CAPACITY * $LOAD_FRACTION")}"
INTERACTIVE_S="${INTERACTIVE_S:-30}"
SEED="${SEED:-1}"
LINES="${LINES:-20000}"
MAX_CONC="${MAX_CONC:-256}"
IDLE_S="${IDLE_S:-10}"
RAMP_S="${RAMP_S:-10}"
A_SKIP_S="${A_SKIP_S:-5}"
SETTLE_S="${SETTLE_S:-5}"
B_S="${B_S:-30}"
FINISH="${FINISH:-0}"
PRIORITY="${PRIORITY:-0}"
BATCH_PRIORITY="${BATCH_PRIORITY:-1}"
METRICS="${METRICS:-0}"
METRICS_KEY="${METRICS_KEY:-metrics-url}"
UPSTREAM_KEY="${UPSTREAM_KEY:-replica-a}"
P99_GOAL="${P99_GOAL:-1.15}"
SPARE_GOAL="${SPARE_GOAL:-0.85}"
CAP_GOAL="${CAP_GOAL:-0.95}"
MIN_WINDOW_S="${MIN_WINDOW_S:-5}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-600}"
MODEL="bench-model"

ge() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}'; }
le() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a <= b)}'; }
ratio() { if [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && awk -v b="$2" 'BEGIN{exit !(b > 0)}'; then calc "$1 / $2"; else echo n/a; fi; }

# lines needed so that the batch outlasts both windows: what it can do at full capacity meanwhile
need_lines="$(awk -v c="$CAPACITY" -v r="$RATE" -v ramp="$RAMP_S" -v a="$INTERACTIVE_S" -v s="$SETTLE_S" -v b="$B_S" -v m="$MAX_CONC" \
  'BEGIN{printf "%d", c * (ramp + 5) + (c - r) * (a + 5) + c * (s + b) + 2 * m}')"
((LINES >= need_lines)) || log "LINES=$LINES may run dry before window B ends (about $need_lines wanted); window B will be shorter"

ensure_build
load0="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------- the server ----------
slot_opts=(--slots "$SLOTS" --service-ms "$SERVICE_MS" --model-name "$MODEL")
[[ "$SERVICE_JITTER" != 0 ]] && slot_opts+=(--service-jitter "$SERVICE_JITTER")
[[ "$PRIORITY" == 1 ]] && slot_opts+=(--priority-scheduling)
start_slot_server main "${slot_opts[@]}"
SLOTS_URL="${SLOT_URL[main]}"

# ---------- openbatch (started before phase 0, so that phase 0 runs beside it idle) ----------
recreate_db
extra_up=()
[[ "$METRICS" == 1 ]] && extra_up+=("$METRICS_KEY=$SLOTS_URL/metrics")
[[ -n "${FREE_SLOTS:-}" ]] && extra_up+=("free-slots=$FREE_SLOTS")
add_upstream slots "$SLOTS_URL" "$MODEL" "$MAX_CONC" ${extra_up[@]+"${extra_up[@]}"}
start_replica a fleet-a "$UPSTREAM_KEY"
log "letting the fresh JVM settle for ${IDLE_S}s"
sleep "$IDLE_S"

# ---------- 0: the interactive load alone ----------
log "phase 0: interactive load alone, $RATE/s for ${INTERACTIVE_S}s (capacity $CAPACITY/s)"
slot_reset main
p99_alone="$(run_interactive "$RATE" "$INTERACTIVE_S" "$SLOTS_URL" "$OUT_DIR/fleet-interactive-alone.json" --seed "$SEED")"
alone_json="$(cat "$OUT_DIR/fleet-interactive-alone.json" 2>/dev/null || echo '{}')"
slot_stats main >"$OUT_DIR/fleet-stats-alone.json"
IFS=$'\t' read -r alone_sent alone_ok alone_err alone_p50 alone_rate alone_lag < <(jfields "$alone_json" .sent .ok .errors .p50 .achieved_rate .lag_ms.p99)
alone_srv_p99="$(jsx "$(cat "$OUT_DIR/fleet-stats-alone.json")" 's.classes.interactive.latency_ms.p99')"
log "alone: p50 $alone_p50 ms, p99 $p99_alone ms (server side $alone_srv_p99 ms), $alone_ok/$alone_sent ok, ${alone_rate}/s sent, client lag p99 $alone_lag ms"

INPUT="$OUT_DIR/fleet-input-$LINES.jsonl"
if [[ "$PRIORITY" == 1 ]]; then gen_fleet_input "$LINES" "$INPUT" fl "$MODEL" "$BATCH_PRIORITY"; else gen_fleet_input "$LINES" "$INPUT" fl "$MODEL"; fi
BATCH_ID="$(submit_batch "$INPUT")"
t_create="$(now)"
log "batch $BATCH_ID: $LINES lines, openbatch max-concurrency $MAX_CONC against $SLOTS slots"

# wait until it runs at the server, then RAMP_S more
while :; do
  read -r st done_ total _ _ < <(batch_line "$BATCH_ID")
  running_b="$(jsx "$(slot_stats main)" 's.classes.batch.running')"
  if [[ "$st" == in_progress ]] && ((running_b > 0)); then break; fi
  case "$st" in completed|failed|expired|cancelled) die "batch ended $st before the measurement" ;; esac
  awk -v e="$(elapsed "$t_create")" 'BEGIN{exit !(e>120)}' && die "batch not running at the server 120 s after create (status $st)"
  sleep 0.3
done
t_running="$(now)"
log "batch running at the server $(elapsed "$t_create")s after create; ramp ${RAMP_S}s"
sleep "$RAMP_S"

# progress ID UNTIL_PID: logs the server and the batch every 3 s while process UNTIL_PID lives.
progress() {
  local pid="$1" st done_ total s
  while kill -0 "$pid" 2>/dev/null; do
    sleep 3
    kill -0 "$pid" 2>/dev/null || break
    read -r st done_ total _ _ < <(batch_line "$BATCH_ID")
    s="$(jsx "$(slot_stats main)" '`running ${s.running} (interactive ${s.classes.interactive.running}, batch ${s.classes.batch.running}), waiting ${s.waiting} (interactive ${s.classes.interactive.waiting}, batch ${s.classes.batch.waiting})`')"
    log "  server: $s; batch $st $done_/$total"
  done
}

# ---------- A: interactive load beside the batch ----------
log "phase A: interactive load $RATE/s for ${INTERACTIVE_S}s beside the batch"
slot_reset main
run_interactive "$RATE" "$INTERACTIVE_S" "$SLOTS_URL" "$OUT_DIR/fleet-interactive-batch.json" --seed "$SEED" >/dev/null &
ipid=$!
progress "$ipid"
wait "$ipid" || true
with_json="$(cat "$OUT_DIR/fleet-interactive-batch.json" 2>/dev/null || echo '{}')"
statsA="$(slot_stats main "series=1")"
printf '%s\n' "$statsA" >"$OUT_DIR/fleet-stats-A.json"
IFS=$'\t' read -r with_sent with_ok with_err with_p50 p99_with with_rate with_lag a_t0 a_t1 < <(jfields "$with_json" .sent .ok .errors .p50 .p99 .achieved_rate .lag_ms.p99 .started_at .last_arrival_at)
read -r a_rate a_secs a_done a_minrun a_minin a_busy < <(series_rate "$statsA" batch "$(calc "$a_t0 + $A_SKIP_S")" "$a_t1")
read -r a_rate_all a_secs_all _ a_minrun a_minin _ < <(series_rate "$statsA" batch "$a_t0" "$a_t1")
IFS=$'\t' read -r with_srv_p99 with_srv_q99 a_batch_maxin a_maxwait a_lag99 < <(jfields "$statsA" .classes.interactive.latency_ms.p99 .classes.interactive.queue_ms.p99 .classes.batch.max_in_flight .max_waiting .classes.interactive.timer_lag_ms.p99)
spare="$(calc "$CAPACITY - ${with_rate:-$RATE}")"
p99_ratio="$(ratio "$p99_with" "$p99_alone")"
srv_p99_ratio="$(ratio "$with_srv_p99" "$alone_srv_p99")"
spare_ratio="$(ratio "$a_rate" "$spare")"
log "with the batch: p50 $with_p50 ms, p99 $p99_with ms (server side $with_srv_p99, queue p99 $with_srv_q99), $with_ok/$with_sent ok; batch ${a_rate}/s over ${a_secs}s (spare $spare/s)"

# ---------- B: the batch alone ----------
log "phase B: the batch alone, after ${SETTLE_S}s, for up to ${B_S}s"
sleep "$SETTLE_S"
slot_reset main
b_t0="$(now)"
b_end_reason="window"
while :; do
  sleep 1
  read -r st done_ total _ _ < <(batch_line "$BATCH_ID")
  if [[ "$st" != in_progress ]]; then b_end_reason="batch $st"; break; fi
  if ((total > 0 && total - done_ < 2 * MAX_CONC)); then b_end_reason="batch ran low ($((total - done_)) lines left)"; break; fi
  awk -v e="$(elapsed "$b_t0")" -v m="$B_S" 'BEGIN{exit !(e>=m)}' && break
done
b_t1="$(now)"
statsB="$(slot_stats main "series=1")"
printf '%s\n' "$statsB" >"$OUT_DIR/fleet-stats-B.json"
read -r b_rate b_secs b_done b_minrun b_minin b_busy < <(series_rate "$statsB" batch "$b_t0" "$b_t1")
cap_ratio="$(ratio "$b_rate" "$CAPACITY")"
b_lag99="$(jsx "$statsB" 's.classes.batch.timer_lag_ms.p99')"
log "batch alone: ${b_rate}/s over ${b_secs}s ($b_end_reason), capacity $CAPACITY/s; mean busy slots $b_busy"

# ---------- the end of the batch ----------
files_note=""
if [[ "$FINISH" == 1 ]]; then
  wait_batch "$BATCH_ID" "$BATCH_TIMEOUT_S" || die "batch did not end in ${BATCH_TIMEOUT_S}s"
  check_batch_files fleet "$LINES" fl
  files_note="$FILES_SUMMARY"
else
  cancel_batch "$BATCH_ID" 60 || true
fi
srv_total="$(slot_stats main)"

# ---------- checks and figures ----------
check "interactive load alone: every request answered ($alone_ok/$alone_sent, errors $alone_err)" test "$alone_err" = 0 -a "$alone_sent" -gt 0
check "interactive load with the batch: every request answered ($with_ok/$with_sent, errors $with_err)" test "$with_err" = 0 -a "$with_sent" -gt 0
check "the batch kept lines at the server throughout window A (fewest running $a_minrun, in flight $a_minin)" test "${a_minrun:-0}" -gt 0
window_b_ok() { ge "$b_secs" "$MIN_WINDOW_S" && ge "$b_minin" "$SLOTS"; }
check "window B long enough (${b_secs}s ≥ ${MIN_WINDOW_S}s) and the batch kept every slot busy (fewest batch lines in flight $b_minin ≥ $SLOTS)" window_b_ok
check "openbatch never had more than $MAX_CONC lines at the server (max $a_batch_maxin)" le "$a_batch_maxin" "$MAX_CONC"
[[ "$FINISH" == 1 ]] && check "the batch: every line once, none failed ($files_note)" test "$FILES_OK" = 1
check "GOAL interactive p99 with the batch / alone = $p99_ratio ≤ $P99_GOAL ($p99_with ms / $p99_alone ms)" le "$p99_ratio" "$P99_GOAL"
check "GOAL batch rate beside the interactive load / spare capacity = $spare_ratio ≥ $SPARE_GOAL (${a_rate}/s of $spare/s)" ge "$spare_ratio" "$SPARE_GOAL"
check "GOAL batch rate alone / capacity = $cap_ratio ≥ $CAP_GOAL (${b_rate}/s of $CAPACITY/s)" ge "$cap_ratio" "$CAP_GOAL"

row() { printf '  %-44s %s\n' "$1" "$2"; }
summary="$(
  echo "openbatch fleet benchmark, scenarios A and B  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load average at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg))"
  row "jar" "$OPENBATCH_JAR"
  row "server" "$SLOTS slots × ${SERVICE_MS} ms = capacity $CAPACITY req/s, $([[ "$PRIORITY" == 1 ]] && echo "priority scheduling (batch lines priority $BATCH_PRIORITY)" || echo "one FIFO queue")"
  row "openbatch" "max-concurrency $MAX_CONC$([[ "$METRICS" == 1 ]] && echo ", $METRICS_KEY=$SLOTS_URL/metrics")$([[ -n "${FREE_SLOTS:-}" ]] && echo ", free-slots=$FREE_SLOTS"), batch of $LINES lines"
  row "interactive load" "Poisson $RATE/s (${LOAD_FRACTION} × capacity) for ${INTERACTIVE_S}s, seed $SEED"
  row "0: interactive alone" "p50 $alone_p50 ms, p99 $p99_alone ms (server side p99 $alone_srv_p99 ms); sent $alone_sent (${alone_rate}/s), ok $alone_ok, errors $alone_err; client lag p99 $alone_lag ms"
  row "A: interactive with the batch" "p50 $with_p50 ms, p99 $p99_with ms (server side p99 $with_srv_p99 ms, of it queued p99 $with_srv_q99 ms); sent $with_sent (${with_rate}/s), ok $with_ok, errors $with_err; client lag p99 $with_lag ms"
  row "A: p99 ratio (goal ≤ $P99_GOAL)" "$p99_ratio  $(le "$p99_ratio" "$P99_GOAL" && echo PASS || echo FAIL)  (server side: $srv_p99_ratio)"
  row "A: batch rate / spare (goal ≥ $SPARE_GOAL)" "$spare_ratio  $(ge "$spare_ratio" "$SPARE_GOAL" && echo PASS || echo FAIL)  (${a_rate}/s over the last ${a_secs}s of the window, ${a_rate_all}/s over all ${a_secs_all}s; spare $CAPACITY − ${with_rate} = $spare/s)"
  row "A: server" "max waiting $a_maxwait, batch max in flight $a_batch_maxin, mean busy slots $a_busy of $SLOTS; slot-server timer lag p99 $a_lag99 ms"
  row "B: batch rate / capacity (goal ≥ $CAP_GOAL)" "$cap_ratio  $(ge "$cap_ratio" "$CAP_GOAL" && echo PASS || echo FAIL)  (${b_rate}/s over ${b_secs}s, $b_end_reason; mean busy slots $b_busy of $SLOTS; timer lag p99 $b_lag99 ms)"
  row "batch" "$([[ "$FINISH" == 1 ]] && echo "$files_note" || batch_line "$BATCH_ID" | awk '{printf "cancelled after B: status %s, completed %s, failed %s of %s", $1, $4, $5, $3}')"
  row "server totals in phase B" "$(jsx "$srv_total" '`batch ${s.classes.batch.done} done, ${s.classes.batch.cancelled} cancelled; clients ${JSON.stringify(Object.fromEntries(Object.entries(s.clients).map(([k, v]) => [k, v.requests])))}`')"
  printf '%s\n' "${SUMMARY[@]}"
  echo "RESULT: $([[ $OK == 1 ]] && echo PASS || echo FAIL)"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/fleet-summary.txt"
[[ $OK == 1 ]]
