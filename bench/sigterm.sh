#!/usr/bin/env bash
# bench/sigterm.sh: SIGTERM of an openbatch process mid-batch, while another one shares the database.
#
# The claim: "On SIGTERM a process stops claiming, lets lines in flight finish within a
# configurable grace period (openbatch.engine.shutdown-grace, default 30s), gives back what it
# still holds, and exits; a batch running across that finishes with every line exactly once and
# no line sent upstream twice."
#
# Two service processes A and B on one fresh database (openbatch_sigterm), max-concurrency
# CONCURRENCY (50) each, the default 30 s lease (a takeover because A's heartbeat lapsed would
# show as a stall of up to 30 s), one fake upstream that counts requests per key
# (messages[0].content = the line's custom_id). Phases:
#
#   1. default grace: P1_LINES (4,000) lines at P1_LATENCY_MS (300 ms); at STOP_AT_PCT (30 %) done,
#      kill -TERM A (node id sigterm-a, grace = the default 30 s unless P1_GRACE is set). Checks:
#      A exits within grace + EXIT_SLACK_S; its log says "stopping engine" and "engine ... stopped;
#      its lines were given back"; once it is gone no line or batch is still claimed by it;
#      B never returns lines to the queue for a lapsed heartbeat ("process <node> stopped renewing
#      its heartbeat: <n> line(s) it held went back to the queue"); the batch completes in less
#      than the lease after the SIGTERM; each custom_id exactly once in output+error; every key exactly once
#      upstream (no line sent twice).
#   2. short grace: A restarted as sigterm-a2 with shutdown-grace P2_GRACE (1s), the fake restarted
#      on the same port with P2_LATENCY_MS (5,000 ms), P2_LINES (200) lines; at P2_STOP_AT_PCT (25 %)
#      done + P2_STOP_DELAY_S (1 s), i.e. with A's next wave in flight, kill -TERM A. Checks: A exits
#      within P2_GRACE + EXIT_SLACK_S; its log says it stopped with lines in flight and gave back its
#      claims, the two log lines at least 0.9 x P2_GRACE apart (the lines in flight got their
#      grace before they were aborted); nothing claimed by it afterwards; no heartbeat takeover on
#      B; the batch completes in less than the lease after the SIGTERM; files exactly once; lines sent twice (reported) only among A's
#      lines in flight at the SIGTERM (aborted, so sent again by B), none three times.
#   3. grace longer than the lease that is left: A restarted as sigterm-a3 with lease P3_LEASE (3s,
#      renewed every lease/3) and grace P3_GRACE (10s), the fake at P3_LATENCY_MS (6,000 ms),
#      P3_LINES (40) lines created through A (which claims them); with all of them in flight (or, as
#      the adaptive limits let lines out by round trips, with A's lines in flight for a second),
#      kill -TERM A. The lines can finish inside the grace, so none may be sent twice: checks as in
#      phase 1 (exit within grace + slack, log, nothing left claimed, no heartbeat takeover on B,
#      files once, every key once upstream): A's heartbeat must go on through the grace. With the
#      default settings (lease 30s renewed every 10 s, grace 30s) the same applies to lines still in flight 20-30 s after the SIGTERM.
#
#   bash bench/sigterm.sh
#   OPENBATCH_JAR=/tmp/ob-app2/quarkus-run.jar PHASES="1 2" bash bench/sigterm.sh
#
# Knobs: PHASES ("1 2 3"), P1_LINES, P1_LATENCY_MS, STOP_AT_PCT, P1_GRACE (empty = service default),
#        DEFAULT_GRACE_S (30, the default the P1 bound is computed from), P2_LINES, P2_LATENCY_MS,
#        P2_GRACE, P2_STOP_AT_PCT, P2_STOP_DELAY_S, P3_LINES, P3_LATENCY_MS, P3_LEASE, P3_GRACE, P3_TRIES (3),
#        CONCURRENCY (50), LEASE_S (30, the lease of A in phases 1-2 and of B; the service default),
#        EXIT_SLACK_S (5), BATCH_TIMEOUT_S (120), plus those of bench/lib.sh (BENCH_DB defaults to
#        openbatch_sigterm).
# Output: PASS/FAIL per check and RESULT: PASS|FAIL (also bench/out/sigterm-summary.txt); exit 0
# only if every check passed.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_sigterm}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PHASES="${PHASES:-1 2 3}"
P1_LINES="${P1_LINES:-4000}"
P1_LATENCY_MS="${P1_LATENCY_MS:-300}"
STOP_AT_PCT="${STOP_AT_PCT:-30}"
P1_GRACE="${P1_GRACE:-}"
DEFAULT_GRACE_S="${DEFAULT_GRACE_S:-30}"
P2_LINES="${P2_LINES:-200}"
P2_LATENCY_MS="${P2_LATENCY_MS:-5000}"
P2_GRACE="${P2_GRACE:-1s}"
P2_STOP_AT_PCT="${P2_STOP_AT_PCT:-25}"
P2_STOP_DELAY_S="${P2_STOP_DELAY_S:-1}"
P3_LINES="${P3_LINES:-40}"
P3_LATENCY_MS="${P3_LATENCY_MS:-6000}"
P3_LEASE="${P3_LEASE:-3s}"
P3_GRACE="${P3_GRACE:-10s}"
P3_TRIES="${P3_TRIES:-3}"
CONCURRENCY="${CONCURRENCY:-50}"
LEASE_S="${LEASE_S:-30}"
EXIT_SLACK_S="${EXIT_SLACK_S:-5}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-120}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"

secs() { local v="$1"; case "$v" in *ms) calc "${v%ms}/1000" ;; *s) echo "${v%s}" ;; *m) calc "${v%m}*60" ;; *) echo "$v" ;; esac; }
lt() { [[ "$1" =~ ^[0-9.]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN{exit !(a < b)}'; }   # lt A B: A < B (numbers)

# checks and summary: check / note from lib.sh (OK, SUMMARY)

# ---------- the service processes ----------
declare -A NODE_PID=() NODE_PORT=() NODE_MGMT_PORT=() NODE_URL=() NODE_MGMT_URL=() NODE_ID=() NODE_LOG=()
stop_nodes() {
  local n
  for n in "${!NODE_PID[@]}"; do stop_pid "${NODE_PID[$n]}" "service $n"; done
}
CLEANUP_HOOKS+=(stop_nodes)

# start_node NAME NODE_ID [extra -D options...]: starts process NAME (port kept across restarts).
start_node() {
  local name="$1" id="$2"; shift 2
  [[ -n "${NODE_PORT[$name]:-}" ]] || NODE_PORT[$name]="$(free_port)"
  [[ -n "${NODE_MGMT_PORT[$name]:-}" ]] || NODE_MGMT_PORT[$name]="$(free_port)"
  SVC_PORT="${NODE_PORT[$name]}"
  MGMT_PORT="${NODE_MGMT_PORT[$name]}"
  start_service "$id" "$MODEL" "$CONCURRENCY" "-Dopenbatch.engine.node-id=$id" "$@"
  NODE_PID[$name]="$SVC_PID"; NODE_URL[$name]="$SVC_URL"; NODE_MGMT_URL[$name]="$MGMT_URL"; NODE_ID[$name]="$id"; NODE_LOG[$name]="$SVC_LOG"
  SVC_PID=""   # stop_nodes stops it, not lib.sh's cleanup
  log "process $name: node id $id, pid ${NODE_PID[$name]}, $SVC_URL"
}
use_node() { SVC_URL="${NODE_URL[$1]}"; MGMT_URL="${NODE_MGMT_URL[$1]}"; }
alive() { [[ -e "/proc/$1" ]] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# term_node NAME LIMIT_S: kill -TERM, then waits (polling every 20 ms) until the process is gone.
# Sets EXIT_S (seconds from the signal to the exit), EXIT_RC; after LIMIT_S + 15 s kill -9
# (EXIT_S is then "timeout").
EXIT_S=""; EXIT_RC=""
term_node() {
  local name="$1" limit="$2" pid="${NODE_PID[$1]}" t0
  t0="$(now)"
  kill -TERM "$pid"
  log "kill -TERM process $name (pid $pid, node id ${NODE_ID[$name]})"
  EXIT_S=""
  while alive "$pid"; do
    if ! lt "$(elapsed "$t0")" "$(calc "$limit + 15")"; then
      log "process $name still running $(elapsed "$t0")s after SIGTERM; kill -9"
      kill -KILL "$pid" 2>/dev/null || true
      EXIT_S=timeout
      break
    fi
    sleep 0.02
  done
  [[ -n "$EXIT_S" ]] || EXIT_S="$(elapsed "$t0")"
  EXIT_RC=0; wait "$pid" 2>/dev/null || EXIT_RC=$?
  unset "NODE_PID[$name]"
  log "process $name gone ${EXIT_S}s after SIGTERM (exit status $EXIT_RC)"
}

db() { psql_db -d "$BENCH_DB" "$@"; }
held_by() { db -c "select count(*) from requests where batch_id = '$1' and state = 'running' and claimed_by = '$2'"; }
# A line's claim lasts as long as its holder's heartbeat (engine_nodes): for each holder, how old
# its heartbeat is (ms; "no-row" = no heartbeat row: declared dead, or gone without a goodbye).
stuck_report() {
  log "batch $1 did not end; rows not finished by state/claimed_by (holder's heartbeat age in ms, or no-row):"
  db -F ' ' -c "select r.state, coalesce(r.claimed_by,'-'), count(*),
                       case when r.claimed_by is null then '-' when n.node is null then 'no-row'
                            else ((extract(epoch from clock_timestamp())*1000)::bigint - n.heartbeat)::text end
                  from requests r left join engine_nodes n on n.node = r.claimed_by
                 where r.batch_id = '$1' and r.state in ('queued','running') group by 1, 2, 4" >&2 || true
  log "heartbeats: node, age (ms), started (ms ago)"
  db -F ' ' -c "select node, (extract(epoch from clock_timestamp())*1000)::bigint - heartbeat,
                       (extract(epoch from clock_timestamp())*1000)::bigint - started_at from engine_nodes order by node" >&2 || true
}
run_batch() {   # run_batch TAG N PREFIX: generates, uploads and creates at $SVC_URL; sets BID
  local input="$OUT_DIR/sigterm-$1-input.jsonl" fid batch
  gen_chat_input "$2" "$input" "$3" "$MODEL"
  fid="$(upload_file "$input")"
  batch="$(create_batch "$fid" "$ENDPOINT")"
  BID="$(jfield "$batch" .id)"
  [[ "$BID" == batch* ]] || die "create answered no batch id: $batch"
  log "[$1] $2 lines: $fid -> $BID"
}
# snapshot TAG NAME: at the SIGTERM, the fake's stats and the lines NAME holds; sets HELD, SENT
# (held lines the upstream had already received: in flight, or answered but not yet written) and
# UP_INFLIGHT (the fake's in-flight count, both processes).
snapshot() {
  local tag="$1" name="$2"
  curl -sS "$FAKE_URL/stats" >"$OUT_DIR/sigterm-$tag-stats-at-stop.json"
  db -c "select custom_id from requests where batch_id = '$BID' and state = 'running' and claimed_by = '${NODE_ID[$name]}' order by line" \
    >"$OUT_DIR/sigterm-$tag-held.txt"
  HELD="$(wc -l <"$OUT_DIR/sigterm-$tag-held.txt")"
  UP_INFLIGHT="$(jfield "$(cat "$OUT_DIR/sigterm-$tag-stats-at-stop.json")" .in_flight)"
  SENT="$(node -e '
    const fs = require("fs"); const k = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).by_key || {};
    const sent = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).filter((h) => (k[h] || 0) > 0);
    fs.writeFileSync(process.argv[3], sent.join("\n") + (sent.length ? "\n" : ""));
    console.log(sent.length);' "$OUT_DIR/sigterm-$tag-stats-at-stop.json" "$OUT_DIR/sigterm-$tag-held.txt" "$OUT_DIR/sigterm-$tag-sent.txt")"
}
# log_checks PHASE NAME: what the stopped process's log says about its engine's stop.
log_checks() {
  local p="$1" name="$2" id="${NODE_ID[$2]}" f="${NODE_LOG[$2]}" stopping stopped drain
  stopping="$(grep -m1 "stopping engine $id:" "$f" || true)"
  stopped="$(grep -m1 "engine $id stopped; its lines were given back" "$f" || true)"
  STOP_INFLIGHT="$(sed -n 's/.*stopping engine [^:]*: \([0-9]*\) line(s) in flight.*/\1/p' <<<"$stopping")"
  drain="?"
  if [[ -n "$stopping" && -n "$stopped" ]]; then
    drain="$(awk -v a="${stopping:11:12}" -v b="${stopped:11:12}" 'function s(t){split(t,x,/[:,]/);return x[1]*3600+x[2]*60+x[3]+x[4]/1000} BEGIN{printf "%.3f", s(b)-s(a)}')"
  fi
  check "phase $p: A's log: \"${stopping#*] }\"" [ -n "$stopping" ]
  check "phase $p: A's log: \"engine $id stopped; its lines were given back\" (${drain}s after \"stopping engine\")" [ -n "$stopped" ]
  check "phase $p: A's log has no \"did not stop cleanly\"" bash -c "! grep -q 'did not stop cleanly' '$f'"
  DRAIN_S="$drain"
}
# after_exit_checks PHASE NAME: nothing still claimed by the stopped process's node id.
after_exit_checks() {
  local p="$1" id="${NODE_ID[$2]}" rows batches
  rows="$(db -c "select count(*) from requests where state = 'running' and claimed_by = '$id'")"
  batches="$(db -c "select count(*) from batches where claimed_by = '$id'")"
  check "phase $p: once A is gone, no line ($rows) and no batch ($batches) is still claimed by $id" [ "$rows" = 0 -a "$batches" = 0 ]
}
# expiry_on_b FROM_LINE: after line FROM_LINE of B's log, how many lines B returned to the queue
# because the process that held them stopped renewing its heartbeat (B found it older than the
# lease and took its lines): sets EXPIRED_B (lines) and LAPSES_B (processes B declared dead, one
# that held no line included).
EXPIRED_B=0; LAPSES_B=0
expiry_on_b() {
  local found
  found="$(tail -n +"$(($1 + 1))" "${NODE_LOG[b]}" |
    sed -n 's/.*process [^ ]* stopped renewing its heartbeat: \([0-9]*\) line(s) it held went back to the queue.*/\1/p')"
  EXPIRED_B="$(awk '{s += $1} END {print s + 0}' <<<"$found")"
  LAPSES_B="$(grep -c . <<<"$found" || true)"
}

# phase_run P TAG N PREFIX LIMIT_S: the common part of a phase after the stop decision: snapshot,
# SIGTERM to A, exit time, log and database checks, then the batch to its end and the file and
# upstream checks. Sets END_S (SIGTERM -> batch terminal), TWICE, MORE, MISSING, DUPS_OUTSIDE.
phase_run() {
  local p="$1" tag="$2" n="$3" prefix="$4" limit="$5" b_from t_term ended
  snapshot "$tag" a
  log "[$tag] at the SIGTERM: $BATCH_DONE/$n done; upstream in flight $UP_INFLIGHT (both); A holds $HELD lines, $SENT of them already sent; B holds $(held_by "$BID" "${NODE_ID[b]}")"
  AT_STOP="$BATCH_DONE"
  b_from="$(wc -l <"${NODE_LOG[b]}")"
  t_term="$(now)"
  TERM_AFTER_S="$(elapsed "$T_CREATE" "$t_term")"
  term_node a "$limit"
  check "phase $p: A exited ${EXIT_S}s after SIGTERM (exit status $EXIT_RC; limit: grace ${limit}s + ${EXIT_SLACK_S}s)" \
    lt "$EXIT_S" "$(calc "$limit + $EXIT_SLACK_S")"
  log_checks "$p" a
  after_exit_checks "$p" a
  use_node b
  if wait_batch "$BID" "$BATCH_TIMEOUT_S"; then ended=1; else ended=0; stuck_report "$BID"; fi
  END_S="$(elapsed "$t_term")"
  check "phase $p: batch ended (status $BATCH_STATUS) ${END_S}s after the SIGTERM, within the ${LEASE_S}s lease (no wait for a lease)" \
    [ "$ended" = 1 -a "$(awk -v e="$END_S" -v l="$LEASE_S" 'BEGIN{print (e < l) ? 1 : 0}')" = 1 ]
  expiry_on_b "$b_from"
  check "phase $p: B returned no lines to the queue for a lapsed heartbeat after the SIGTERM (its log: $EXPIRED_B lines; processes it declared dead: $LAPSES_B)" [ "$EXPIRED_B" = 0 ]
  check_batch_files "sigterm-$tag" "$n" "$prefix"
  check "phase $p: each custom_id exactly once in the files, counts agree ($FILES_SUMMARY)" [ "$FILES_OK" = 1 ]
  curl -sS "$FAKE_URL/stats" >"$OUT_DIR/sigterm-$tag-stats-end.json"
  read -r MISSING ONCE TWICE MORE MAXC < <(key_counts "$OUT_DIR/sigterm-$tag-stats-end.json" "$n" "$prefix" "$OUT_DIR/sigterm-$tag-dups.txt") || true
  UP_REQ="$(jfield "$(cat "$OUT_DIR/sigterm-$tag-stats-end.json")" .requests)"
  DUPS_OUTSIDE="$(comm -23 <(sort "$OUT_DIR/sigterm-$tag-dups.txt") <(sort "$OUT_DIR/sigterm-$tag-sent.txt") | wc -l)"
}

ensure_build
recreate_db
start_fake sigterm --latency-ms "$P1_LATENCY_MS"
p1_opts=(); [[ -z "$P1_GRACE" ]] || p1_opts=("-Dopenbatch.engine.shutdown-grace=$P1_GRACE")
start_node a sigterm-a ${p1_opts[@]+"${p1_opts[@]}"}
start_node b sigterm-b

# ================= phase 1: SIGTERM, default grace, lines finish inside it =================
if [[ " $PHASES " == *" 1 "* ]]; then
  g1="$DEFAULT_GRACE_S"; [[ -z "$P1_GRACE" ]] || g1="$(secs "$P1_GRACE")"
  log "=== phase 1: $P1_LINES lines, ${P1_LATENCY_MS} ms, SIGTERM to A at ${STOP_AT_PCT}% (grace ${g1}s) ==="
  curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
  use_node b
  run_batch p1 "$P1_LINES" s1
  T_CREATE="$(now)"
  wait_batch "$BID" "$BATCH_TIMEOUT_S" $((P1_LINES * STOP_AT_PCT / 100)) || true
  phase_run 1 p1 "$P1_LINES" s1 "$g1"
  check "phase 1: every line sent upstream exactly once (once $ONCE, missing $MISSING, twice $TWICE, more $MORE; requests $UP_REQ)" \
    [ "$ONCE" = "$P1_LINES" -a "$UP_REQ" = "$P1_LINES" ]
  note "phase 1 figures: SIGTERM at $AT_STOP/$P1_LINES done (${TERM_AFTER_S}s after create); A held $HELD lines ($SENT sent, log: ${STOP_INFLIGHT:-?} in flight), engine stop ${DRAIN_S}s, exit ${EXIT_S}s after SIGTERM; batch ended ${END_S}s after SIGTERM; upstream requests $UP_REQ"
fi

# ================= phase 2: SIGTERM, 1 s grace, lines cannot finish inside it =================
if [[ " $PHASES " == *" 2 "* ]]; then
  g2="$(secs "$P2_GRACE")"
  log "=== phase 2: $P2_LINES lines, ${P2_LATENCY_MS} ms, SIGTERM to A (grace $P2_GRACE) with lines in flight ==="
  stop_pid "$FAKE_PID" "fake upstream"
  start_fake sigterm-p2 --latency-ms "$P2_LATENCY_MS" --port "$FAKE_PORT"
  [[ -z "${NODE_PID[a]:-}" ]] || stop_pid "${NODE_PID[a]}" "service a"
  start_node a sigterm-a2 "-Dopenbatch.engine.shutdown-grace=$P2_GRACE"
  use_node b
  run_batch p2 "$P2_LINES" s2
  T_CREATE="$(now)"
  wait_batch "$BID" "$BATCH_TIMEOUT_S" $((P2_LINES * P2_STOP_AT_PCT / 100)) || true
  sleep "$P2_STOP_DELAY_S"
  phase_run 2 p2 "$P2_LINES" s2 "$g2"
  check "phase 2: A stopped with lines in flight (log: ${STOP_INFLIGHT:-?}; A held $HELD, $SENT sent)" [ "${STOP_INFLIGHT:-0}" -gt 0 ]
  check "phase 2: A's engine gave its lines in flight the grace before aborting them (engine stop ${DRAIN_S}s, grace ${g2}s)" \
    lt "$(calc "$g2 * 0.9")" "$DRAIN_S"
  check "phase 2: upstream saw every line (missing $MISSING), none more than twice (max $MAXC)" [ "$MISSING" = 0 -a "$MORE" = 0 ]
  check "phase 2: lines sent twice ($TWICE) <= A's lines already sent at the SIGTERM ($SENT; max-concurrency $CONCURRENCY)" [ "$TWICE" -le "$SENT" ]
  check "phase 2: every line sent twice was one of those (outside: $DUPS_OUTSIDE)" [ "$DUPS_OUTSIDE" = 0 ]
  note "phase 2 figures: SIGTERM at $AT_STOP/$P2_LINES done (${TERM_AFTER_S}s after create); upstream in flight $UP_INFLIGHT (both); A held $HELD lines ($SENT sent, log: ${STOP_INFLIGHT:-?} in flight), engine stop ${DRAIN_S}s, exit ${EXIT_S}s after SIGTERM; batch ended ${END_S}s after SIGTERM; lines sent twice: $TWICE"
fi

# ================= phase 3: grace longer than the lease A has left =================
if [[ " $PHASES " == *" 3 "* ]]; then
  g3="$(secs "$P3_GRACE")"
  log "=== phase 3: $P3_LINES lines, ${P3_LATENCY_MS} ms, A with lease $P3_LEASE and grace $P3_GRACE, SIGTERM with all lines in flight ==="
  stop_pid "$FAKE_PID" "fake upstream"
  start_fake sigterm-p3 --latency-ms "$P3_LATENCY_MS" --port "$FAKE_PORT"
  [[ -z "${NODE_PID[a]:-}" ]] || stop_pid "${NODE_PID[a]}" "service a"
  start_node a sigterm-a3 "-Dopenbatch.engine.lease=$P3_LEASE" "-Dopenbatch.engine.shutdown-grace=$P3_GRACE"
  use_node a
  # the upstream's max-concurrency is one cap for both processes: a newcomer has its share a round
  # or two (a second each) after it starts; until then B, alone so far, would take every line
  t_share="$(now)"
  until share_a="$(metric_sum "$(curl -sS -m 5 "$MGMT_URL/q/metrics" 2>/dev/null || true)" 'openbatch_upstream_share')" \
      && [[ "$share_a" =~ ^[0-9.]+$ ]] && awk -v s="$share_a" -v c="$CONCURRENCY" 'BEGIN{exit !(s >= c / 2)}'; do
    lt "$(elapsed "$t_share")" 30 || die "phase 3: A has no share of the upstream 30 s after it started (share $share_a)"
    sleep 0.2
  done
  log "phase 3: A's share of the upstream is $share_a, $(elapsed "$t_share")s after it was ready"
  # B may still claim every line before A's limit lets it take one (both compete for the same 40):
  # then nothing of A's is tested, and the phase runs again with a new batch (up to P3_TRIES times)
  for try in $(seq 1 "$P3_TRIES"); do
    curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
    run_batch p3 "$P3_LINES" s3
    T_CREATE="$(now)"; t0="$T_CREATE"
    # every line in flight, or (the adaptive limits start at 4 lines a process and grow by round
    # trips of P3_LATENCY_MS) as many as A's limit lets it have: A holds lines in flight for a second
    t_a=""
    while lt "$(elapsed "$t0")" 30; do
      [[ "$(jfield "$(curl -sS "$FAKE_URL/stats?by_key=0")" .in_flight)" -ge "$P3_LINES" ]] && break
      a_in="$(metric_sum "$(curl -sS -m 2 "$MGMT_URL/q/metrics" 2>/dev/null || true)" 'openbatch_upstream_in_flight')"
      if [[ "$a_in" =~ ^[0-9]+$ ]] && ((a_in > 0)); then
        [[ -n "$t_a" ]] || t_a="$(now)"
        lt "$(elapsed "$t_a")" 1 || break
      fi
      sleep 0.05
    done
    sleep 0.3
    [[ "$(held_by "$BID" "${NODE_ID[a]}")" = 0 && "$try" -lt "$P3_TRIES" ]] || break
    log "phase 3: B claimed every line of $BID before A took one (try $try of $P3_TRIES); that batch runs out on B, then a new one"
    use_node b
    wait_batch "$BID" "$BATCH_TIMEOUT_S" || die "phase 3: batch $BID did not end on B"
    use_node a
  done
  phase_run 3 p3 "$P3_LINES" s3 "$g3"
  check "phase 3: A held lines at the SIGTERM (held $HELD, $SENT sent; log: ${STOP_INFLIGHT:-?} in flight)" [ "$SENT" -gt 0 ]
  check "phase 3: every line sent upstream exactly once (once $ONCE, missing $MISSING, twice $TWICE, more $MORE; requests $UP_REQ)" \
    [ "$ONCE" = "$P3_LINES" -a "$UP_REQ" = "$P3_LINES" ]
  note "phase 3 figures: SIGTERM ${TERM_AFTER_S}s after create; A held $HELD lines ($SENT sent), engine stop ${DRAIN_S}s, exit ${EXIT_S}s after SIGTERM; B returned $EXPIRED_B lines for a lapsed heartbeat ($LAPSES_B process(es) declared dead); batch ended ${END_S}s after SIGTERM; lines sent twice: $TWICE"
fi

# ================= summary =================
{
  echo "openbatch SIGTERM test  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, repo HEAD $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo ?), jar $OPENBATCH_JAR)"
  echo "  two processes, max-concurrency $CONCURRENCY each, lease ${LEASE_S}s (phase 3: A $P3_LEASE)"
  printf '  %s\n' "${SUMMARY[@]}"
  if [[ $OK == 1 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} | tee "$OUT_DIR/sigterm-summary.txt"
[[ $OK == 1 ]]
