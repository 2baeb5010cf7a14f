#!/usr/bin/env bash
# bench/fleet-replicas.sh: one upstream cap across replicas (issue 19). One slot server
# (bench/slot-server.mjs: SLOTS (32) slots × SERVICE_MS (200 ms)), openbatch replicas on one database,
# each sending with its own upstream api-key (replica-a, replica-b, replica-c) so that the server
# counts them apart, every one configured with max-concurrency CAP (24): the cap is what the
# server takes from all of them together.
#
#   1. replicas a and b, one batch of LINES lines; SETTLE_S (10 s) after it runs at the server, for
#      WINDOW_S (15 s): each replica's lines done at the server against an equal part (goal: within
#      ±SHARE_TOLERANCE, 25%);
#   2. replica c joins: the time from its being ready until its share is CAP / 3 (goal: within a
#      lease); SETTLE_S later, for WINDOW_S: the same parts as in 1, with three;
#   3. kill -9 of replica c: the time until a's and b's lines at the server add up to CAP again,
#      against the lease (goal: ≤ lease + TAKEOVER_SLACK_S, 2 s: one share round and one service
#      time past it; the dead replica's heartbeat lapses at most one lease after its last beat);
#   all along (from the start of phase 1 to the end of phase 3): the most lines in flight at the
#   server (running + waiting, every client) (goal: ≤ CAP).
#   Then the batch is cancelled.
#
#   bash bench/fleet-replicas.sh
#   LEASE=10s WINDOW_S=10 bash bench/fleet-replicas.sh       # quicker
#
# Knobs: SLOTS (32), SERVICE_MS (200), CAP (24), LINES (30000), LEASE (30s: openbatch.engine.lease of
#        every replica), SETTLE_S (10), WINDOW_S (15), SHARE_TOLERANCE (0.25), TAKEOVER_SLACK_S (2),
#        plus those of bench/lib.sh (BENCH_DB defaults to openbatch_fleet).
# Output: figures with PASS/FAIL on stdout (and bench/out/fleet-replicas-summary.txt); the slot
# server's /stats at the end in bench/out/fleet-replicas-stats.json. Exit 0 only if every check
# passed. About 2 minutes with the default lease.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_fleet}"
# shellcheck source-path=SCRIPTDIR source=fleet-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fleet-lib.sh"

SLOTS="${SLOTS:-32}"
SERVICE_MS="${SERVICE_MS:-200}"
CAP="${CAP:-24}"
LINES="${LINES:-30000}"
LEASE="${LEASE:-30s}"
SETTLE_S="${SETTLE_S:-10}"
WINDOW_S="${WINDOW_S:-15}"
SHARE_TOLERANCE="${SHARE_TOLERANCE:-0.25}"
TAKEOVER_SLACK_S="${TAKEOVER_SLACK_S:-2}"
MODEL="bench-model"
lease_s="$(awk -v l="$LEASE" 'BEGIN{ if (l ~ /ms$/) printf "%.3f", l / 1000; else if (l ~ /m$/) printf "%.3f", l * 60; else printf "%.3f", l + 0 }')"

ge() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a >= b)}'; }
le() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a <= b)}'; }

ensure_build
load0="$(cut -d' ' -f1-3 /proc/loadavg)"

start_slot_server main --slots "$SLOTS" --service-ms "$SERVICE_MS" --model-name "$MODEL"
recreate_db
add_upstream slots "${SLOT_URL[main]}" "$MODEL" "$CAP"
replica() { start_replica "$1" "fleet-$1" "replica-$1" "-Dopenbatch.engine.lease=$LEASE"; }
replica a
replica b

# done_by_client STATS: "a b c" lines done so far at the server by each replica's key
done_by_client() { jsx "$1" '["a","b","c"].map((r) => (s.clients["replica-" + r] || {done: 0}).done).join(" ")'; }
# in_flight_of STATS REPLICA...: lines of these replicas at the server now (running + waiting)
in_flight_of() {
  local st="$1"; shift
  jsx "$st" "[$(printf '"replica-%s",' "$@")].reduce((n, k) => n + ((s.clients[k] || {}).running || 0) + ((s.clients[k] || {}).waiting || 0), 0)"
}
# window NAME REPLICA...: WINDOW_S seconds of lines done per replica; checks each against an equal part.
window() {
  local name="$1"; shift
  local -a before after
  read -r -a before < <(done_by_client "$(slot_stats main)")
  sleep "$WINDOW_S"
  read -r -a after < <(done_by_client "$(slot_stats main)")
  local i r all=0 parts="" idx
  declare -A part=()
  for r in "$@"; do
    case "$r" in a) idx=0 ;; b) idx=1 ;; c) idx=2 ;; esac
    part[$r]=$(( after[idx] - before[idx] ))
    all=$(( all + part[$r] ))
  done
  local equal
  equal="$(calc "$all / $#")"
  for r in "$@"; do
    local dev
    dev="$(calc "(${part[$r]} - $equal) / ($equal > 0 ? $equal : 1)")"
    parts+="$r ${part[$r]} ($(calc "100 * ${part[$r]} / ($all > 0 ? $all : 1)")%), "
    check "$name: replica $r did ${part[$r]} of $all lines in ${WINDOW_S}s, $(calc "100 * $dev")% from an equal part $equal (goal within ±$(calc "100 * $SHARE_TOLERANCE")%)" \
      le "$(awk -v d="$dev" 'BEGIN{printf "%.3f", d < 0 ? -d : d}')" "$SHARE_TOLERANCE"
  done
  note "$name: ${parts%, }; $(calc "$all / $WINDOW_S") lines/s in all (server capacity $(calc "$SLOTS * 1000 / $SERVICE_MS")/s, cap $CAP → at most $(calc "$CAP * 1000 / $SERVICE_MS")/s)"
}

INPUT="$OUT_DIR/fleet-replicas-input-$LINES.jsonl"
gen_fleet_input "$LINES" "$INPUT" fr "$MODEL"
use_replica a
BATCH_ID="$(submit_batch "$INPUT")"
t_create="$(now)"
log "batch $BATCH_ID: $LINES lines, max-concurrency $CAP against $SLOTS slots, lease $LEASE"
while :; do
  read -r st _ _ _ _ < <(batch_line "$BATCH_ID")
  running_b="$(jsx "$(slot_stats main)" 's.classes.batch.running')"
  if [[ "$st" == in_progress ]] && ((running_b > 0)); then break; fi
  case "$st" in completed|failed|expired|cancelled) die "batch ended $st before the measurement" ;; esac
  awk -v e="$(elapsed "$t_create")" 'BEGIN{exit !(e>120)}' && die "batch not running at the server 120 s after create (status $st)"
  sleep 0.3
done
log "batch running at the server $(elapsed "$t_create")s after create"
slot_reset main   # from here on, max_in_flight covers the join of c and the kill

# ---------- 1: two replicas ----------
sleep "$SETTLE_S"
log "phase 1: replicas a and b for ${WINDOW_S}s"
window "two replicas" a b
note "two replicas: openbatch_upstream_share a $(replica_metric a openbatch_upstream_share), b $(replica_metric b openbatch_upstream_share)"

# ---------- 2: three replicas ----------
replica c
t_joined="$(now)"
# how long until the newcomer has its share (its openbatch_upstream_share, from its ready answer)
join=""
while :; do
  sc="$(replica_metric c openbatch_upstream_share)"
  if [[ "$sc" =~ ^[0-9.]+$ ]] && ge "$sc" "$((CAP / 3))"; then join="$(elapsed "$t_joined")"; break; fi
  awk -v e="$(elapsed "$t_joined")" -v m="$lease_s" 'BEGIN{exit !(e>m+10)}' && break
  sleep 0.2
done
check "replica c joins: its share is $((CAP / 3)) after ${join:-(not within lease + 10 s)} s from its start (goal ≤ lease $lease_s s)" le "${join:-999999}" "$lease_s"
sleep "$SETTLE_S"
log "phase 2: replicas a, b and c for ${WINDOW_S}s"
window "three replicas" a b c
note "three replicas: openbatch_upstream_share a $(replica_metric a openbatch_upstream_share), b $(replica_metric b openbatch_upstream_share), c $(replica_metric c openbatch_upstream_share)"

# ---------- 3: kill one ----------
read -r st done_ total _ _ < <(batch_line "$BATCH_ID")
need="$(awk -v c="$CAP" -v ms="$SERVICE_MS" -v l="$lease_s" 'BEGIN{printf "%d", c * 1000 / ms * (l + 10)}')"
((total - done_ > need)) || log "only $((total - done_)) lines left (about $need wanted): the batch may run dry during the takeover (raise LINES)"
before="$(in_flight_of "$(slot_stats main)" a b)"
kill9_replica c
t_kill="$(now)"
limit="$(calc "$lease_s + $TAKEOVER_SLACK_S + 10")"
takeover=""
while :; do
  sum="$(in_flight_of "$(slot_stats main)" a b)"
  if ((sum >= CAP)); then takeover="$(elapsed "$t_kill")"; break; fi
  awk -v e="$(elapsed "$t_kill")" -v m="$limit" 'BEGIN{exit !(e>m)}' && break
  sleep 0.2
done
log "a and b had $before lines at the server before the kill, $CAP again ${takeover:-never} s after it"
check "kill -9 of c: a and b back to $CAP lines at the server after ${takeover:-(not within ${limit}s)} s (goal ≤ lease $lease_s s + $TAKEOVER_SLACK_S s)" \
  le "${takeover:-999999}" "$(calc "$lease_s + $TAKEOVER_SLACK_S")"
note "after the kill: openbatch_upstream_share a $(replica_metric a openbatch_upstream_share), b $(replica_metric b openbatch_upstream_share)"

stats="$(slot_stats main)"
printf '%s\n' "$stats" >"$OUT_DIR/fleet-replicas-stats.json"
max_in="$(jsx "$stats" 's.max_in_flight')"
check "never more than $CAP lines in flight at the server, from phase 1 through the join and the kill (max $max_in)" le "$max_in" "$CAP"
note "per replica at the server since phase 1: $(jsx "$stats" 'Object.entries(s.clients).map(([k, v]) => `${k} done ${v.done}, max in flight ${v.max_in_flight}`).join("; ")')"
use_replica a
cancel_batch "$BATCH_ID" 60 || true

summary="$(
  echo "openbatch fleet benchmark, one cap across replicas  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load average at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '  %-20s %s\n' "jar" "$OPENBATCH_JAR"
  printf '  %-20s %s\n' "server" "$SLOTS slots × ${SERVICE_MS} ms; openbatch max-concurrency $CAP, lease $LEASE; c joined at +$(elapsed "$t_create" "$t_joined")s"
  printf '%s\n' "${SUMMARY[@]}"
  echo "RESULT: $([[ $OK == 1 ]] && echo PASS || echo FAIL)"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/fleet-replicas-summary.txt"
[[ $OK == 1 ]]
