#!/usr/bin/env bash
# bench/fleet-failover.sh: two upstreams for one model, one stopped mid-batch.
#
# Two slot servers (bench/slot-server.mjs: SLOTS slots, SERVICE_MS per request each) are both
# configured for the same model, so openbatch spreads the batch's LINES lines over them. Once
# STOP_AT lines are done (a quarter by default), server `two`'s API port is stopped (its listening
# socket closed: new connections are refused, open ones destroyed, what it held dropped). openbatch
# should drain it (openbatch_upstream_drained{upstream="two"} = 1) and let `one` carry the rest:
# every line once, none failed. With RESTART_S > 0, `two` listens again after RESTART_S seconds and
# should take lines again (it is probed every 2 s).
#
#   bash bench/fleet-failover.sh
#   LINES=3000 bash bench/fleet-failover.sh            # quicker
#   RESTART_S=5 bash bench/fleet-failover.sh           # two comes back mid-batch
#
# Knobs: SLOTS (16), SERVICE_MS (100), LINES (6000), MAX_CONC (32, each upstream), STOP_AT
#        (LINES / 4), RESTART_S (0: stays down), BATCH_TIMEOUT_S (600), MODEL (bench-model), plus
#        those of bench/lib.sh (BENCH_DB defaults to openbatch_failover).
# Output: PASS/FAIL lines and the figures on stdout (and bench/out/fleet-failover-summary.txt).
# Exit 0 only if every check passed.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_failover}"
# shellcheck source-path=SCRIPTDIR source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

SLOTS="${SLOTS:-16}"
SERVICE_MS="${SERVICE_MS:-100}"
LINES="${LINES:-6000}"
MAX_CONC="${MAX_CONC:-32}"
STOP_AT="${STOP_AT:-$((LINES / 4))}"
RESTART_S="${RESTART_S:-0}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-600}"
MODEL="${MODEL:-bench-model}"

ensure_build

# ---------- two servers, one model ----------
start_slot_server one --slots "$SLOTS" --service-ms "$SERVICE_MS" --model-name "$MODEL"
start_slot_server two --slots "$SLOTS" --service-ms "$SERVICE_MS" --model-name "$MODEL"
recreate_db
add_upstream one "${SLOT_URL[one]}" "$MODEL" "$MAX_CONC"
add_upstream two "${SLOT_URL[two]}" "$MODEL" "$MAX_CONC"
start_replica a fleet-a

# upstream_sample METRIC UPSTREAM: the value of METRIC{upstream="UPSTREAM"} on replica a ("missing" if none)
upstream_sample() {
  curl -sS -m 10 "${REPLICA_MGMT_URL[a]}/q/metrics" 2>/dev/null \
    | awk -v name="$1" -v up="upstream=\"$2\"" '$0 !~ /^#/ && index($0, name "{") == 1 && index($0, up) { v = $NF; found = 1 }
        END { if (found) printf "%.0f\n", v; else print "missing" }'
}

INPUT="$OUT_DIR/fleet-failover-input-$LINES.jsonl"
gen_fleet_input "$LINES" "$INPUT" fo "$MODEL"
BATCH_ID="$(submit_batch "$INPUT")"
t0="$(now)"
log "batch $BATCH_ID: $LINES lines over two upstreams ($SLOTS slots × ${SERVICE_MS} ms each, max-concurrency $MAX_CONC each)"

wait_batch "$BATCH_ID" "$BATCH_TIMEOUT_S" "$STOP_AT" || die "batch did not reach $STOP_AT lines in ${BATCH_TIMEOUT_S}s"
done_two_before="$(jsx "$(slot_stats two)" 's.classes.batch.done')"
slot_stop two "$([[ "$RESTART_S" -gt 0 ]] && echo "$RESTART_S")"
t_stop="$(now)"
log "server two stopped at $BATCH_DONE lines done (two had answered $done_two_before)"

drained_seen=0
for ((i = 0; i < 100; i++)); do
  [[ "$(upstream_sample openbatch_upstream_drained two)" == 1 ]] && { drained_seen=1; break; }
  sleep 0.1
done
log "drained seen: $drained_seen ($(elapsed "$t_stop")s after the stop)"

wait_batch "$BATCH_ID" "$BATCH_TIMEOUT_S" || die "batch did not end in ${BATCH_TIMEOUT_S}s"
total_s="$(elapsed "$t0")"
check_batch_files fleet-failover "$LINES" fo
stats_one="$(slot_stats one)"; stats_two="$(slot_stats two)"
done_one="$(jsx "$stats_one" 's.classes.batch.done')"
done_two="$(jsx "$stats_two" 's.classes.batch.done')"
aborted_two="$(jsx "$stats_two" 's.classes.batch.aborted')"
drains="$(upstream_sample openbatch_upstream_drains_total two)"
drained_end="$(upstream_sample openbatch_upstream_drained two)"
failed="$(jfields "$BATCH_JSON" .request_counts.failed)"

check "server two answered lines before its stop ($done_two_before)" test "${done_two_before:-0}" -gt 0
check "openbatch drained two after its stop (openbatch_upstream_drained = 1 seen within 10 s)" test "$drained_seen" = 1
check "openbatch_upstream_drains_total{upstream=\"two\"} = $drains ≥ 1" test "${drains//missing/0}" -ge 1
check "the batch: every line once, none failed ($FILES_SUMMARY)" test "$FILES_OK" = 1 -a "$failed" = 0
if [[ "$RESTART_S" -gt 0 ]]; then
  check "two took lines again after its restart (done $done_two > $done_two_before before the stop; drained now: $drained_end)" \
    test "${done_two:-0}" -gt "${done_two_before:-0}" -a "$drained_end" = 0
fi

summary="$(
  echo "openbatch fleet failover  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores)"
  printf '  %-28s %s\n' "servers" "two × $SLOTS slots × ${SERVICE_MS} ms, max-concurrency $MAX_CONC each, one model"
  printf '  %-28s %s\n' "batch" "$LINES lines in ${total_s}s; two stopped at $STOP_AT lines$([[ "$RESTART_S" -gt 0 ]] && echo ", back after ${RESTART_S}s")"
  printf '  %-28s %s\n' "answered by one / two" "$done_one / $done_two (two answered $done_two_before before its stop; $aborted_two dropped by the stop)"
  printf '  %-28s %s\n' "drains of two" "$drains (drained at the end: $drained_end)"
  printf '  %-28s %s\n' "files" "$FILES_SUMMARY"
  printf '%s\n' "${SUMMARY[@]}"
  echo "RESULT: $([[ $OK == 1 ]] && echo PASS || echo FAIL)"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/fleet-failover-summary.txt"
[[ $OK == 1 ]]
