#!/usr/bin/env bash
# bench/embeddings.sh: the built-in model benchmark.
#
# The same LINES texts embedded twice with all-minilm-l6-v2:
#   direct:  by calling the model in one process (DirectEmbeddingBench, in src/test/java): embedAll
#            in groups of GROUP_SIZE on a pool of THREADS threads; no HTTP, no database, no JSON;
#   service: as a batch of LINES /v1/embeddings lines run by openbatch's built-in upstream `local`
#            (upload, create, poll until completed), timed from in_progress to completed.
# It prints both rates and service / direct. Goal: >= 0.8.
#
# Fair by construction: both sides warm up first (the direct one on 200 texts, the service on a
# 200-line batch that also loads the model); the baseline is the faster of the direct variants
# ("same": the model exactly as the service loads it; "stock": langchain4j's own model class); the
# poll loop costs the service almost nothing. It also prints CPU time per text on both sides and how
# many cores other processes kept busy meanwhile: on a shared machine the rates swing with other
# load, and only a run with both "other" figures near 0 gives a ratio worth comparing.
#
#   bash bench/embeddings.sh
#   LINES=2000 bash bench/embeddings.sh
#
# Knobs: LINES (10000), THREADS (0 = the service's default, one per core), GROUP_SIZE (64),
#        MAX_CONCURRENCY (empty = the service's default), DIRECT_VARIANTS ("same stock"; see
#        DirectEmbeddingBench), DIRECT_AFTER (1: run the direct measurement again after the service
#        and use the mean, which evens out a machine whose load changes), POLL_S (0.2),
#        BATCH_TIMEOUT_S (1800), XMX (512m), plus those in bench/lib.sh (BENCH_DB defaults to
#        openbatch_bench_emb here).
# Output: figures on stdout, a summary in bench/out/embeddings-summary.txt, logs in bench/out/.
# Exit status 0 only if every check passed (whatever the ratio).
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_bench_emb}"
XMX="${XMX:-512m}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need java

LINES="${LINES:-10000}"
THREADS="${THREADS:-0}"
GROUP_SIZE="${GROUP_SIZE:-64}"
MAX_CONCURRENCY="${MAX_CONCURRENCY:-}"
DIRECT_VARIANTS="${DIRECT_VARIANTS:-same stock}"
DIRECT_AFTER="${DIRECT_AFTER:-1}"
POLL_S="${POLL_S:-0.2}"
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-1800}"
MODEL="all-minilm-l6-v2"
ENDPOINT="/v1/embeddings"
GOAL=0.8
threads_eff="$THREADS"; ((threads_eff > 0)) || threads_eff="$(nproc)"

# (a) build if needed; the jar must carry the model (not a -Dslim build), and the baseline class
ensure_build
APP_DIR="$(dirname "$OPENBATCH_JAR")"
LIB_MAIN="$APP_DIR/lib/main"
ls "$LIB_MAIN"/*langchain4j-embeddings-all-minilm* >/dev/null 2>&1 \
  || die "$OPENBATCH_JAR has no built-in model (built with -Dslim?); rebuild with ./mvnw -B -q package -DskipTests"
TEST_CLASSES="$REPO_DIR/target/test-classes"
if [[ ! -f "$TEST_CLASSES/dev/openbatch/upstream/local/DirectEmbeddingBench.class" ]]; then
  log "compiling the direct baseline (./mvnw test-compile)"
  (cd "$REPO_DIR" && ./mvnw -q -B test-compile) || die "test-compile failed"
fi
# the same tmp directory for the baseline and the service (ONNX Runtime unpacks its library there)
JTMP="$OUT_DIR/tmp"; mkdir -p "$JTMP"

# (b) texts and the batch file: LINES deterministic short texts (8-40 words), one per line
TEXTS="$OUT_DIR/embeddings-texts-$LINES.txt"
INPUT="$OUT_DIR/embeddings-input-$LINES.jsonl"
log "generating $LINES texts in $TEXTS and the batch file $INPUT"
node - "$LINES" "$TEXTS" "$INPUT" "$MODEL" "$ENDPOINT" <<'EOF'
const [n, textsPath, inputPath, model, url] = process.argv.slice(2);
const fs = require("fs");
const words = ("the a of and to in is for on that with as by at from it this be are was an or we can " +
  "batch model server request vector search query document engine queue token cloud data index result " +
  "user file price order delivery invoice refund password account payment customer support ticket " +
  "weather rain train flight hotel museum library recipe flour oven bread river mountain city street " +
  "music film book chapter author science energy solar battery phone laptop screen network database " +
  "quickly slowly today tomorrow never always new old large small red green blue happy late early").split(" ");
let seed = 42;
const rnd = (k) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % k; };
const texts = [], lines = [];
for (let i = 1; i <= Number(n); i++) {
  const len = 8 + rnd(33);
  const w = [];
  for (let j = 0; j < len; j++) w.push(words[rnd(words.length)]);
  const t = `Note ${i}: ${w.join(" ")}.`;
  texts.push(t);
  lines.push(JSON.stringify({ custom_id: `emb-${i}`, method: "POST", url, body: { model, input: t } }));
}
fs.writeFileSync(textsPath, texts.join("\n") + "\n");
fs.writeFileSync(inputPath, lines.join("\n") + "\n");
EOF

# (c) direct baseline
DIRECT_LOG="$OUT_DIR/embeddings-direct.log"
: >"$DIRECT_LOG"
# direct_run TAG: runs every variant once; appends "TAG variant rate cpu_seconds others_cores" lines
# to $DIRECT_LOG
direct_run() {
  local tag="$1" line
  log "direct ($tag): $LINES texts, variants: $DIRECT_VARIANTS, $threads_eff threads, groups of $GROUP_SIZE"
  # shellcheck disable=SC2086  # DIRECT_VARIANTS is a word list
  while IFS= read -r line; do
    log "  $line"
    if [[ "$line" == direct\ * ]]; then
      read -r _ variant _ _ rate cpu others <<<"$line"
      echo "$tag $variant $rate $cpu $others" >>"$DIRECT_LOG"
    fi
  done < <(java "-Xmx$XMX" "-Djava.io.tmpdir=$JTMP" "-Dclk.tck=$(getconf CLK_TCK)" -cp "$APP_DIR/app/*:$LIB_MAIN/*:$TEST_CLASSES" \
    dev.openbatch.upstream.local.DirectEmbeddingBench "$TEXTS" "$threads_eff" "$GROUP_SIZE" $DIRECT_VARIANTS 2>&1 \
    | grep -v -e SLF4J -e LogManager -e JBossLoggerFinder)
}
direct_run before

# (d) the service, on a fresh database, with the built-in model on and no other upstream
recreate_db
extra=("-Djava.io.tmpdir=$JTMP" "-Dopenbatch.local.enabled=true"
  "-Dopenbatch.local.threads=$THREADS" "-Dopenbatch.local.group-size=$GROUP_SIZE")
[[ -z "$MAX_CONCURRENCY" ]] || extra+=("-Dopenbatch.local.max-concurrency=$MAX_CONCURRENCY")
if ((LINES > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$LINES"); fi
start_service embeddings "" 0 "${extra[@]}"
models="$(api_ok GET /v1/models)"
[[ "$models" == *"\"$MODEL\""* ]] || die "GET /v1/models does not list $MODEL: $models"

# run_batch FILE: uploads FILE, creates a batch, polls until it is terminal. Sets BATCH (the last
# JSON), T_CREATE, T_INPROG, T_FINAL, T_DONE.
# The poll loop is lean on purpose (one curl, bash only: no jq, awk or node per poll): on 2 cores a
# loop that forks three or four tools five times a second takes ~8% of the machine from the service.
run_batch() {
  local file_id id out code status completed failed=0 t t_us fails=0 last_us prev=0 prev_us create_us
  file_id="$(upload_file "$1")"
  T_CREATE="$(now)"; create_us="${T_CREATE/./}"
  BATCH="$(create_batch "$file_id" "$ENDPOINT")"
  id="$(jfield "$BATCH" .id)"
  [[ "$id" == batch* ]] || die "create answered no batch id: $BATCH"
  T_INPROG=""; T_FINAL=""; T_DONE=""; last_us="$create_us"; prev_us="$create_us"
  while :; do
    out="$(curl -sS -w '\n%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/batches/$id")" || out=$'\n000'
    code="${out##*$'\n'}"; BATCH="${out%$'\n'*}"
    t="$EPOCHREALTIME"; t_us="${t/./}"
    if [[ "$code" != 2* ]]; then
      fails=$((fails + 1)); ((fails < 25)) || die "GET /v1/batches/$id keeps failing: HTTP $code"
      sleep "$POLL_S"; continue
    fi
    fails=0
    [[ "$BATCH" =~ \"status\"[[:space:]]*:[[:space:]]*\"([a-z_]+)\" ]] && status="${BASH_REMATCH[1]}" || status="?"
    [[ "$BATCH" =~ \"completed\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && completed="${BASH_REMATCH[1]}" || completed=0
    [[ "$BATCH" =~ \"failed\"[[:space:]]*:[[:space:]]*([0-9]+) ]] && failed="${BASH_REMATCH[1]}" || failed=0
    case "$status" in
      validating) ;;
      in_progress) [[ -n "$T_INPROG" ]] || T_INPROG="$t" ;;
      finalizing) [[ -n "$T_INPROG" ]] || T_INPROG="$t"; [[ -n "$T_FINAL" ]] || T_FINAL="$t" ;;
      completed) [[ -n "$T_INPROG" ]] || T_INPROG="$t"; [[ -n "$T_FINAL" ]] || T_FINAL="$t"; T_DONE="$t"; break ;;
      failed|expired|cancelled|cancelling) die "batch $id ended $status: $(jfield "$BATCH" .errors)" ;;
      *) die "unexpected status '$status': $BATCH" ;;
    esac
    if ((t_us - last_us >= 3000000)); then
      log "progress: $status completed=$completed failed=$failed ($(( (completed + failed - prev) * 1000000 / (t_us - prev_us) )) lines/s now)"
      last_us="$t_us"; prev=$((completed + failed)); prev_us="$t_us"
    fi
    ((t_us - create_us <= BATCH_TIMEOUT_S * 1000000)) || die "batch $id not completed after ${BATCH_TIMEOUT_S}s (status $status, completed=$completed)"
    sleep "$POLL_S"
  done
}

# (e) warm-up: a batch of the first 200 lines loads the model (lazily, on first use) and warms the
# JIT before the timed batch, as the direct baseline embeds 200 texts before its timing
WARM="$OUT_DIR/embeddings-warmup.jsonl"
head -n 200 "$INPUT" >"$WARM"
t_warm="$(now)"
run_batch "$WARM"
log "warm-up batch of $(wc -l <"$WARM") lines done in $(elapsed "$t_warm")s (model load included)"

# cpu_s PID...: user+system CPU seconds the processes have used so far (0 for one that is gone)
cpu_s() {
  local p; for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done \
    | awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f", t / hz }'
}
# busy_s: seconds all CPUs together spent busy since boot (user, nice, system, irq, softirq, steal)
busy_s() { awk -v hz="$(getconf CLK_TCK)" 'NR == 1 { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
# pg_backends: PIDs of the PostgreSQL backends serving the bench database
pg_backends() { ps -eo pid=,args= | awk -v db=" $BENCH_DB " 'index($0, "postgres: ") && index($0, db) { print $1 }'; }

# (f) the timed batch
log "timed batch: $LINES lines"
svc_cpu0="$(cpu_s "$SVC_PID")"
declare -A pg0=()
for p in $(pg_backends); do pg0[$p]="$(cpu_s "$p")"; done
busy0="$(busy_s)"
run_batch "$INPUT"
busy1="$(busy_s)"
svc_cpu="$(calc "$(cpu_s "$SVC_PID") - $svc_cpu0")"
# per backend alive at the end: what it used since the start (all of it if it is new); approximate,
# as a backend that came and went during the batch is missed
pg_cpu=0
for p in $(pg_backends); do pg_cpu="$(calc "$pg_cpu + $(cpu_s "$p") - ${pg0[$p]:-0}")"; done
# what other processes (this script's poll loop included) kept busy meanwhile, in cores
svc_others="$(calc "($busy1 - $busy0 - $svc_cpu - $pg_cpu) / $(elapsed "$T_CREATE" "$T_DONE")")"
log "completed: $(jfields "$BATCH" .request_counts)"

ok=1
expect() {
  local d="$1"; shift
  if "$@" 2>/dev/null; then log "check ok:     $d"; else log "check FAILED: $d"; ok=0; fi
}
IFS=$'\t' read -r out_id err_id completed failed total < <(jfields "$BATCH" .output_file_id .error_file_id .request_counts.completed .request_counts.failed .request_counts.total)
expect "request_counts completed=$LINES failed=0 total=$LINES (are $completed/$failed/$total)" [ "$completed/$failed/$total" = "$LINES/0/$LINES" ]
expect "error_file_id is null (is $err_id)" [ "$err_id" = null ]
OUTPUT="$OUT_DIR/embeddings-output.jsonl"
rm -f "$OUTPUT"
if [[ "$out_id" == null ]]; then
  expect "output_file_id is set" false
else
  code="$(curl -sS -o "$OUTPUT" -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/files/$out_id/content")" || code=000
  expect "GET /v1/files/$out_id/content answers 200 (is $code)" [ "$code" = 200 ]
  # lines, distinct custom_ids, lines with status 200 and one 384-float embedding, prompt tokens
  read -r out_lines distinct good tokens < <(node -e '
    const rl = require("readline").createInterface({ input: require("fs").createReadStream(process.argv[1]) });
    const seen = new Set(); let lines = 0, good = 0, tokens = 0;
    rl.on("line", (l) => {
      if (!l) return; lines++;
      try {
        const o = JSON.parse(l); seen.add(o.custom_id);
        const b = o.response && o.response.body;
        if (o.response.status_code === 200 && o.error === null && b.object === "list" && b.data.length === 1
            && b.data[0].embedding.length === 384 && b.model === "all-minilm-l6-v2") good++;
        tokens += (b && b.usage && b.usage.prompt_tokens) || 0;
      } catch {}
    });
    rl.on("close", () => console.log(lines, seen.size, good, tokens));' "$OUTPUT" 2>/dev/null || echo "0 0 0 0")
  expect "output has $LINES lines, $LINES distinct custom_ids (has $out_lines, $distinct)" [ "$out_lines/$distinct" = "$LINES/$LINES" ]
  expect "every output line is a 200 with one 384-float embedding ($good)" [ "$good" = "$LINES" ]
  expect "prompt tokens counted (sum $tokens)" [ "$tokens" -gt 0 ]
fi

# (g) stop the service, measure direct again (a shared machine's load drifts; the mean evens it out)
stop_pid "$SVC_PID" "service"; SVC_PID=""
if [[ "$DIRECT_AFTER" == 1 ]]; then direct_run after; fi

# (h) figures
run_s="$(elapsed "$T_INPROG" "$T_DONE")"
svc_rate="$(calc "$LINES / $run_s")"
# per variant: mean over its runs; the baseline is the best variant
# (and CPU ms per text, which a busy machine disturbs much less than the rates)
read -r best_variant direct_rate direct_cpu_ms direct_others direct_detail < <(awk -v n="$LINES" '
  { s[$2] += $3; k[$2]++; c[$2] += $4; o[$2] += $5
    all[$2] = all[$2] (all[$2] ? "/" : "") sprintf("%.1f", $3); oth[$2] = oth[$2] (oth[$2] ? "/" : "") $5 }
  END { best = ""; for (v in s) { m = s[v] / k[v];
          d = d v " " sprintf("%.1f", m) " (" all[v] "; " sprintf("%.2f", 1000 * c[v] / k[v] / n) " ms CPU/text; others busy " oth[v] " cores) ";
          if (best == "" || m > bm) { best = v; bm = m; bc = 1000 * c[v] / k[v] / n; bo = o[v] / k[v] } }
        printf "%s %.3f %.3f %.2f %s\n", best, bm, bc, bo, d }' "$DIRECT_LOG")
[[ -n "${direct_rate:-}" ]] || die "the direct baseline printed nothing; see $DIRECT_LOG"
ratio="$(calc "$svc_rate / $direct_rate")"
svc_cpu_ms="$(calc "1000 * ($svc_cpu + $pg_cpu) / $LINES")"
cpu_ratio="$(calc "$direct_cpu_ms / $svc_cpu_ms")"
row() { printf '  %-34s %s\n' "$1" "$2"; }
summary="$(
  echo "openbatch built-in embeddings benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX, commit $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  row "texts" "$LINES (8-40 words each; prompt tokens in total: ${tokens:-?})"
  row "threads / group size" "$threads_eff / $GROUP_SIZE (service max-concurrency: ${MAX_CONCURRENCY:-default})"
  row "direct, per variant (texts/s)" "$direct_detail"
  row "direct runs" "$(awk '{print $1}' "$DIRECT_LOG" | sort -u | paste -sd' ') (rate: the mean)"
  row "direct baseline (best variant)" "$direct_rate texts/s ($best_variant)"
  row "service in_progress -> completed" "${run_s} s  (validating $(elapsed "$T_CREATE" "$T_INPROG") s, finalizing -> completed $(elapsed "$T_FINAL" "$T_DONE") s)"
  row "service throughput" "$svc_rate lines/s"
  row "service CPU per line" "$(calc "1000 * $svc_cpu / $LINES") ms in the JVM + about $(calc "1000 * $pg_cpu / $LINES") ms in PostgreSQL backends"
  row "ratio service / direct" "$ratio  (goal >= $GOAL: $(awk -v r="$ratio" -v g="$GOAL" 'BEGIN{print (r>=g) ? "met" : "NOT met"}'))"
  row "CPU taken by other processes" "direct ${direct_others} cores (mean), service ${svc_others} cores: a fair ratio needs both near 0"
  row "ratio by CPU time per text" "$cpu_ratio  (direct ${direct_cpu_ms} ms / service ${svc_cpu_ms} ms; on an otherwise idle machine both use every core, and the ratio above comes close to this)"
  row "load average at the end" "$(cut -d' ' -f1-3 /proc/loadavg)"
  row "checks" "$([[ $ok == 1 ]] && echo "all passed" || echo "SOME FAILED (see above)")"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/embeddings-summary.txt"
[[ $ok == 1 ]]
