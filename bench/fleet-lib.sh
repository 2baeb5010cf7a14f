# shellcheck shell=bash
# bench/fleet-lib.sh: helpers for the fleet benchmarks ("share the fleet": adaptive concurrency
# per upstream, one cap across replicas, interactive users not kept waiting). Source it, don't run
# it; it sources bench/lib.sh (logging, API, database, start_service, cleanup trap, check/note).
#
# Provides:
#   slot servers (bench/slot-server.mjs), any number, by name:
#     start_slot_server NAME [slot-server options...]   sets SLOT_PID/SLOT_PORT/SLOT_URL/SLOT_ADMIN/SLOT_LOG[NAME]
#     slot_stats NAME [QUERY]       GET /stats on the admin port (QUERY default "series=0")
#     slot_reset NAME, slot_metrics NAME, slot_slow NAME FACTOR SECONDS, slot_stop NAME [SECONDS],
#     slot_start NAME, stop_slot_server NAME
#     jsx JSON EXPR                 evaluates a JavaScript expression on the parsed JSON `s`
#     series_rate STATS_JSON CLASS T0 T1    lines/s of CLASS done between unix times T0 and T1,
#                                   from a /stats answer's series (and the fields below)
#   the interactive load (bench/interactive-load.mjs):
#     run_interactive RATE SECONDS [URL] [OUT_JSON] [more interactive-load options...]  prints p99 (ms)
#   openbatch replicas on one database (BENCH_DB), each with its own ports, node id and upstream key:
#     add_upstream NAME URL MODELS MAX_CONCURRENCY [key=value...]   one upstream in every replica's config
#     clear_upstreams
#     start_replica NAME [NODE_ID] [UPSTREAM_KEY] [extra -D options...]
#     use_replica NAME, kill9_replica NAME, term_replica NAME [LIMIT_S], stop_replica NAME,
#     replica_metric NAME METRIC    the sum of one metric of its GET /q/metrics
#   batches:
#     gen_fleet_input N FILE PREFIX [MODEL] [PRIORITY]  chat lines as gen_chat_input, with the body's
#                                   `priority` when PRIORITY is set (slot-server --priority-scheduling)
#     submit_batch FILE             upload + create on SVC_URL (use_replica first); prints the batch id
#     batch_line ID                 one poll: prints "STATUS DONE TOTAL COMPLETED FAILED" (DONE = completed + failed)
#     cancel_batch ID [TIMEOUT_S]   POST /v1/batches/ID/cancel and wait until it ends
#
# Everything started here is stopped by lib.sh's EXIT trap (through CLEANUP_HOOKS).
# Knobs (environment): those of lib.sh; INTERACTIVE_TIMEOUT_MS (60000), the per-request timeout
# of run_interactive.

if [[ -z "${FLEET_LIB_LOADED:-}" ]]; then
FLEET_LIB_LOADED=1
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need timeout

# jsx JSON EXPR: prints the value of the JavaScript expression EXPR, in which `s` is the parsed JSON
# (objects and arrays as compact JSON, null/undefined as "null"), e.g. jsx "$st" 's.classes.batch.done'.
jsx() {
  node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const v = (0, eval)("(s) => (" + process.argv[1] + ")")(s);
    console.log(v === null || v === undefined ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v));' "$2" <<<"$1"
}

# ---------- slot servers ----------
declare -A SLOT_PID=() SLOT_PORT=() SLOT_URL=() SLOT_ADMIN=() SLOT_LOG=()
SLOT_FIRST=""
stop_slot_server() {
  [[ -n "${SLOT_PID[$1]:-}" ]] || return 0
  stop_pid "${SLOT_PID[$1]}" "slot server $1"
  unset "SLOT_PID[$1]"
}
stop_slot_servers() {
  local n
  for n in "${!SLOT_PID[@]}"; do stop_slot_server "$n"; done
}
CLEANUP_HOOKS+=(stop_slot_servers)

# start_slot_server NAME [slot-server options...]: starts bench/slot-server.mjs (log
# $OUT_DIR/slot-server-NAME.log, stdout and stderr). A restarted NAME gets its former API port back
# unless the options name one (--port). Sets SLOT_PID, SLOT_PORT, SLOT_URL (API root),
# SLOT_ADMIN (admin root: /stats, /admin/*, also while the API port is stopped), SLOT_LOG [NAME];
# the first one started is SLOT_FIRST, run_interactive's default target.
start_slot_server() {
  local name="$1"; shift
  local -a args=("$@")
  if [[ " $* " != *" --port "* && " $* " != *" --port="* ]]; then args=(--port "${SLOT_PORT[$name]:-0}" "${args[@]}"); fi
  stop_slot_server "$name"
  local logf="$OUT_DIR/slot-server-$name.log"
  : >"$logf"
  node "$BENCH_DIR/slot-server.mjs" "${args[@]}" >>"$logf" 2>&1 &
  SLOT_PID[$name]=$!
  local i port="" admin=""
  for ((i = 0; i < 100; i++)); do
    port="$(sed -n 's/^listening on //p' "$logf" 2>/dev/null | head -1)"
    admin="$(sed -n 's/^admin on //p' "$logf" 2>/dev/null | head -1)"
    [[ -n "$port" && -n "$admin" ]] && break
    kill -0 "${SLOT_PID[$name]}" 2>/dev/null || die "slot server $name exited: $(tail -5 "$logf")"
    sleep 0.1
  done
  [[ -n "$port" && -n "$admin" ]] || die "slot server $name did not start in 10 s"
  SLOT_PORT[$name]="$port"
  SLOT_URL[$name]="http://127.0.0.1:$port"
  SLOT_ADMIN[$name]="http://127.0.0.1:$admin"
  SLOT_LOG[$name]="$logf"
  [[ -n "$SLOT_FIRST" ]] || SLOT_FIRST="$name"
  log "slot server $name pid ${SLOT_PID[$name]} at ${SLOT_URL[$name]} (admin ${SLOT_ADMIN[$name]}) ($*)"
}
slot_stats()   { curl -sS -m 20 "${SLOT_ADMIN[$1]}/stats?${2:-series=0}"; }
slot_reset()   { curl -sS -m 10 -X POST "${SLOT_ADMIN[$1]}/stats/reset" >/dev/null; }
slot_metrics() { curl -sS -m 10 "${SLOT_ADMIN[$1]}/metrics"; }
slot_slow()    { curl -sS -m 10 -X POST "${SLOT_ADMIN[$1]}/admin/slow?factor=$2&seconds=${3:-0}" >/dev/null; log "slot server $1: service time x$2${3:+ for ${3}s}"; }
slot_stop()    { curl -sS -m 10 -X POST "${SLOT_ADMIN[$1]}/admin/stop${2:+?seconds=$2}" >/dev/null; log "slot server $1: API port stopped${2:+ for ${2}s}"; }
slot_start()   { curl -sS -m 10 -X POST "${SLOT_ADMIN[$1]}/admin/start" >/dev/null; log "slot server $1: API port listening again"; }

# series_rate STATS_JSON CLASS T0 T1: from a GET /stats answer that holds the series (query
# "since=..." or "" rather than series=0), the rate (per second) at which CLASS's requests were
# done between unix times T0 and T1: the first sample at or after T0 and the last at or before
# T1. Prints "RATE SECONDS DONE MIN_RUNNING MIN_IN_FLIGHT MEAN_BUSY": MIN_RUNNING / MIN_IN_FLIGHT
# are the fewest requests of CLASS running / running + waiting in any sample of the window (0
# means the class left the server idle at some point: a batch that ran dry), MEAN_BUSY the mean
# number of busy slots (all classes). "n/a 0 0 0 0 0" if the series does not cover the window.
series_rate() {
  node -e '
    const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const [cls, t0, t1] = [process.argv[1], +process.argv[2], +process.argv[3]];
    const w = (s.series || []).filter((x) => x.t >= t0 && x.t <= t1);
    if (w.length < 2) { console.log("n/a 0 0 0 0 0"); process.exit(0); }
    const a = w[0], b = w[w.length - 1], dt = b.t - a.t, done = b.done_by_class[cls] - a.done_by_class[cls];
    let minRun = Infinity, minIn = Infinity, busy = 0;
    for (const x of w) { minRun = Math.min(minRun, x.running_by_class[cls]); minIn = Math.min(minIn, x.running_by_class[cls] + x.waiting_by_class[cls]); busy += x.running; }
    console.log((done / dt).toFixed(2), dt.toFixed(2), done, minRun, minIn, (busy / w.length).toFixed(1));' "$2" "$3" "$4" <<<"$1"
}

# ---------- the interactive load ----------
# run_interactive RATE SECONDS [URL] [OUT_JSON] [more interactive-load.mjs options...]: Poisson
# arrivals at RATE/s for SECONDS against URL (default: the first slot server's API), waits for the
# last answer (bounded: SECONDS + the request timeout + 30 s), writes the JSON result to OUT_JSON
# (default $OUT_DIR/interactive-last.json) and prints its p99 in ms ("null" if nothing came back).
# Run it in the background (&) to do something meanwhile; the JSON is in OUT_JSON afterwards.
run_interactive() {
  local rate="$1" secs="$2" url="${3:-}" out="${4:-}"
  shift 2; (($# > 0)) && shift; (($# > 0)) && shift
  [[ -n "$url" ]] || url="${SLOT_URL[$SLOT_FIRST]}"
  [[ -n "$out" ]] || out="$OUT_DIR/interactive-last.json"
  local to_ms="${INTERACTIVE_TIMEOUT_MS:-60000}" limit
  limit="$(awk -v s="$secs" -v t="$to_ms" 'BEGIN{printf "%d", s + t / 1000 + 30}')"
  rm -f "$out"
  timeout -k 5 "$limit" node "$BENCH_DIR/interactive-load.mjs" --url "$url" --rate "$rate" --seconds "$secs" \
    --timeout-ms "$to_ms" --out "$out" "$@" >/dev/null || log "interactive load ended with status $? (limit ${limit}s)"
  if [[ -s "$out" ]]; then jsx "$(cat "$out")" 's.p99'; else echo null; fi
}

# ---------- openbatch replicas ----------
# The upstreams every replica is configured with: add_upstream NAME URL MODELS MAX_CONCURRENCY
# [key=value...] (extra keys of openbatch.upstreams.NAME, e.g. metrics-url=http://.../metrics for a
# build that knows it: an unknown key under a config mapping may stop an older build from starting).
UPSTREAM_NAMES=()
declare -A UPSTREAM_URL=() UPSTREAM_MODELS=() UPSTREAM_MAXCONC=() UPSTREAM_EXTRA=()
add_upstream() {
  local name="$1" url="$2" models="$3" maxconc="$4"; shift 4
  UPSTREAM_NAMES+=("$name")
  UPSTREAM_URL[$name]="$url"; UPSTREAM_MODELS[$name]="$models"; UPSTREAM_MAXCONC[$name]="$maxconc"
  UPSTREAM_EXTRA[$name]="$*"
}
clear_upstreams() { UPSTREAM_NAMES=(); UPSTREAM_URL=(); UPSTREAM_MODELS=(); UPSTREAM_MAXCONC=(); UPSTREAM_EXTRA=(); }

declare -A REPLICA_PID=() REPLICA_PORT=() REPLICA_MGMT_PORT=() REPLICA_URL=() REPLICA_MGMT_URL=() REPLICA_ID=() REPLICA_KEY=() REPLICA_LOG=() REPLICA_STARTS=()
stop_replica() {
  [[ -n "${REPLICA_PID[$1]:-}" ]] || return 0
  stop_pid "${REPLICA_PID[$1]}" "replica $1"
  unset "REPLICA_PID[$1]"
}
stop_replicas() {
  local n
  for n in "${!REPLICA_PID[@]}"; do stop_replica "$n"; done
}
CLEANUP_HOOKS+=(stop_replicas)

# start_replica NAME [NODE_ID] [UPSTREAM_KEY] [extra -D options...]: starts (or restarts) an
# openbatch process on BENCH_DB with the upstreams of add_upstream, node id NODE_ID (default
# fleet-NAME) and, when UPSTREAM_KEY is not empty, api-key UPSTREAM_KEY on every upstream (the slot
# server counts each replica apart by it). Its API and management ports are kept across restarts.
# Waits until it is ready. Sets REPLICA_PID/PORT/URL/MGMT_URL/ID/KEY/LOG[NAME] and points SVC_URL /
# MGMT_URL at it (use_replica NAME switches later). As crash.sh / sigterm.sh do.
start_replica() {
  local name="$1" id="${2:-}" key="${3:-}"
  shift; (($# > 0)) && shift; (($# > 0)) && shift
  [[ -n "$id" ]] || id="fleet-$name"
  ((${#UPSTREAM_NAMES[@]} > 0)) || die "start_replica: no upstream (add_upstream first)"
  REPLICA_STARTS[$name]=$(( ${REPLICA_STARTS[$name]:-0} + 1 ))
  [[ -n "${REPLICA_PORT[$name]:-}" ]] || REPLICA_PORT[$name]="$(free_port)"
  [[ -n "${REPLICA_MGMT_PORT[$name]:-}" ]] || REPLICA_MGMT_PORT[$name]="$(free_port)"
  local -a opts=("-Dopenbatch.engine.node-id=$id")
  local u kv
  for u in "${UPSTREAM_NAMES[@]}"; do
    opts+=("-Dopenbatch.upstreams.$u.url=${UPSTREAM_URL[$u]}"
      "-Dopenbatch.upstreams.$u.models=${UPSTREAM_MODELS[$u]}"
      "-Dopenbatch.upstreams.$u.max-concurrency=${UPSTREAM_MAXCONC[$u]}")
    [[ -n "$key" ]] && opts+=("-Dopenbatch.upstreams.$u.api-key=$key")
    for kv in ${UPSTREAM_EXTRA[$u]}; do opts+=("-Dopenbatch.upstreams.$u.$kv"); done
  done
  SVC_PORT="${REPLICA_PORT[$name]}"
  MGMT_PORT="${REPLICA_MGMT_PORT[$name]}"
  start_service "fleet-$name-${REPLICA_STARTS[$name]}" "" 0 "${opts[@]}" "$@"
  REPLICA_PID[$name]="$SVC_PID"; REPLICA_URL[$name]="$SVC_URL"; REPLICA_MGMT_URL[$name]="$MGMT_URL"
  REPLICA_ID[$name]="$id"; REPLICA_KEY[$name]="$key"; REPLICA_LOG[$name]="$SVC_LOG"
  SVC_PID=""   # stop_replicas stops it, not lib.sh's cleanup
  log "replica $name: node id $id, upstream key ${key:-(none)}, pid ${REPLICA_PID[$name]}, $SVC_URL"
}
use_replica() { SVC_URL="${REPLICA_URL[$1]}"; MGMT_URL="${REPLICA_MGMT_URL[$1]}"; SVC_LOG="${REPLICA_LOG[$1]}"; }
kill9_replica() {
  local name="$1"
  kill -KILL "${REPLICA_PID[$name]}" 2>/dev/null || true
  wait "${REPLICA_PID[$name]}" 2>/dev/null || true
  log "kill -9 replica $name (pid ${REPLICA_PID[$name]}, node id ${REPLICA_ID[$name]})"
  unset "REPLICA_PID[$name]"
}
# term_replica NAME [LIMIT_S]: SIGTERM and wait until it is gone (kill -9 after LIMIT_S, default 45).
# Sets EXIT_S (seconds from the signal to the exit).
EXIT_S=""
term_replica() {
  local name="$1" limit="${2:-45}" pid="${REPLICA_PID[$1]}" t0
  t0="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null; do
    if awk -v e="$(elapsed "$t0")" -v m="$limit" 'BEGIN{exit !(e>m)}'; then
      log "replica $name still running ${limit}s after SIGTERM: kill -9"; kill -KILL "$pid" 2>/dev/null || true; break
    fi
    sleep 0.05
  done
  wait "$pid" 2>/dev/null || true
  EXIT_S="$(elapsed "$t0")"
  unset "REPLICA_PID[$name]"
  log "replica $name gone ${EXIT_S}s after SIGTERM"
}
replica_metric() { metric_sum "$(curl -sS -m 10 "${REPLICA_MGMT_URL[$1]}/q/metrics" 2>/dev/null || true)" "$2"; }

# ---------- batches ----------
gen_fleet_input() {
  awk -v n="$1" -v p="$3" -v model="${4:-bench-model}" -v prio="${5:-}" 'BEGIN {
    extra = (prio == "") ? "" : sprintf(",\"priority\":%d", prio)
    for (i = 1; i <= n; i++)
      printf "{\"custom_id\":\"%s-%d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s-%d\"}],\"max_tokens\":16%s}}\n", p, i, model, p, i, extra
  }' >"$2"
}
submit_batch() {
  local fid id
  fid="$(upload_file "$1")" || exit 1
  id="$(jfield "$(create_batch "$fid" /v1/chat/completions)" .id)"
  [[ "$id" == batch* ]] || die "create answered no batch id"
  printf '%s\n' "$id"
}
# batch_line ID: one GET (curl + bash regex, cheap); prints "STATUS DONE TOTAL COMPLETED FAILED"
# ("? 0 0 0 0" if no answer).
batch_line() {
  local b st=? c=0 f=0 t=0
  b="$(curl -sS -m 10 -H "$AUTH_HEADER" "$SVC_URL/v1/batches/$1" 2>/dev/null || true)"
  [[ "$b" =~ \"status\":\"([a-z_]+)\" ]] && st="${BASH_REMATCH[1]}"
  [[ "$b" =~ \"completed\":([0-9]+) ]] && c="${BASH_REMATCH[1]}"
  [[ "$b" =~ \"failed\":([0-9]+) ]] && f="${BASH_REMATCH[1]}"
  [[ "$b" =~ \"total\":([0-9]+) ]] && t="${BASH_REMATCH[1]}"
  echo "$st $((c + f)) $t $c $f"
}
cancel_batch() {
  local id="$1" to="${2:-60}" t0 st done_ total c f
  read -r st done_ total c f < <(batch_line "$id")
  case "$st" in cancelled|completed|failed|expired) log "batch $id already $st (completed $c, failed $f of $total)"; return 0 ;; esac
  api POST "/v1/batches/$id/cancel"
  [[ "$API_STATUS" == 2* ]] || { log "cancel $id answered $API_STATUS: ${API_BODY:0:300}"; return 1; }
  t0="$(now)"
  while :; do
    read -r st done_ total c f < <(batch_line "$id")
    case "$st" in cancelled|completed|failed|expired) log "batch $id $st (completed $c, failed $f of $total)"; return 0 ;; esac
    if awk -v e="$(elapsed "$t0")" -v m="$to" 'BEGIN{exit !(e>m)}'; then log "batch $id still $st ${to}s after cancel"; return 1; fi
    sleep 0.5
  done
}
fi
