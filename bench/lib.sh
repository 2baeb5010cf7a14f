# shellcheck shell=bash
# bench/lib.sh: shared helpers for bench/throughput.sh and bench/ingest.sh. Source it, don't run it.
#
# Provides: logging, timing, JSON field extraction (jq, or node when jq is missing), the API
# wrapper, building the service, (re)creating the bench database, starting/stopping the fake
# upstream and the service, and an EXIT trap that stops whatever this script started.
#
# Common knobs (environment):
#   XMX=256m               service heap
#   BENCH_DB=openbatch_bench
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
#   SVC_PORT=<free port>   HTTP port of the service (default: a free port)
#   READY_TIMEOUT=180      seconds to wait for the service to become ready
#   JAVA_OPTS=""           extra JVM/-D options appended to the service command line
#   OPENBATCH_JAR=target/quarkus-app/quarkus-run.jar   the jar to run (built only when it is
#                          this default and missing)

set -o pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
OUT_DIR="$BENCH_DIR/out"
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

# stop_pid PID NAME: SIGTERM, up to 15 s grace, then SIGKILL. Only ever the PIDs we started.
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
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e   # whatever happens below, stop both processes
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

# ---------- service ----------
# start_service TAG MODELS MAX_CONCURRENCY [extra -D options...]: starts the service against
# BENCH_DB with one upstream "fake" at FAKE_URL, waits until it is ready. Sets SVC_PID, SVC_PORT,
# SVC_URL, SVC_LOG.
start_service() {
  local tag="$1" models="$2" maxconc="$3"; shift 3
  [[ -n "$SVC_PORT" ]] || SVC_PORT="$(free_port)"
  SVC_URL="http://127.0.0.1:$SVC_PORT"
  SVC_LOG="$OUT_DIR/service-$tag.log"
  local -a cmd=(java "-Xmx$XMX"
    "-Dquarkus.http.port=$SVC_PORT"
    "-Dquarkus.datasource.reactive.url=postgresql://$PGHOST:$PGPORT/$BENCH_DB"
    "-Dquarkus.datasource.jdbc.url=jdbc:postgresql://$PGHOST:$PGPORT/$BENCH_DB"
    "-Dquarkus.datasource.username=$PGUSER"
    "-Dopenbatch.upstreams.fake.url=$FAKE_URL"
    "-Dopenbatch.upstreams.fake.models=$models"
    "-Dopenbatch.upstreams.fake.max-concurrency=$maxconc"
    "-Dopenbatch.local.enabled=false"
    "$@")
  # shellcheck disable=SC2206  # JAVA_OPTS is deliberately word-split
  [[ -n "$JAVA_OPTS" ]] && cmd+=($JAVA_OPTS)
  cmd+=(-jar "$OPENBATCH_JAR")
  printf '%q ' "${cmd[@]}" >"$SVC_LOG"; printf '\n' >>"$SVC_LOG"
  log "starting the service on $SVC_URL (log $SVC_LOG)"
  (cd "$REPO_DIR" && exec "${cmd[@]}") >>"$SVC_LOG" 2>&1 &
  SVC_PID=$!
  wait_ready
}

# wait_ready: GET /q/health/ready until 200; if the health endpoint does not exist (404),
# GET /v1/models (then /v1/batches) until 200 instead.
wait_ready() {
  local t0 code alt
  t0="$(now)"
  while :; do
    kill -0 "$SVC_PID" 2>/dev/null || die "the service exited during start-up; last log lines:
$(tail -30 "$SVC_LOG")"
    code="$(curl -s -o /dev/null -w '%{http_code}' "$SVC_URL/q/health/ready" || true)"
    if [[ "$code" == 200 ]]; then break; fi
    if [[ "$code" == 404 ]]; then
      alt="$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/models" || true)"
      [[ "$alt" == 200 ]] && break
      alt="$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/batches" || true)"
      [[ "$alt" == 200 ]] && break
    fi
    if awk -v e="$(elapsed "$t0")" -v m="$READY_TIMEOUT" 'BEGIN{exit !(e>m)}'; then
      die "the service was not ready after ${READY_TIMEOUT}s (last /q/health/ready: $code); see $SVC_LOG"
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
