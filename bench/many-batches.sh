#!/usr/bin/env bash
# bench/many-batches.sh: many batches from two projects, created at once.
#
# BATCHES batches of LINES_PER_BATCH chat-completion lines (200 x 200 = 40,000 lines), from two
# projects (two API keys, batches alternating between them), created at once through the API,
# against the fake upstream answering after LATENCY_MS with max-concurrency CONCURRENCY. The best
# any engine can do is CONCURRENCY / LATENCY = 200 / 0.05 s = 4,000 lines/s; the script reports
# first create -> last completed against that ceiling and against a bare client measured in the
# same run (bench/loadgen.mjs, CONCURRENCY in flight to the same fake for BARE_S seconds once the
# batches are done; goal ≥ 0.85 of the bare client, issue 22), CPU time per line, and
# how far each project had got when the first one had all its batches completed.
#
#   bash bench/many-batches.sh
#   BATCHES=20 LINES_PER_BATCH=100 bash bench/many-batches.sh
#
# Knobs: BATCHES (200), LINES_PER_BATCH (200), LATENCY_MS (50), CONCURRENCY (200), XMX (256m),
#        CREATE_PARALLEL (16 creates in flight), UPLOAD_PARALLEL (4), POLL_S (0.2), FINAL_POLL_S (0.05, from
#        99 % of the lines settled on),
#        PROGRESS_EVERY_S (3), BARE_S (10), BATCH_TIMEOUT_S (1800), FAIR_MIN (0.5), WARMUP_LINES (0: the
#        measured batches run on a cold JVM; N: one batch of N lines first, not counted), plus those
#        in bench/lib.sh (BENCH_DB defaults to openbatch_many here).
# Output: figures on stdout, a summary in bench/out/many-batches-summary.txt, logs in bench/out/.
# Exit status 0 only if every check passed (whatever the ratio).
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_many}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BATCHES="${BATCHES:-200}"
LINES_PER_BATCH="${LINES_PER_BATCH:-200}"
LATENCY_MS="${LATENCY_MS:-50}"
BARE_S="${BARE_S:-10}"
CONCURRENCY="${CONCURRENCY:-200}"
CREATE_PARALLEL="${CREATE_PARALLEL:-16}"
UPLOAD_PARALLEL="${UPLOAD_PARALLEL:-4}"
POLL_S="${POLL_S:-0.2}"
FINAL_POLL_S="${FINAL_POLL_S:-0.05}"
PROGRESS_EVERY_S="${PROGRESS_EVERY_S:-3}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-1800}"
FAIR_MIN="${FAIR_MIN:-0.5}"
WARMUP_LINES="${WARMUP_LINES:-0}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"
# two projects, one key each; batch i goes to KEYS' ((i-1) % 2)-th entry
AUTH_KEYS="bench-a:project-a,bench-b:project-b"
LINES_TOTAL=$((BATCHES * LINES_PER_BATCH))
((BATCHES >= 2 && LINES_PER_BATCH >= 1)) || die "BATCHES must be >= 2 (two projects) and LINES_PER_BATCH >= 1"

# The client side, one node process per phase (fetch with keep-alive, so polling costs the
# service one request per page and the machine no fork per request):
#   upload: POST /v1/files for every input file, UPLOAD_PARALLEL at a time; writes the ids;
#   run:    POST /v1/batches for every file, CREATE_PARALLEL at a time, from the first create on;
#           then every POLL_S (FINAL_POLL_S from 99 % settled on), GET /v1/batches?limit=100 pages per project until every batch it
#           created is terminal. Writes a JSON result; prints "created failed_creates" figures.
# Settings come from the environment (MB_*).
read -r -d '' CLIENT_JS <<'EOF' || true
const fs = require("fs");
const env = process.env;
const phase = process.argv[1];
const url = env.MB_URL;
const keys = env.MB_KEYS.split(",").map((kp) => { const i = kp.lastIndexOf(":"); return { key: kp.slice(0, i), project: kp.slice(i + 1) }; });
const n = Number(env.MB_BATCHES);
const log = (m) => process.stderr.write(`[${new Date().toTimeString().slice(0, 8)}] ${m}\n`);
const keyOf = (i) => keys[(i - 1) % keys.length];
const auth = (k) => ({ Authorization: `Bearer ${k.key}` });
async function pool(count, parallel, fn) {
  let next = 1;
  const worker = async () => { while (next <= count) { const i = next++; await fn(i); } };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}
async function call(method, path, k, body, headers = {}) {
  const r = await fetch(url + path, { method, headers: { ...auth(k), ...headers }, body });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} answered HTTP ${r.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

async function upload() {
  const ids = {};
  await pool(n, Number(env.MB_UPLOAD_PARALLEL), async (i) => {
    const fd = new FormData();
    fd.append("purpose", "batch");
    fd.append("file", new Blob([fs.readFileSync(`${env.MB_DIR}/b${i}.jsonl`)], { type: "application/jsonl" }), `b${i}.jsonl`);
    ids[i] = (await call("POST", "/v1/files", keyOf(i), fd)).id;
  });
  fs.writeFileSync(env.MB_IDS, JSON.stringify(ids));
}

async function run() {
  const fileIds = JSON.parse(fs.readFileSync(env.MB_IDS, "utf8"));
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  const batches = new Map(); // id -> { i, project, status, total, completed, failed }
  let createErrors = 0, firstError = "";
  await pool(n, Number(env.MB_CREATE_PARALLEL), async (i) => {
    const body = JSON.stringify({ input_file_id: fileIds[i], endpoint: env.MB_ENDPOINT, completion_window: "24h", metadata: { bench: "many-batches" } });
    try {
      const b = await call("POST", "/v1/batches", keyOf(i), body, { "Content-Type": "application/json" });
      batches.set(b.id, { i, project: keyOf(i).project, status: b.status, total: 0, completed: 0, failed: 0 });
    } catch (e) { createErrors++; firstError = firstError || String(e); }
  });
  const createS = since();
  log(`created ${batches.size} batches in ${createS.toFixed(3)} s (${createErrors} creates failed${firstError ? ": " + firstError : ""})`);
  const projects = keys.map((k) => k.project);
  const lines = Object.fromEntries(projects.map((p) => [p, 0]));
  for (const b of batches.values()) lines[b.project] += Number(env.MB_LINES_PER_BATCH);
  let fair = null, endS = null, polls = 0, lastLog = 0, lastDone = 0, lastT = 0, pollErrors = 0;
  const terminal = (s) => ["completed", "failed", "expired", "cancelled"].includes(s);
  while (batches.size > 0) {
    polls++;
    try {
      for (const k of keys) {
        let after = null, seen = 0;
        const mine = [...batches.values()].filter((b) => b.project === k.project).length;
        do {
          const page = await call("GET", `/v1/batches?limit=100${after ? "&after=" + after : ""}`, k);
          for (const v of page.data) {
            const b = batches.get(v.id);
            if (!b) continue;
            seen++;
            Object.assign(b, { status: v.status, total: v.request_counts.total, completed: v.request_counts.completed, failed: v.request_counts.failed });
          }
          after = page.has_more ? page.last_id : null;
        } while (after && seen < mine);
      }
    } catch (e) {
      if (++pollErrors >= 25) { log(`polling keeps failing: ${e}`); break; }
      await new Promise((r) => setTimeout(r, Number(env.MB_POLL_MS)));
      continue;
    }
    pollErrors = 0;
    const t = since();
    const per = Object.fromEntries(projects.map((p) => [p, { done: 0, batches: 0, terminal: 0 }]));
    for (const b of batches.values()) {
      const q = per[b.project]; q.done += b.completed + b.failed; q.batches++; if (terminal(b.status)) q.terminal++;
    }
    if (!fair) {
      const first = projects.find((p) => per[p].batches > 0 && per[p].terminal === per[p].batches);
      if (first) fair = { first, at_s: t, projects: Object.fromEntries(projects.map((p) => [p, { done: per[p].done, lines: lines[p] }])) };
    }
    const done = projects.reduce((s, p) => s + per[p].done, 0);
    const allTerminal = projects.every((p) => per[p].terminal === per[p].batches);
    if (allTerminal) { endS = t; break; }
    if (t - lastLog >= Number(env.MB_PROGRESS_EVERY_S)) {
      log(`progress: ${projects.map((p) => `${p} ${per[p].terminal}/${per[p].batches} batches ${per[p].done}/${lines[p]} lines`).join(", ")} (${Math.round((done - lastDone) / (t - lastT))} lines/s now)`);
      lastLog = t; lastDone = done; lastT = t;
    }
    if (t > Number(env.MB_TIMEOUT_S)) { log(`not every batch ended after ${env.MB_TIMEOUT_S} s`); break; }
    // from 99 % of the lines settled on, every MB_FINAL_POLL_MS: the end is timed to that, not to a whole MB_POLL_MS
    const total = projects.reduce((s, p) => s + lines[p], 0);
    await new Promise((r) => setTimeout(r, Number(done >= total * 0.99 ? env.MB_FINAL_POLL_MS : env.MB_POLL_MS)));
  }
  const list = [...batches.entries()].map(([id, b]) => ({ id, ...b }));
  const want = Number(env.MB_LINES_PER_BATCH);
  const good = list.filter((b) => b.status === "completed" && b.total === want && b.completed === want && b.failed === 0).length;
  const result = { create_s: createS, end_s: endS, created: list.length, create_errors: createErrors, good, polls, fair, batches: list };
  fs.writeFileSync(env.MB_RESULT, JSON.stringify(result, null, 1));
  const fairText = fair ? `${fair.first} had all its batches ended ${fair.at_s.toFixed(3)} s after the first create; then: `
    + projects.map((p) => `${p} ${fair.projects[p].done}/${fair.projects[p].lines} lines`).join(", ") : "none";
  const fairMin = fair ? Math.min(...projects.map((p) => fair.projects[p].done / fair.projects[p].lines)) : 0;
  console.log([list.length, createErrors, good, createS.toFixed(3), endS === null ? "none" : endS.toFixed(3), polls, fairMin.toFixed(3), fairText].join("\t"));
}

(phase === "upload" ? upload() : run()).catch((e) => { log(`ERROR: ${e.stack || e}`); process.exit(1); });
EOF

# client PHASE: runs the node client above (see there) against the service
client() {
  MB_URL="$SVC_URL" MB_KEYS="$AUTH_KEYS" MB_BATCHES="$BATCHES" MB_LINES_PER_BATCH="$LINES_PER_BATCH" \
    MB_DIR="$INPUT_DIR" MB_IDS="$OUT_DIR/many-batches-file-ids.json" MB_RESULT="$OUT_DIR/many-batches-result.json" \
    MB_ENDPOINT="$ENDPOINT" MB_UPLOAD_PARALLEL="$UPLOAD_PARALLEL" MB_CREATE_PARALLEL="$CREATE_PARALLEL" \
    MB_POLL_MS="$(calc "$POLL_S * 1000")" MB_FINAL_POLL_MS="$(calc "$FINAL_POLL_S * 1000")" MB_PROGRESS_EVERY_S="$PROGRESS_EVERY_S" MB_TIMEOUT_S="$BATCH_TIMEOUT_S" \
    node -e "$CLIENT_JS" "$1"
}

# (a) build if needed
ensure_build

# (b) fake upstream
start_fake many-batches --latency-ms "$LATENCY_MS"

# (c) fresh database
recreate_db

# (d) the service, two keys for two projects
extra=("-Dopenbatch.auth.keys=$AUTH_KEYS")
if ((LINES_PER_BATCH > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$LINES_PER_BATCH"); fi
start_service many-batches "$MODEL" "$CONCURRENCY" "${extra[@]}"
KEY_A="${AUTH_KEYS%%:*}"

# (e) input files: batch i's lines have custom_id and content b<i>-<line>
INPUT_DIR="$OUT_DIR/many-batches-input"
rm -rf "$INPUT_DIR"; mkdir -p "$INPUT_DIR"
log "generating $BATCHES files of $LINES_PER_BATCH lines in $INPUT_DIR"
awk -v nb="$BATCHES" -v nl="$LINES_PER_BATCH" -v dir="$INPUT_DIR" -v model="$MODEL" -v url="$ENDPOINT" 'BEGIN {
  for (b = 1; b <= nb; b++) {
    f = dir "/b" b ".jsonl"
    for (i = 1; i <= nl; i++)
      printf "{\"custom_id\":\"b%d-%d\",\"method\":\"POST\",\"url\":\"%s\",\"body\":{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"b%d-%d\"}],\"max_tokens\":16}}\n", b, i, url, model, b, i > f
    close(f)
  }
}'

# (f) optional warm-up batch (project a), then the fake's counters are zeroed
with_key "$KEY_A" warm_up many-batches "$WARMUP_LINES" "$MODEL" "$ENDPOINT"

# (g) upload every file first (not timed)
t_up="$(now)"
client upload || die "the uploads failed"
log "uploaded $BATCHES files in $(elapsed "$t_up")s"

# (h) create every batch at once, poll until every one has ended
log "creating $BATCHES batches ($CREATE_PARALLEL creates in flight), polling every ${POLL_S}s"
fresh_checkpoint
cpu0="$(cpu_snapshot "$SVC_PID")"
client_out="$(client run)" || die "the create/poll client failed"
cpu1="$(cpu_snapshot "$SVC_PID")"
IFS=$'\t' read -r created create_errors good create_s end_s polls fair_min fair_text <<<"$client_out"

# (i) checks
ok=1
expect() {
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "check ok:     $d"; else log "check FAILED: $d"; ok=0; fi
}
expect "all $BATCHES batches created (created $created, $create_errors creates failed)" [ "$created/$create_errors" = "$BATCHES/0" ]
expect "every batch ended (first create -> last ended: $end_s s)" [ "$end_s" != none ]
expect "every batch completed with total=completed=$LINES_PER_BATCH failed=0 ($good of $BATCHES)" [ "$good" = "$BATCHES" ]
stats="$(curl -sS "$FAKE_URL/stats?by_key=0")"
IFS=$'\t' read -r up_requests up_max_inflight up_max_conns < <(jfields "$stats" .requests .max_in_flight .max_connections)
expect "fake upstream saw exactly $LINES_TOTAL requests, none twice (saw $up_requests)" [ "$up_requests" = "$LINES_TOTAL" ]
expect "upstream concurrency never above max-concurrency $CONCURRENCY (max $up_max_inflight)" [ "$up_max_inflight" -le "$CONCURRENCY" ]
expect "fairness: when the first project had all its batches ended, every project had done >= $FAIR_MIN of its lines (least: $fair_min)" \
  awk -v a="$fair_min" -v b="$FAIR_MIN" 'BEGIN { exit !(a >= b) }'
deadlocks="$(log_deadlocks "$SVC_LOG")"
expect "no deadlock in the service log (lines matching 'deadlock detected|40P01': $deadlocks)" [ "$deadlocks" = 0 ]
taken_over="$(metric_sum "$(metrics_text)" openbatch_leases_taken_over_total)"
expect "openbatch_leases_taken_over_total is 0 (is $taken_over)" [ "$taken_over" = 0 ]

# the bare client, on the same fake and box, now that the batches are done
log "bare client: $CONCURRENCY in flight to the same fake for ${BARE_S}s"
bare="$(bare_client_rate "$CONCURRENCY" "$BARE_S")" || bare=0

# (j) figures
ceiling="$(calc "$CONCURRENCY * 1000 / $LATENCY_MS")"
if [[ "$end_s" != none ]]; then
  rate="$(calc "$LINES_TOTAL / $end_s")"
  ratio="$(calc "$rate / $ceiling")"
else
  rate="n/a"; ratio="n/a"
fi
read -r cpu_svc_us cpu_pg_us < <(cpu_per_line "$cpu0" "$cpu1" "$LINES_TOTAL")
read -r cpu_svc_s cpu_pg_s < <(cpu_seconds "$cpu0" "$cpu1")
row() { printf '  %-38s %s\n' "$1" "$2"; }
summary="$(
  echo "openbatch many-batches benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX)"
  row "batches" "$BATCHES x $LINES_PER_BATCH lines = $LINES_TOTAL lines, two projects (alternating)"
  row "JVM" "$([[ -n "$COLD_FIGURE" ]] && echo "warm (after a warm-up batch; cold: $COLD_FIGURE)" || echo "cold (no warm-up batch)")"
  row "upstream" "latency ${LATENCY_MS} ms, max-concurrency $CONCURRENCY"
  row "create phase" "${create_s} s for $BATCHES creates ($CREATE_PARALLEL in flight)"
  row "first create -> last completed" "${end_s} s  (polled every ${POLL_S} s, from 99 % settled every ${FINAL_POLL_S} s; $polls polls)"
  row "throughput" "${rate} lines/s"
  row "ceiling ($CONCURRENCY / ${LATENCY_MS} ms)" "${ceiling} lines/s"
  row "ratio (create -> completed / ceiling)" "${ratio}"
  row "bare client, same run (${BARE_S} s)" "${bare} requests/s  (the same fake, $CONCURRENCY in flight, no openbatch)"
  row "ratio to the bare client" "$([[ "$rate" == n/a ]] && echo n/a || calc "$rate / ($bare + 0.000001)")  (goal ≥ 0.85)"
  row "CPU per line" "openbatch ${cpu_svc_us} µs, PostgreSQL ${cpu_pg_us} µs  (${cpu_svc_s} s and ${cpu_pg_s} s, first create -> last completed)"
  row "fairness" "$fair_text"
  row "upstream requests" "${up_requests}  (expected $LINES_TOTAL)"
  row "upstream max in flight" "${up_max_inflight}  (max connections ${up_max_conns})"
  row "deadlocks in the service log" "${deadlocks}"
  row "leases taken over (metric)" "${taken_over}"
  row "checks" "$([[ $ok == 1 ]] && echo "all passed" || echo "SOME FAILED (see above)")"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/many-batches-summary.txt"

# (k) the EXIT trap stops the service and the fake upstream
[[ $ok == 1 ]]
