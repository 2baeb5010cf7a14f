#!/usr/bin/env bash
# bench/crash.sh: kill -9 of openbatch processes sharing one database, and what it costs.
#
# The claims: "kill -9 of an openbatch process at any moment, then a restart: every batch
# finishes, each line exactly once in the files; the upstream sees at most the lines that were in
# flight or answered but not yet written at the crash a second time (at most max-concurrency +
# unwritten-max per upstream)" and "two or more processes on one database share the work;
# with no crash, no line is sent upstream twice".
#
# Two service processes A and B (node ids crash-a, crash-b, lease LEASE, max-concurrency
# CONCURRENCY each) on one fresh database (openbatch_crash), one fake upstream that counts the
# requests it sees per key (the key is messages[0].content, which every line sets to its
# custom_id). Three phases:
#
#   1. crash mid-run: P1_LINES (5,000) lines at P1_LATENCY_MS (200 ms); when KILL_AT_PCT (40%)
#      are done, kill -9 A; record the fake's in-flight count and, from the database, the lines A
#      held (state running, claimed_by crash-a); restart A after RESTART_AFTER_S (3 s). Checks:
#      the batch completes, each custom_id exactly once in output+error, counts agree; upstream
#      per-key counts: every key seen, none more than twice, and every key seen twice is one that
#      A held AND the upstream had already seen at the kill (a line in flight at the crash).
#   2. no crash: P2_LINES (3,000) lines, both processes: every key seen exactly once, both
#      processes finished some lines (their openbatch_lines_finished_total counters).
#   3. kills during batch-level steps: the fake is restarted (same port) with P3_LATENCY_MS
#      (20 ms); a P3_LINES (50,000) line batch; kill -9 the process that holds the batch's claim
#      while it validates, restart it; later kill -9 the one that holds it while it finalizes
#      (if the poll catches finalization), restart it. Checks: completes, each line exactly once
#      in the files, every key seen exactly once upstream (nothing was in flight at either kill).
#
#   bash bench/crash.sh
#   OPENBATCH_JAR=/tmp/ob-app/quarkus-run.jar PHASES="1 2" bash bench/crash.sh
#
# Knobs: PHASES ("1 2 3"), P1_LINES, P1_LATENCY_MS, KILL_AT_PCT, P2_LINES, P3_LINES,
#        P3_LATENCY_MS, VAL_KILL_AFTER_S (0.08: how long after the validation was seen claimed it is
#        killed), CONCURRENCY (50), LEASE (5s), RESTART_AFTER_S (3),
#        RESTART_ID (same: the restarted process keeps its node id; new: it gets crash-a-2, ...),
#        BATCH_TIMEOUT_S (180), plus those in bench/lib.sh (BENCH_DB defaults to openbatch_crash).
# Output: PASS/FAIL per check and a summary (also bench/out/crash-summary.txt). Exit 0 only if
# every check passed.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_crash}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PHASES="${PHASES:-1 2 3}"
P1_LINES="${P1_LINES:-5000}"
P1_LATENCY_MS="${P1_LATENCY_MS:-200}"
KILL_AT_PCT="${KILL_AT_PCT:-40}"
P2_LINES="${P2_LINES:-3000}"
P3_LINES="${P3_LINES:-50000}"
VAL_KILL_AFTER_S="${VAL_KILL_AFTER_S:-0.08}"
P3_LATENCY_MS="${P3_LATENCY_MS:-20}"
CONCURRENCY="${CONCURRENCY:-50}"
UNWRITTEN_MAX=128 # openbatch.engine.unwritten-max's default: answers that may wait for their write beyond the slots
LEASE="${LEASE:-5s}"
RESTART_AFTER_S="${RESTART_AFTER_S:-3}"
RESTART_ID="${RESTART_ID:-same}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-180}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"

# checks and summary: check / note from lib.sh (OK, SUMMARY)

# ---------- two (or more) service processes ----------
declare -A NODE_PID=() NODE_PORT=() NODE_MGMT_PORT=() NODE_URL=() NODE_MGMT_URL=() NODE_ID=() NODE_STARTS=()
stop_nodes() {
  local n
  for n in "${!NODE_PID[@]}"; do stop_pid "${NODE_PID[$n]}" "service $n"; done
}
CLEANUP_HOOKS+=(stop_nodes)

# start_node NAME: starts (or restarts) process NAME on its own port, same database and upstream.
start_node() {
  local name="$1" id
  NODE_STARTS[$name]=$(( ${NODE_STARTS[$name]:-0} + 1 ))
  [[ -n "${NODE_PORT[$name]:-}" ]] || NODE_PORT[$name]="$(free_port)"
  [[ -n "${NODE_MGMT_PORT[$name]:-}" ]] || NODE_MGMT_PORT[$name]="$(free_port)"
  id="crash-$name"
  if [[ "$RESTART_ID" == new && ${NODE_STARTS[$name]} -gt 1 ]]; then id="crash-$name-${NODE_STARTS[$name]}"; fi
  NODE_ID[$name]="$id"
  SVC_PORT="${NODE_PORT[$name]}"
  MGMT_PORT="${NODE_MGMT_PORT[$name]}"
  start_service "crash-$name-${NODE_STARTS[$name]}" "$MODEL" "$CONCURRENCY" \
    "-Dopenbatch.engine.node-id=$id" "-Dopenbatch.engine.lease=$LEASE"
  NODE_PID[$name]="$SVC_PID"
  NODE_URL[$name]="$SVC_URL"
  NODE_MGMT_URL[$name]="$MGMT_URL"
  SVC_PID=""   # stop_nodes stops it, not lib.sh's cleanup
  log "process $name: node id $id, pid ${NODE_PID[$name]}, $SVC_URL"
}
use_node() { SVC_URL="${NODE_URL[$1]}"; MGMT_URL="${NODE_MGMT_URL[$1]}"; }
kill9_node() {
  local name="$1"
  kill -KILL "${NODE_PID[$name]}" 2>/dev/null || true
  wait "${NODE_PID[$name]}" 2>/dev/null || true
  log "kill -9 process $name (pid ${NODE_PID[$name]}, node id ${NODE_ID[$name]})"
}
node_of_id() {   # node_of_id NODE_ID: which process name uses it
  local n
  for n in "${!NODE_ID[@]}"; do [[ "${NODE_ID[$n]}" == "$1" ]] && { echo "$n"; return 0; }; done
  return 1
}
db() { psql_db -d "$BENCH_DB" "$@"; }
# finished_by NAME: the process's openbatch_lines_finished_total{outcome="succeeded"} counter
finished_by() {
  curl -sS "${NODE_MGMT_URL[$1]}/q/metrics" 2>/dev/null |
    awk '/^openbatch_lines_finished_total\{/ && /outcome="succeeded"/ {s += $NF} END {printf "%d\n", s}'
}
# stuck_report ID: what the database says when a batch does not end. A line's claim lasts as long
# as its holder's heartbeat (engine_nodes): for each holder, how old that heartbeat is in ms
# ("no-row": no heartbeat row, i.e. declared dead or gone); the batch's own step claim still has
# a lease_until (shown as lease_until - now in ms), plus the age of its holder's heartbeat.
stuck_report() {
  local ms="(extract(epoch from clock_timestamp())*1000)::bigint"
  log "batch $1 did not end; rows not finished by state/claimed_by (holder's heartbeat age in ms, or no-row):"
  db -F ' ' -c "select r.state, coalesce(r.claimed_by,'-'), count(*),
                       case when r.claimed_by is null then '-' when n.node is null then 'no-row'
                            else ($ms - n.heartbeat)::text end
                  from requests r left join engine_nodes n on n.node = r.claimed_by
                 where r.batch_id = '$1' and r.state in ('queued','running') group by 1, 2, 4" >&2 || true
  log "the batch: status, claimed_by, lease_until - now (ms), validated, holder's heartbeat age (ms)"
  db -F ' ' -c "select b.status, coalesce(b.claimed_by,'-'), b.lease_until - $ms, b.validated,
                       case when b.claimed_by is null then '-' when n.node is null then 'no-row'
                            else ($ms - n.heartbeat)::text end
                  from batches b left join engine_nodes n on n.node = b.claimed_by where b.id = '$1'" >&2 || true
  log "heartbeats: node, age (ms), started (ms ago)"
  db -F ' ' -c "select node, $ms - heartbeat, $ms - started_at from engine_nodes order by node" >&2 || true
}
run_batch() {   # run_batch TAG N PREFIX: generates, uploads and creates; sets BID
  local input="$OUT_DIR/crash-$1-input.jsonl" fid batch
  gen_chat_input "$2" "$input" "$3" "$MODEL"
  fid="$(upload_file "$input")"
  batch="$(create_batch "$fid" "$ENDPOINT")"
  BID="$(jfield "$batch" .id)"
  [[ "$BID" == batch* ]] || die "create answered no batch id: $batch"
  log "[$1] $2 lines: $fid -> $BID"
}

ensure_build
recreate_db
start_fake crash --latency-ms "$P1_LATENCY_MS"
start_node a
start_node b

# ================= phase 1: kill -9 during the run =================
if [[ " $PHASES " == *" 1 "* ]]; then
  log "=== phase 1: $P1_LINES lines, ${P1_LATENCY_MS} ms, kill -9 process a at ${KILL_AT_PCT}% ==="
  curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
  use_node a
  run_batch p1 "$P1_LINES" c1
  use_node b
  t_create="$(now)"
  if wait_batch "$BID" "$BATCH_TIMEOUT_S" $((P1_LINES * KILL_AT_PCT / 100)); then :; fi
  inflight_before="$(jfield "$(curl -sS "$FAKE_URL/stats?by_key=0")" .in_flight)"
  done_at_kill="$BATCH_DONE"
  kill9_node a
  t_kill="$(now)"
  curl -sS "$FAKE_URL/stats" >"$OUT_DIR/crash-p1-stats-at-kill.json"
  inflight_after="$(jfield "$(cat "$OUT_DIR/crash-p1-stats-at-kill.json")" .in_flight)"
  # What A held at its death: claimed lines (in flight, answered but not yet written, or stock).
  db -c "select custom_id from requests where batch_id = '$BID' and state = 'running' and claimed_by = 'crash-a' order by line" \
    >"$OUT_DIR/crash-p1-held-by-a.txt"
  held_b="$(db -c "select count(*) from requests where batch_id = '$BID' and state = 'running' and claimed_by = 'crash-b'")"
  held_a="$(wc -l <"$OUT_DIR/crash-p1-held-by-a.txt")"
  # Of those, the ones the upstream had already received: A's lines in flight at the crash.
  inflight_a="$(node -e '
    const fs = require("fs"); const k = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).by_key || {};
    const held = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean);
    const sent = held.filter((h) => (k[h] || 0) > 0);
    fs.writeFileSync(process.argv[3], sent.join("\n") + (sent.length ? "\n" : ""));
    console.log(sent.length);' "$OUT_DIR/crash-p1-stats-at-kill.json" "$OUT_DIR/crash-p1-held-by-a.txt" "$OUT_DIR/crash-p1-inflight-a.txt")"
  log "at the kill: $done_at_kill/$P1_LINES done; upstream in flight $inflight_before (both processes); A held $held_a lines, $inflight_a of them already sent; B held $held_b"
  sleep "$RESTART_AFTER_S"
  start_node a
  log "process a back $(elapsed "$t_kill")s after the kill"
  if wait_batch "$BID" "$BATCH_TIMEOUT_S"; then p1_end=1; else p1_end=0; stuck_report "$BID"; fi
  p1_s="$(elapsed "$t_create")"
  check "phase 1: batch ended (status $BATCH_STATUS, ${p1_s}s after create)" [ "$p1_end" = 1 ]
  check_batch_files crash-p1 "$P1_LINES" c1
  check "phase 1: each custom_id exactly once in the files, counts agree ($FILES_SUMMARY)" [ "$FILES_OK" = 1 ]
  curl -sS "$FAKE_URL/stats" >"$OUT_DIR/crash-p1-stats-end.json"
  read -r missing once twice more maxc < <(key_counts "$OUT_DIR/crash-p1-stats-end.json" "$P1_LINES" c1 "$OUT_DIR/crash-p1-dups.txt") || true
  outside="$(comm -23 <(sort "$OUT_DIR/crash-p1-dups.txt") <(sort "$OUT_DIR/crash-p1-inflight-a.txt") | wc -l)"
  check "phase 1: upstream saw every line (missing $missing)" [ "$missing" = 0 ]
  check "phase 1: no line sent more than twice (max $maxc, >2: $more)" [ "$more" = 0 ]
  check "phase 1: lines sent twice ($twice) <= A's lines sent and unwritten at the crash ($inflight_a; A's max-concurrency $CONCURRENCY)" [ "$twice" -le "$inflight_a" ]
  check "phase 1: A's lines sent and unwritten at the crash ($inflight_a) <= max-concurrency + unwritten-max ($CONCURRENCY + $UNWRITTEN_MAX)" \
    [ "$inflight_a" -le $((CONCURRENCY + UNWRITTEN_MAX)) ]
  check "phase 1: every line sent twice was in flight from A at the crash (outside that set: $outside)" [ "$outside" = 0 ]
  note "phase 1 figures: killed at $done_at_kill/$P1_LINES done; upstream in flight at the kill $inflight_before (both processes; $inflight_after right after); A held $held_a claimed lines, $inflight_a sent; lines sent twice $twice; run ${p1_s}s"
fi

# ================= phase 2: no crash, two processes =================
if [[ " $PHASES " == *" 2 "* ]]; then
  log "=== phase 2: $P2_LINES lines, no crash, two processes ==="
  curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
  fa0="$(finished_by a)"; fb0="$(finished_by b)"
  use_node b
  run_batch p2 "$P2_LINES" c2
  use_node a
  t_create="$(now)"
  if wait_batch "$BID" "$BATCH_TIMEOUT_S"; then p2_end=1; else p2_end=0; stuck_report "$BID"; fi
  p2_s="$(elapsed "$t_create")"
  fa=$(( $(finished_by a) - fa0 )); fb=$(( $(finished_by b) - fb0 ))
  check "phase 2: batch ended (status $BATCH_STATUS, ${p2_s}s)" [ "$p2_end" = 1 ]
  check_batch_files crash-p2 "$P2_LINES" c2
  check "phase 2: each custom_id exactly once in the files, counts agree ($FILES_SUMMARY)" [ "$FILES_OK" = 1 ]
  curl -sS "$FAKE_URL/stats" >"$OUT_DIR/crash-p2-stats-end.json"
  read -r missing once twice more maxc < <(key_counts "$OUT_DIR/crash-p2-stats-end.json" "$P2_LINES" c2) || true
  up_req="$(jfield "$(cat "$OUT_DIR/crash-p2-stats-end.json")" .requests)"
  check "phase 2: every line sent upstream exactly once (once $once, missing $missing, twice+ $((twice + more)), requests $up_req)" \
    [ "$once" = "$P2_LINES" -a "$up_req" = "$P2_LINES" ]
  check "phase 2: both processes did work (a finished $fa, b finished $fb, sum $((fa + fb)))" [ "$fa" -gt 0 -a "$fb" -gt 0 -a $((fa + fb)) = "$P2_LINES" ]
fi

# ================= phase 3: kill -9 during validation and during finalization =================
if [[ " $PHASES " == *" 3 "* ]]; then
  log "=== phase 3: $P3_LINES lines, ${P3_LATENCY_MS} ms, kill -9 during validation and finalization ==="
  stop_pid "$FAKE_PID" "fake upstream"
  start_fake crash-p3 --latency-ms "$P3_LATENCY_MS" --port "$FAKE_PORT"
  use_node a
  run_batch p3 "$P3_LINES" c3
  t_create="$(now)"
  # (a) validation: wait for a process to claim the batch, then kill it mid-validation
  val_killed=""; val_note="not caught"
  for ((i = 0; i < 3000; i++)); do
    IFS='|' read -r st by validated < <(db -c "select status, coalesce(claimed_by, ''), validated from batches where id = '$BID'") || true
    if [[ "$st" == validating && -n "$by" && "$validated" == f ]]; then
      # into the insert of its rows: a valid index is judged by one aggregate (~30 ms), then the
      # 50,000 rows take ~200 ms to insert (0.3 s, before the aggregate, was past the whole step)
      sleep "$VAL_KILL_AFTER_S"
      IFS='|' read -r st by validated < <(db -c "select status, coalesce(claimed_by, ''), validated from batches where id = '$BID'") || true
      if [[ "$st" == validating && -n "$by" ]] && val_killed="$(node_of_id "$by")"; then
        kill9_node "$val_killed"
        rows="$(db -c "select count(*) from requests where batch_id = '$BID'")"
        val_note="killed $val_killed ($by) $(elapsed "$t_create")s after create, validating; request rows visible after the kill: $rows"
      fi
      break
    fi
    [[ "$st" == validating ]] || break
    sleep 0.02
  done
  log "validation kill: $val_note"
  if [[ -n "$val_killed" ]]; then
    other=a; [[ "$val_killed" == a ]] && other=b
    use_node "$other"
    sleep "$RESTART_AFTER_S"
    start_node "$val_killed"
  fi
  # (b) finalization: wait for finalizing with a claim, kill its holder
  fin_killed=""; fin_note="not caught"; t_last=0
  t0="$(now)"
  while :; do
    IFS='|' read -r st by < <(db -c "select status, coalesce(claimed_by, '') from batches where id = '$BID'") || true
    if [[ "$st" == finalizing && -n "$by" ]]; then
      if fin_killed="$(node_of_id "$by")"; then
        kill9_node "$fin_killed"
        fin_note="killed $fin_killed ($by) $(elapsed "$t_create")s after create, finalizing; output files already written: $(db -c "select count(*) from files where producer_batch_id = '$BID'")"
      fi
      break
    fi
    [[ "$st" == validating || "$st" == in_progress ]] || break
    if awk -v e="$(elapsed "$t0")" -v m="$BATCH_TIMEOUT_S" 'BEGIN{exit !(e>m)}'; then break; fi
    if awk -v e="$(elapsed "$t0")" -v l="$t_last" 'BEGIN{exit !(e-l>=3)}'; then
      log "phase 3: $st, $(db -c "select completed + failed from batches where id = '$BID'")/$P3_LINES done"; t_last="$(elapsed "$t0")"
    fi
    sleep 0.02
  done
  log "finalization kill: $fin_note"
  if [[ -n "$fin_killed" ]]; then
    other=a; [[ "$fin_killed" == a ]] && other=b
    use_node "$other"
    sleep "$RESTART_AFTER_S"
    start_node "$fin_killed"
  fi
  if wait_batch "$BID" "$BATCH_TIMEOUT_S"; then p3_end=1; else p3_end=0; stuck_report "$BID"; fi
  p3_s="$(elapsed "$t_create")"
  check "phase 3: a kill during validation happened ($val_note)" [ -n "$val_killed" ]
  [[ -n "$fin_killed" ]] || note "phase 3: no kill during finalization (the poll did not catch it)"
  [[ -z "$fin_killed" ]] || note "phase 3: finalization kill: $fin_note"
  check "phase 3: batch ended (status $BATCH_STATUS, ${p3_s}s after create)" [ "$p3_end" = 1 ]
  check_batch_files crash-p3 "$P3_LINES" c3
  check "phase 3: each custom_id exactly once in the files, counts agree ($FILES_SUMMARY)" [ "$FILES_OK" = 1 ]
  leftovers="$(db -c "select count(*) from files where producer_batch_id = '$BID'")"
  check "phase 3: no partial files left behind (files written for the batch: $leftovers, expect <= 2)" [ "$leftovers" -le 2 ]
  curl -sS "$FAKE_URL/stats" >"$OUT_DIR/crash-p3-stats-end.json"
  read -r missing once twice more maxc < <(key_counts "$OUT_DIR/crash-p3-stats-end.json" "$P3_LINES" c3) || true
  check "phase 3: every line sent upstream exactly once (once $once, missing $missing, twice+ $((twice + more)))" [ "$once" = "$P3_LINES" ]
fi

# ================= summary =================
{
  echo "openbatch crash test  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, repo HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo ?), jar $OPENBATCH_JAR)"
  echo "  two processes, max-concurrency $CONCURRENCY each, lease $LEASE, restart after ${RESTART_AFTER_S}s with node id: $RESTART_ID"
  printf '  %s\n' "${SUMMARY[@]}"
  if [[ $OK == 1 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} | tee "$OUT_DIR/crash-summary.txt"
[[ $OK == 1 ]]
