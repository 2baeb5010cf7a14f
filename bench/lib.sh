# shellcheck shell=bash
# bench/lib.sh: shared helpers for bench/throughput.sh and bench/ingest.sh. Source it, don't run it.
#
# Provides: logging, timing, JSON field extraction (jq, or node when jq is missing), the API
# wrapper, building the service, (re)creating the bench database, starting/stopping the fake
# upstream and the service, an EXIT trap that stops whatever this script started (plus any
# function a script adds to CLEANUP_HOOKS), batch helpers used by crash.sh, pg-restart.sh and
# metrics-sample.sh (gen_chat_input, wait_batch, check_batch_files, key_counts), API keys per
# project (with_key), CPU time from /proc (cpu_snapshot, cpu_per_line) and the service's own
# figures (metrics_text, metric_sum, log_deadlocks) used by throughput.sh, many-batches.sh and
# deep-queue.sh.
#
# Common knobs (environment):
#   XMX=256m               service heap
#   BENCH_DB=openbatch_bench
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
#   SVC_PORT=<free port>   HTTP port of the service's API (default: a free port)
#   MGMT_PORT=<free port>  port of its management interface: GET /q/health/*, /q/metrics
#                          (default: a free port; start_service sets MGMT_URL from it)
#   READY_TIMEOUT=180      seconds to wait for the service to become ready
#   JAVA_OPTS=""           extra JVM/-D options appended to the service command line
#   OPENBATCH_JAR=target/quarkus-app/quarkus-run.jar   the jar to run (built only when it is
#                          this default and missing)
#   BENCH_KEY=bench        the bearer key sent (any key works while the service runs without
#                          openbatch.auth.keys, as every script but many-batches.sh does)
#   BENCH_OUT=bench/out    where logs, generated files and summaries go

set -o pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
OUT_DIR="${BENCH_OUT:-$BENCH_DIR/out}"
mkdir -p "$OUT_DIR"

XMX="${XMX:-256m}"
BENCH_DB="${BENCH_DB:-openbatch_bench}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
READY_TIMEOUT="${READY_TIMEOUT:-180}"
JAVA_OPTS="${JAVA_OPTS:-}"
DEFAULT_JAR="$REPO_DIR/target/quarkus-app/quarkus-run.jar"
OPENBATCH_JAR="${OPENBATCH_JAR:-$DEFAULT_JAR}"
AUTH_HEADER="Authorization: Bearer ${BENCH_KEY:-bench}"

MGMT_PORT="${MGMT_PORT:-}"
MGMT_URL=""

SVC_PID=""
SVC_PORT="${SVC_PORT:-}"
SVC_URL=""
SVC_LOG=""
FAKE_PID=""
FAKE_PORT=""
FAKE_URL=""
FAKE_LOG=""

# ---------- logging and timing ----------
log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
now()  { printf '%s\n' "$EPOCHREALTIME"; }            # seconds, microsecond resolution
# elapsed START [END]: END-START in seconds, 3 decimals.
elapsed() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN{printf "%.3f", b-a}'; }
# calc EXPR: floating-point arithmetic, e.g. calc "40000/12.5"  (prints with 3 decimals)
calc() { awk "BEGIN{printf \"%.3f\", $1}"; }

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not installed"; }
need curl
need node
need psql
need awk

# ---------- JSON ----------
# jfields JSON PATH...: prints the values at the given simple paths (".a.b"), tab-separated,
# "null" for a missing or null value, objects/arrays as compact JSON.
if command -v jq >/dev/null 2>&1; then
  jfields() {
    local json="$1"; shift
    local filter="[" p sep=""
    for p in "$@"; do filter+="$sep($p)"; sep=","; done
    filter+='] | map(if . == null then "null" elif type == "string" then . else tojson end) | @tsv'
    jq -r "$filter" <<<"$json"
  }
else
  jfields() {
    local json="$1"; shift
    node -e '
      const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const out = process.argv.slice(1).map((p) => {
        let v = d;
        for (const k of p.split(".").filter(Boolean)) v = (v === null || v === undefined) ? undefined : v[k];
        return v === null || v === undefined ? "null" : typeof v === "string" ? v : JSON.stringify(v);
      });
      console.log(out.join("\t"));' "$@" <<<"$json"
  }
fi
jfield() { jfields "$@"; }

# ---------- API ----------
# api METHOD PATH [curl args...]: sets API_STATUS (HTTP status, 000 = no answer) and API_BODY.
# Call it directly, not inside $(...), or the two globals are lost.
API_STATUS=""
API_BODY=""
api() {
  local method="$1" path="$2"; shift 2
  local tmp; tmp="$(mktemp "$OUT_DIR/.api.XXXXXX")"
  API_STATUS="$(curl -sS -o "$tmp" -w '%{http_code}' -X "$method" -H "$AUTH_HEADER" "$@" "$SVC_URL$path")" || API_STATUS="000"
  API_BODY="$(cat "$tmp")"
  rm -f "$tmp"
}
# api_ok METHOD PATH [curl args...]: prints the body; dies unless the status is 2xx.
api_ok() {
  api "$@"
  [[ "$API_STATUS" == 2* ]] || die "$1 $2 answered HTTP $API_STATUS: ${API_BODY:0:2000}"
  printf '%s\n' "$API_BODY"
}

# ---------- processes ----------
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# stop_pid PID NAME: SIGTERM, up to 15 s grace, then (a JVM's thread dump in OUT_DIR, and) SIGKILL.
# Only ever the PIDs we started.
stop_pid() {
  local pid="$1" name="$2" i
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  log "$name (pid $pid) did not stop in 15 s; killing it"
  # a JVM's threads at that moment, to see what it waited for
  if command -v jcmd >/dev/null && jcmd "$pid" Thread.print >"$OUT_DIR/$name-threads-at-kill.txt" 2>&1; then
    log "its threads: $OUT_DIR/$name-threads-at-kill.txt"
  fi
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Functions to run first when the script ends (a script that starts more processes, or stops
# PostgreSQL, adds one: CLEANUP_HOOKS+=(my_hook)). They run with set +e.
CLEANUP_HOOKS=()

cleanup() {
  local rc=$? h
  trap - EXIT INT TERM
  set +e   # whatever happens below, stop both processes
  for h in ${CLEANUP_HOOKS[@]+"${CLEANUP_HOOKS[@]}"}; do "$h"; done
  stop_pid "$SVC_PID" "service"
  stop_pid "$FAKE_PID" "fake upstream"
  rm -f "$OUT_DIR"/.api.* 2>/dev/null
  if [[ -n "$SVC_LOG$FAKE_LOG" ]]; then log "logs: ${SVC_LOG:-} ${FAKE_LOG:-}"; fi
  exit "$rc"
}
on_signal() { log "interrupted"; exit 130; }
trap cleanup EXIT
trap on_signal INT TERM

# ---------- build ----------
ensure_build() {
  if [[ -f "$OPENBATCH_JAR" ]]; then return 0; fi
  [[ "$OPENBATCH_JAR" == "$DEFAULT_JAR" ]] || die "OPENBATCH_JAR=$OPENBATCH_JAR does not exist"
  log "building the service (target/quarkus-app/quarkus-run.jar is missing)"
  (cd "$REPO_DIR" && ./mvnw -q -B package -DskipTests) || die "build failed"
  [[ -f "$OPENBATCH_JAR" ]] || die "build finished but $OPENBATCH_JAR is missing"
}

# ---------- database ----------
psql_db() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -v ON_ERROR_STOP=1 -qAtX "$@"; }
# fresh_checkpoint: a CHECKPOINT right before a measured phase, so that PostgreSQL's timed one
# (every checkpoint_timeout) is unlikely to start inside it: after a checkpoint every page's first
# change writes the whole page to the WAL, which made two runs of one script differ by 2x in
# PostgreSQL's CPU. Both runs then start from the same state.
fresh_checkpoint() { psql_db -d "$BENCH_DB" -c checkpoint >/dev/null || log "checkpoint failed (measuring anyway)"; }
recreate_db() {
  log "recreating database $BENCH_DB"
  psql_db -d postgres -c "drop database if exists \"$BENCH_DB\" with (force)" >/dev/null || die "cannot drop $BENCH_DB"
  psql_db -d postgres -c "create database \"$BENCH_DB\"" >/dev/null || die "cannot create $BENCH_DB"
}

# ---------- fake upstream ----------
# start_fake TAG [fake-upstream args...]: starts bench/fake-upstream.mjs on a random port and
# sets FAKE_PID, FAKE_PORT, FAKE_URL, FAKE_LOG (stdout and stderr both go to the log).
start_fake() {
  local tag="$1"; shift
  FAKE_LOG="$OUT_DIR/fake-upstream-$tag.log"
  : >"$FAKE_LOG"
  node "$BENCH_DIR/fake-upstream.mjs" --port 0 "$@" >>"$FAKE_LOG" 2>&1 &
  FAKE_PID=$!
  local i line
  for ((i = 0; i < 100; i++)); do
    line="$(grep -m1 '^listening on ' "$FAKE_LOG" 2>/dev/null || true)"
    if [[ -n "$line" ]]; then break; fi
    kill -0 "$FAKE_PID" 2>/dev/null || die "fake upstream exited: $(tail -5 "$FAKE_LOG")"
    sleep 0.1
  done
  [[ -n "$line" ]] || die "fake upstream did not start in 10 s"
  FAKE_PORT="${line#listening on }"
  FAKE_URL="http://127.0.0.1:$FAKE_PORT"
  log "fake upstream pid $FAKE_PID at $FAKE_URL ($*)"
}
fake_stats() { curl -sS "$FAKE_URL/stats"; }
# bare_client_rate CONCURRENCY SECONDS: what the box allows without openbatch, in the same run: a
# bare Node client (bench/loadgen.mjs: no database, no validation, no files) keeps CONCURRENCY
# requests in flight to the same fake upstream for SECONDS. Prints its rate (requests/s). Run it
# once the batch is done (the service idle), so that both see the same box.
bare_client_rate() {
  local out
  out="$(node "$BENCH_DIR/loadgen.mjs" --url "$FAKE_URL/v1/chat/completions" --concurrency "$1" --seconds "$2")" || return 1
  jfields "$out" .rate_per_s
}

# ---------- service ----------
# start_service TAG MODELS MAX_CONCURRENCY [extra -D options...]: starts the service against
# BENCH_DB with one upstream "fake" at FAKE_URL (none when MODELS is empty; the built-in model is
# off unless an extra option turns it on: a later -D wins), waits until it is ready. Sets SVC_PID,
# SVC_PORT, SVC_URL, SVC_LOG, and MGMT_PORT, MGMT_URL (health and metrics: the management interface).
# A script running several processes at once sets SVC_PORT and MGMT_PORT for each before calling it.
start_service() {
  local tag="$1" models="$2" maxconc="$3"; shift 3
  [[ -n "$SVC_PORT" ]] || SVC_PORT="$(free_port)"
  [[ -n "$MGMT_PORT" ]] || MGMT_PORT="$(free_port)"
  SVC_URL="http://127.0.0.1:$SVC_PORT"
  MGMT_URL="http://127.0.0.1:$MGMT_PORT"
  SVC_LOG="$OUT_DIR/service-$tag.log"
  # the JVM options the project ships (Dockerfile.jvm, k8s/, README): C1 only, the serial collector, see README
  local -a cmd=(java "-Xmx$XMX" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
    "-Dquarkus.http.port=$SVC_PORT"
    "-Dquarkus.management.port=$MGMT_PORT"
    "-Dquarkus.datasource.reactive.url=postgresql://$PGHOST:$PGPORT/$BENCH_DB"
    "-Dquarkus.datasource.jdbc.url=jdbc:postgresql://$PGHOST:$PGPORT/$BENCH_DB"
    "-Dquarkus.datasource.username=$PGUSER"
    "-Dopenbatch.local.enabled=false")
  if [[ -n "$models" ]]; then
    cmd+=("-Dopenbatch.upstreams.fake.url=$FAKE_URL"
      "-Dopenbatch.upstreams.fake.models=$models"
      "-Dopenbatch.upstreams.fake.max-concurrency=$maxconc")
  fi
  cmd+=("$@")
  # shellcheck disable=SC2206  # JAVA_OPTS is deliberately word-split
  [[ -n "$JAVA_OPTS" ]] && cmd+=($JAVA_OPTS)
  cmd+=(-jar "$OPENBATCH_JAR")
  printf '%q ' "${cmd[@]}" >"$SVC_LOG"; printf '\n' >>"$SVC_LOG"
  log "starting the service on $SVC_URL, management $MGMT_URL (log $SVC_LOG)"
  (cd "$REPO_DIR" && exec "${cmd[@]}") >>"$SVC_LOG" 2>&1 &
  SVC_PID=$!
  wait_ready
}

# wait_ready: GET $MGMT_URL/q/health/ready until 200. A build from before the management
# interface serves health on the API port: when that answers 200 instead, MGMT_URL becomes SVC_URL.
# If neither has a health endpoint (404), GET /v1/models (then /v1/batches) until 200 instead.
wait_ready() {
  local t0 code api alt
  t0="$(now)"
  while :; do
    kill -0 "$SVC_PID" 2>/dev/null || die "the service exited during start-up; last log lines:
$(tail -30 "$SVC_LOG")"
    code="$(curl -s -o /dev/null -w '%{http_code}' "$MGMT_URL/q/health/ready" || true)"
    if [[ "$code" == 200 ]]; then break; fi
    api="$(curl -s -o /dev/null -w '%{http_code}' "$SVC_URL/q/health/ready" || true)"
    if [[ "$api" == 200 ]]; then
      log "health answers on the API port (a build without the management interface): MGMT_URL=$SVC_URL"
      MGMT_URL="$SVC_URL"
      break
    fi
    if [[ "$code" == 404 || ( "$code" == 000 && "$api" == 404 ) ]]; then
      alt="$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/models" || true)"
      [[ "$alt" == 200 ]] && break
      alt="$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/batches" || true)"
      [[ "$alt" == 200 ]] && break
    fi
    if awk -v e="$(elapsed "$t0")" -v m="$READY_TIMEOUT" 'BEGIN{exit !(e>m)}'; then
      die "the service was not ready after ${READY_TIMEOUT}s (last $MGMT_URL/q/health/ready: $code); see $SVC_LOG"
    fi
    sleep 0.2
  done
  log "service pid $SVC_PID ready after $(elapsed "$t0")s"
}

# ---------- files and batches ----------
# upload_file PATH: POST /v1/files (purpose=batch); prints the file id.
upload_file() {
  local body id
  body="$(api_ok POST /v1/files -F purpose=batch -F "file=@$1;type=application/jsonl")" || exit 1
  id="$(jfield "$body" .id)"
  [[ "$id" == file-* ]] || die "upload answered no file id: $body"
  printf '%s\n' "$id"
}
# create_batch FILE_ID ENDPOINT: POST /v1/batches; prints the batch JSON.
create_batch() {
  api_ok POST /v1/batches -H 'Content-Type: application/json' \
    -d "{\"input_file_id\":\"$1\",\"endpoint\":\"$2\",\"completion_window\":\"24h\",\"metadata\":{\"bench\":\"true\"}}"
}
get_batch() { api_ok GET "/v1/batches/$1"; }

# with_key KEY COMMAND...: runs COMMAND (a function of this file: api, api_ok, upload_file,
# create_batch, get_batch, wait_batch...) with the bearer key KEY instead of BENCH_KEY, for a
# service started with -Dopenbatch.auth.keys=KEY:project,... (many-batches.sh: two projects).
with_key() {
  local AUTH_HEADER="Authorization: Bearer $1"
  shift
  "$@"
}

# warm_up TAG LINES MODEL ENDPOINT: a first batch of LINES lines on the fresh JVM (its
# just-in-time compiler takes a core for the first seconds), waited for; sets COLD_FIGURE to how
# long it ran, then zeroes the fake's counters so the checks see only the measured batches.
# Nothing when LINES is 0. Sends with AUTH_HEADER (wrap it in with_key for another project).
COLD_FIGURE=""
warm_up() {
  local tag="$1" lines="$2" model="$3" endpoint="$4" input id w_in w_done
  COLD_FIGURE=""
  ((lines > 0)) || return 0
  input="$OUT_DIR/$tag-warmup-$lines.jsonl"
  gen_chat_input "$lines" "$input" warm "$model"
  id="$(jfield "$(create_batch "$(upload_file "$input")" "$endpoint")" .id)"
  log "warm-up batch $id: $lines lines on the cold JVM"
  wait_batch "$id" "${BATCH_TIMEOUT_S:-1800}" || die "warm-up batch did not end"
  [[ "$BATCH_STATUS" == completed ]] || die "warm-up batch ended $BATCH_STATUS"
  IFS=$'\t' read -r w_in w_done < <(jfields "$BATCH_JSON" .in_progress_at .completed_at)
  COLD_FIGURE="$lines lines in $((w_done - w_in)) s (whole seconds: in_progress_at -> completed_at)"
  log "warm-up done: $COLD_FIGURE"
  curl -sS -X POST "$FAKE_URL/stats/reset" >/dev/null
}

# ---------- batch helpers (crash.sh, pg-restart.sh, metrics-sample.sh) ----------
# gen_chat_input N FILE PREFIX [MODEL]: N /v1/chat/completions lines whose custom_id and
# messages[0].content are both PREFIX-i (i = 1..N), so the fake upstream's by_key counts are
# per custom_id.
gen_chat_input() {
  awk -v n="$1" -v p="$3" -v model="${4:-bench-model}" 'BEGIN {
    for (i = 1; i <= n; i++)
      printf "{\"custom_id\":\"%s-%d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s-%d\"}],\"max_tokens\":16}}\n", p, i, model, p, i
  }' >"$2"
}

# past_validating ID POLL_S TIMEOUT_S: polls GET /v1/batches/ID every POLL_S until the batch is no
# longer validating (a created batch's file validated, a retry's lines copied); sets PAST_STATUS
# (its status then) and API_BODY (the batch). Returns 1 after TIMEOUT_S.
PAST_STATUS=""
past_validating() {
  local t; t="$(now)"
  while :; do
    api GET "/v1/batches/$1"
    PAST_STATUS="$(jfield "$API_BODY" .status)"
    [[ "$PAST_STATUS" == validating ]] || return 0
    if awk -v e="$(elapsed "$t")" -v m="$3" 'BEGIN{exit !(e>m)}'; then return 1; fi
    sleep "$2"
  done
}

# wait_batch ID TIMEOUT_S [UNTIL_DONE]: polls GET /v1/batches/ID at $SVC_URL every POLL_S (0.2 s)
# until the batch is terminal (completed, failed, expired, cancelled) or, with UNTIL_DONE, until
# completed+failed >= UNTIL_DONE. Logs progress every PROGRESS_EVERY_S (3 s). Tolerates failed
# polls (a service being restarted) until the timeout. Sets BATCH_JSON, BATCH_STATUS, BATCH_DONE
# (completed+failed). Returns 1 on timeout.
BATCH_JSON=""; BATCH_STATUS=""; BATCH_DONE=0
wait_batch() {
  local id="$1" timeout="$2" until="${3:-}" t0 last completed failed total
  t0="$(now)"; last="$t0"
  while :; do
    api GET "/v1/batches/$id"
    if [[ "$API_STATUS" == 2* ]]; then
      BATCH_JSON="$API_BODY"
      IFS=$'\t' read -r BATCH_STATUS completed failed total < <(jfields "$BATCH_JSON" .status .request_counts.completed .request_counts.failed .request_counts.total)
      [[ "$completed" =~ ^[0-9]+$ ]] || completed=0
      [[ "$failed" =~ ^[0-9]+$ ]] || failed=0
      BATCH_DONE=$((completed + failed))
      case "$BATCH_STATUS" in completed|failed|expired|cancelled) return 0 ;; esac
      if [[ -n "$until" ]] && ((BATCH_DONE >= until)); then return 0; fi
      if awk -v e="$(elapsed "$last")" -v p="${PROGRESS_EVERY_S:-3}" 'BEGIN{exit !(e>=p)}'; then
        log "progress: $BATCH_STATUS completed=$completed failed=$failed total=$total"
        last="$(now)"
      fi
    fi
    if awk -v e="$(elapsed "$t0")" -v m="$timeout" 'BEGIN{exit !(e>m)}'; then
      log "batch $id: no end after ${timeout}s (status ${BATCH_STATUS:-?}, last poll HTTP $API_STATUS)"
      return 1
    fi
    sleep "${POLL_S:-0.2}"
  done
}

# check_batch_files TAG N PREFIX: downloads the output and error files of the batch in BATCH_JSON
# (from $SVC_URL) to $OUT_DIR/TAG-{output,error}.jsonl and checks that every custom_id PREFIX-1..N
# appears exactly once across the two, nothing else appears, and request_counts agree
# (completed = output lines, failed = error lines, completed + failed = total = N).
# Sets FILES_OK (1/0) and FILES_SUMMARY (one line of figures).
FILES_OK=0; FILES_SUMMARY=""
# shellcheck disable=SC2034  # FILES_OK and FILES_SUMMARY are read by the scripts that source this file
check_batch_files() {
  local tag="$1" n="$2" prefix="$3" out_id err_id completed failed total code f id
  IFS=$'\t' read -r out_id err_id completed failed total < <(jfields "$BATCH_JSON" .output_file_id .error_file_id .request_counts.completed .request_counts.failed .request_counts.total)
  local out="$OUT_DIR/$tag-output.jsonl" err="$OUT_DIR/$tag-error.jsonl"
  : >"$out"; : >"$err"
  FILES_OK=1
  for f in "$out_id $out" "$err_id $err"; do
    id="${f%% *}"
    [[ "$id" == null || -z "$id" ]] && continue
    code="$(curl -sS -o "${f#* }" -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/files/$id/content")" || code=000
    [[ "$code" == 200 ]] || { log "GET /v1/files/$id/content answered $code"; FILES_OK=0; }
  done
  local figures
  figures="$(node -e '
    const fs = require("fs");
    const [out, err, n, prefix] = [process.argv[1], process.argv[2], +process.argv[3], process.argv[4]];
    const seen = new Map(); let foreign = 0, bad = 0;
    const count = (file) => {
      let lines = 0;
      for (const l of fs.readFileSync(file, "utf8").split("\n")) {
        if (!l) continue; lines++;
        let id; try { id = JSON.parse(l).custom_id; } catch { bad++; continue; }
        seen.set(id, (seen.get(id) || 0) + 1);
        const m = new RegExp("^" + prefix + "-(\\d+)$").exec(id || "");
        if (!m || +m[1] < 1 || +m[1] > n) foreign++;
      }
      return lines;
    };
    const o = count(out), e = count(err);
    let missing = 0, twice = 0;
    for (let i = 1; i <= n; i++) { const c = seen.get(prefix + "-" + i) || 0; if (c === 0) missing++; else if (c > 1) twice++; }
    console.log(o, e, seen.size, missing, twice, foreign, bad);' "$out" "$err" "$n" "$prefix" 2>&1)" || figures="0 0 0 $n 0 0 0"
  local o e distinct missing twice foreign bad
  read -r o e distinct missing twice foreign bad <<<"$figures"
  FILES_SUMMARY="status=$BATCH_STATUS total=$total completed=$completed failed=$failed; files: output $o lines, error $e lines, $distinct distinct custom_ids, missing $missing, more than once $twice, foreign $foreign, unparsable $bad"
  [[ "$BATCH_STATUS" == completed ]] || FILES_OK=0
  [[ "$total" == "$n" && "$((completed + failed))" == "$n" ]] || FILES_OK=0
  [[ "$o" == "$completed" && "$e" == "$failed" ]] || FILES_OK=0
  [[ "$missing" == 0 && "$twice" == 0 && "$foreign" == 0 && "$bad" == 0 && "$distinct" == "$n" ]] || FILES_OK=0
}

# key_counts STATS_FILE N PREFIX: from a saved GET /stats answer of the fake upstream, prints
# "missing once twice more max": how many of the keys PREFIX-1..N it saw 0, 1, 2, >2 times, and
# the highest count. With a 4th argument FILE, writes the keys seen more than once there.
key_counts() {
  node -e '
    const fs = require("fs");
    const s = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); const k = s.by_key || {};
    const n = +process.argv[2], prefix = process.argv[3];
    let missing = 0, once = 0, twice = 0, more = 0, max = 0; const dups = [];
    for (let i = 1; i <= n; i++) {
      const c = k[prefix + "-" + i] || 0; max = Math.max(max, c);
      if (c === 0) missing++; else if (c === 1) once++; else { if (c === 2) twice++; else more++; dups.push(prefix + "-" + i); }
    }
    if (process.argv[4]) fs.writeFileSync(process.argv[4], dups.join("\n") + (dups.length ? "\n" : ""));
    console.log(missing, once, twice, more, max);' "$@"
}

# ---------- checks and summary (crash.sh, sigterm.sh) ----------
# shellcheck disable=SC2034  # OK and SUMMARY are read by the scripts that source this file
OK=1
SUMMARY=()
# shellcheck disable=SC2034
check() {   # check DESCRIPTION COMMAND...: PASS/FAIL line, never exits
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "PASS  $d"; SUMMARY+=("PASS  $d"); else log "FAIL  $d"; SUMMARY+=("FAIL  $d"); OK=0; fi
}
note() { log "      $*"; SUMMARY+=("      $*"); }

# ---------- CPU time from /proc ----------
# cpu_snapshot [PID...]: prints "SVC_TICKS PG_TICKS", CPU time used so far in clock ticks
# (getconf CLK_TCK per second): utime+stime of the given processes (default: SVC_PID; 0 for one
# that is gone), and of PostgreSQL as a whole: utime+stime of every process whose command is
# postgres, plus the postmaster's cutime+cstime, so that backends which exited between two
# snapshots still count (the postmaster reaps them). Everything PostgreSQL does counts, for any
# database: run it on an otherwise idle server.
# /proc/PID/stat's 2nd field is the command in parentheses and may hold spaces: fields are
# counted after the last ')', where utime, stime, cutime, cstime (fields 14-17) are $12-$15 and
# the parent's pid (field 4) is $2.
# With PG_CPU_DB set (ingest.sh sets it to BENCH_DB), PostgreSQL means only the processes that
# work for that database: its backends (their command line names it) and the server's shared
# writers (checkpointer, background writer, walwriter), so that other databases' clients on a
# shared server do not count. Backends of that database that exit between two snapshots are then
# lost: keep the measured connections open (the service's pool does).
cpu_snapshot() {
  local -a pids=("$@")
  ((${#pids[@]} > 0)) || pids=("$SVC_PID")
  local svc pg p
  svc="$(for p in "${pids[@]}"; do [[ -z "$p" ]] || cat "/proc/$p/stat" 2>/dev/null || true; done \
    | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%d", t }')"
  if [[ -n "${PG_CPU_DB:-}" ]]; then
    pg="$(for p in $(pg_pids_of "$PG_CPU_DB"); do cat "/proc/$p/stat" 2>/dev/null || true; done \
      | awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%d", t }')"
  else
    pg="$(for p in $(pgrep -x postgres); do cat "/proc/$p/stat" 2>/dev/null || true; done \
      | awk '{ pid = $1; sub(/^.*\) /, ""); ppid[pid] = $2; own[pid] = $12 + $13; kids[pid] = $14 + $15 }
             END { for (p in own) { t += own[p]; if (!(ppid[p] in own)) t += kids[p] } printf "%d", t }')"
  fi
  printf '%s %s\n' "${svc:-0}" "${pg:-0}"
}

# pg_pids_of DB: the PostgreSQL processes working for database DB (backends and autovacuum
# workers whose command line names it) and the shared writers (checkpointer, background writer,
# walwriter), one pid a line.
pg_pids_of() {
  local p cmd
  for p in $(pgrep -x postgres); do
    cmd="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" || continue
    if [[ " $cmd " == *" $1 "* || "$cmd" =~ :\ (checkpointer|background\ writer|walwriter) ]]; then printf '%s\n' "$p"; fi
  done
}

# ticks_of PID: utime + stime of one process so far, in clock ticks (0 when it is gone).
ticks_of() { awk '{ sub(/^.*\) /, ""); printf "%d\n", $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# cpu_per_line SNAPSHOT0 SNAPSHOT1 LINES: prints "SVC_US PG_US", microseconds of CPU per line
# for openbatch and for PostgreSQL between two cpu_snapshot outputs (1 decimal; "n/a" for 0 lines).
cpu_per_line() {
  local s0 p0 s1 p1
  read -r s0 p0 <<<"$1"
  read -r s1 p1 <<<"$2"
  awk -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    if (n <= 0) { print "n/a n/a"; exit }
    printf "%.1f %.1f\n", s * 1e6 / hz / n, p * 1e6 / hz / n }'
}
# cpu_seconds SNAPSHOT0 SNAPSHOT1: prints "SVC_S PG_S", CPU seconds used between two snapshots.
cpu_seconds() {
  local s0 p0 s1 p1
  read -r s0 p0 <<<"$1"
  read -r s1 p1 <<<"$2"
  awk -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f %.2f\n", s / hz, p / hz }'
}

# ---------- the service's own figures ----------
# metrics_text: the service's GET /q/metrics (Prometheus text), from its management interface
# (MGMT_URL, set by start_service). Empty output if it does not answer.
metrics_text() { curl -sS -m 10 "${MGMT_URL:-$SVC_URL}/q/metrics" 2>/dev/null || true; }

# metric_sum TEXT NAME: the sum of every sample of metric NAME (any labels) in a metrics_text
# answer; prints "missing" when NAME has no sample.
metric_sum() {
  awk -v name="$2" '
    { n = $1; sub(/\{.*$/, "", n) }
    n == name && $0 !~ /^#/ { t += $NF; found = 1 }
    END { if (found) printf "%.0f\n", t; else print "missing" }' <<<"$1"
}

# log_deadlocks FILE: how many lines of FILE (a service log) report a PostgreSQL deadlock.
log_deadlocks() {
  local n
  n="$(grep -cE 'deadlock detected|40P01' "$1" 2>/dev/null)" || true
  printf '%s\n' "${n:-0}"
}

# hist_p99 FILE0 FILE1 NAME: from two scrapes of GET /q/metrics, the p99 of histogram NAME over
# what it observed between them: the difference of the cumulative bucket counts (summed over any
# other labels), p99 = the smallest le whose count >= 0.99 x the total. Prints "P99_MS COUNT"
# ("n/a 0" when nothing was observed, "inf" when p99 is above the last finite bucket).
hist_p99() {
  awk -v f0="$1" -v name="$3" '
    index($0, name "_bucket{") == 1 && match($0, /le="[^"]*"/) {
      le = substr($0, RSTART + 4, RLENGTH - 5)
      if (FILENAME == f0) a[le] += $NF; else b[le] += $NF
      seen[le] = 1
    }
    END {
      n = 0
      for (le in seen) { k[++n] = le; v[n] = (le == "+Inf") ? 1e300 : le + 0 }
      for (i = 2; i <= n; i++)   # insertion sort by bound
        for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; t = k[j]; k[j] = k[j - 1]; k[j - 1] = t }
      total = b["+Inf"] - a["+Inf"]
      if (n == 0 || total <= 0) { print "n/a 0"; exit }
      for (i = 1; i <= n; i++)
        if (b[k[i]] - a[k[i]] >= 0.99 * total) { p = (k[i] == "+Inf") ? "inf" : sprintf("%.1f", 1000 * k[i]); break }
      printf "%s %d\n", p, total
    }' "$1" "$2"
}
