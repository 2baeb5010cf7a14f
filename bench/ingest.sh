#!/usr/bin/env bash
# bench/ingest.sh: the ingest benchmark.
#
# How long openbatch takes to take in a 200 MB batch file (OpenAI's largest) and start it (upload +
# validation, until the batch is `in_progress`), against the floor of just loading the same lines
# into PostgreSQL with `psql \copy`, and the CPU each side spends per MiB. Goal: openbatch <= 2.0 x
# copy. Two cases by default, each with a cold JVM: 50,000 lines of 4 KB and 2,000 lines of 100 KB.
#
#   bash bench/ingest.sh
#   CASES=2000x104857 bash bench/ingest.sh
#   INGEST_LINES=10000 LINE_BYTES=2000 bash bench/ingest.sh
#
# Knobs: CASES ("50000x4190 2000x104857": LINESxBYTES, bytes per line including the newline; both
#        files are just under 200 MiB = 209,715,200 bytes, the default limit until issue 22), or INGEST_LINES and
#        LINE_BYTES for one case; GOAL_RATIO (2.0), POLL_S (0.1), VALIDATE_TIMEOUT_S (900),
#        CANCEL_WAIT_S (30), UPSTREAM_LATENCY_MS (60000: no line finishes while we measure),
#        VERIFY_CONTENT (1: after the measurement, download the file and compare it with the
#        input), XMX (256m), plus those in bench/lib.sh (BENCH_DB: openbatch_bench).
# Output: figures on stdout, a summary in bench/out/ingest-summary.txt, logs in bench/out/.
# Exit status 0 when the measurement ran (whatever the ratio), 1 on any error.
set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -n "${INGEST_LINES:-}${LINE_BYTES:-}" ]]; then
  CASES="${INGEST_LINES:-50000}x${LINE_BYTES:-4190}"
fi
CASES="${CASES:-50000x4190 2000x104857}"
GOAL_RATIO="${GOAL_RATIO:-2.0}"
POLL_S="${POLL_S:-0.1}"
VALIDATE_TIMEOUT_S="${VALIDATE_TIMEOUT_S:-900}"
CANCEL_WAIT_S="${CANCEL_WAIT_S:-30}"
UPSTREAM_LATENCY_MS="${UPSTREAM_LATENCY_MS:-60000}"
VERIFY_CONTENT="${VERIFY_CONTENT:-1}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"
HZ="$(getconf CLK_TCK)"
# PostgreSQL's CPU is counted for the bench database only (and the server's shared writers)
PG_CPU_DB="$BENCH_DB"

ensure_build

# per_mib TICKS BYTES: milliseconds of CPU per MiB
per_mib() { awk -v t="$1" -v b="$2" -v hz="$HZ" 'BEGIN { printf "%.1f", t * 1000 / hz / (b / 1048576) }'; }
# ticks DELTA of two cpu_snapshot outputs: "SVC PG"
ticks_between() {
  local s0 p0 s1 p1
  read -r s0 p0 <<<"$1"
  read -r s1 p1 <<<"$2"
  printf '%s %s\n' "$((s1 - s0))" "$((p1 - p0))"
}
aux_ticks() {
  local p t=0
  for p in $(pg_pids_of "-none-"); do t=$((t + $(ticks_of "$p"))); done
  printf '%s\n' "$t"
}

# generate LINES BYTES PATH: the input file (cached across runs)
generate() {
  local n="$1" bytes="$2" path="$3" total=$(($1 * $2)) t_gen
  if [[ -f "$path" ]] && [[ "$(wc -c <"$path")" -eq "$total" ]]; then return 0; fi
  log "generating $path ($n lines x $bytes bytes = $total bytes)"
  t_gen="$(now)"
  node - "$path" "$n" "$bytes" "$MODEL" "$ENDPOINT" <<'EOF'
const fs = require('fs');
const [path, nStr, bytesStr, model, url] = process.argv.slice(2);
const n = Number(nStr), lineBytes = Number(bytesStr);
// 1 MiB of pseudo-random lowercase words (deterministic), sliced at a different offset per line.
let seed = 42;
const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const words = [];
for (let i = 0; i < 2000; i++) {
  let w = ''; const len = 2 + Math.floor(rnd() * 9);
  for (let j = 0; j < len; j++) w += String.fromCharCode(97 + Math.floor(rnd() * 26));
  words.push(w);
}
let text = '';
while (text.length < (1 << 20)) text += words[Math.floor(rnd() * words.length)] + ' ';
const fd = fs.openSync(path + '.tmp', 'w');
let buf = [];
for (let i = 1; i <= n; i++) {
  const head = `{"custom_id":"req-${i}","method":"POST","url":"${url}","body":{"model":"${model}","messages":[{"role":"user","content":"`;
  const tail = `"}],"max_tokens":16}}\n`;
  const room = lineBytes - head.length - tail.length;
  if (room < 1) { console.error(`LINE_BYTES=${lineBytes} is too small`); process.exit(1); }
  const off = (i * 7919) % (text.length - room);
  buf.push(head, text.slice(off, off + room), tail);
  if (buf.length >= 3000) { fs.writeSync(fd, buf.join('')); buf = []; }
}
if (buf.length) fs.writeSync(fd, buf.join(''));
fs.closeSync(fd);
fs.renameSync(path + '.tmp', path);
EOF
  log "generated in $(elapsed "$t_gen")s"
  [[ "$(wc -c <"$path")" -eq "$total" ]] || die "$path does not have $total bytes"
}

start_fake ingest --latency-ms "$UPSTREAM_LATENCY_MS"

row() { printf '  %-32s %s\n' "$1" "$2"; }
if [[ "$OPENBATCH_JAR" == "$DEFAULT_JAR" ]]; then
  BUILD="commit $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
else
  BUILD="jar $OPENBATCH_JAR"
fi
SUMMARY_ALL="openbatch ingest benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX, $BUILD, load $(cut -d' ' -f1-3 /proc/loadavg))"

# run_case LINES BYTES: one measurement, with a fresh database and a cold service.
run_case() {
  local lines="$1" line_bytes="$2" total=$(($1 * $2))
  local input="$OUT_DIR/ingest-${lines}x${line_bytes}.jsonl"
  generate "$lines" "$line_bytes" "$input"

  # ---------- (a) the floor: psql \copy of the same lines into a one-column table ----------
  recreate_db
  # A schema of its own, dropped again before the service starts: the service's migrations
  # expect to find the public schema empty.
  psql_db -d "$BENCH_DB" -c "create schema bench_ingest; create table bench_ingest.ingest_lines(line text)" >/dev/null
  # CSV with a quote and a delimiter that never occur in the file, so that every line lands as
  # one intact value (text format would interpret backslashes, CSV's default would split on
  # commas). The backend's and psql's CPU are read from /proc by psql itself, before and after.
  local stat0="$OUT_DIR/.copy-stat0" stat1="$OUT_DIR/.copy-stat1" script="$OUT_DIR/.copy.sql" aux0 aux1 t_copy copy_s
  cat >"$script" <<EOF
select pg_backend_pid() as bpid \\gset
\\setenv BPID :bpid
\\! cat /proc/\$BPID/stat /proc/\$PPID/stat > '$stat0'
\\copy bench_ingest.ingest_lines(line) from '$input' with (format csv, quote e'\\x01', delimiter e'\\x02')
\\! cat /proc/\$BPID/stat /proc/\$PPID/stat > '$stat1'
EOF
  log "psql \\copy of $input"
  aux0="$(aux_ticks)"
  t_copy="$(now)"
  psql_db -d "$BENCH_DB" -f "$script" >/dev/null
  copy_s="$(elapsed "$t_copy")"
  aux1="$(aux_ticks)"
  local copy_pg copy_psql
  read -r copy_pg copy_psql < <(paste <(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$stat0") \
                                     <(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$stat1") \
    | awk '{ d[NR] = $2 - $1 } END { print d[1], d[2] }')
  copy_pg=$((copy_pg + aux1 - aux0))
  local copied intact
  IFS='|' read -r copied intact < <(psql_db -d "$BENCH_DB" -c \
    "select count(*), count(*) filter (where octet_length(line) = $((line_bytes - 1))) from bench_ingest.ingest_lines")
  [[ "$copied" == "$lines" && "$intact" == "$lines" ]] \
    || die "\\copy loaded $copied rows, $intact of them intact; expected $lines"
  log "psql \\copy: $copied lines in ${copy_s}s"
  psql_db -d "$BENCH_DB" -c "drop schema bench_ingest cascade" >/dev/null

  # ---------- (b) the service, cold, with an upstream that never answers during the measurement ----------
  local -a extra=()
  if ((lines > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$lines"); fi
  if ((total > 209715200)); then extra+=("-Dopenbatch.limits.max-batch-file-bytes=$total"); fi
  if ((total > 536870912)); then extra+=("-Dopenbatch.limits.max-upload-bytes=$total"); fi
  start_service "ingest-${lines}x${line_bytes}" '*' 1 ${extra[@]+"${extra[@]}"}

  # ---------- (c) upload, create, validate ----------
  local c0 c1 c2 t_up t_uploaded upload_s file_id batch t_created batch_id create_s fails t status
  log "uploading $total bytes"
  c0="$(cpu_snapshot "$SVC_PID")"
  t_up="$(now)"
  file_id="$(upload_file "$input")"
  t_uploaded="$(now)"
  c1="$(cpu_snapshot "$SVC_PID")"
  upload_s="$(elapsed "$t_up" "$t_uploaded")"
  log "uploaded as $file_id in ${upload_s}s"

  batch="$(create_batch "$file_id" "$ENDPOINT")"
  t_created="$(now)"
  batch_id="$(jfield "$batch" .id)"
  [[ "$batch_id" == batch* ]] || die "create answered no batch id: $batch"
  create_s="$(elapsed "$t_uploaded" "$t_created")"
  log "created $batch_id in ${create_s}s; waiting for in_progress"

  fails=0
  while :; do
    api GET "/v1/batches/$batch_id"
    t="$(now)"
    if [[ "$API_STATUS" == 2* ]]; then
      fails=0
      status="$(jfield "$API_BODY" .status)"
      case "$status" in
        validating) ;;
        in_progress|finalizing|completed) break ;;
        *) die "batch went to $status instead of in_progress: $(jfield "$API_BODY" .errors)" ;;
      esac
    else
      fails=$((fails + 1))
      ((fails < 25)) || die "GET /v1/batches/$batch_id keeps failing: HTTP $API_STATUS ${API_BODY:0:500}"
    fi
    if awk -v e="$(elapsed "$t_created" "$t")" -v m="$VALIDATE_TIMEOUT_S" 'BEGIN{exit !(e>m)}'; then
      die "still validating after ${VALIDATE_TIMEOUT_S}s"
    fi
    sleep "$POLL_S"
  done
  c2="$(cpu_snapshot "$SVC_PID")"
  local validate_s openbatch_s count model
  validate_s="$(elapsed "$t_uploaded" "$t")"
  openbatch_s="$(elapsed "$t_up" "$t")"
  IFS=$'\t' read -r count model < <(jfields "$API_BODY" .request_counts.total .model)
  log "$status after ${validate_s}s of create + validation (request_counts.total=$count, model=$model)"
  [[ "$count" == "$lines" ]] || log "WARNING: request_counts.total is $count, expected $lines"

  # ---------- (d) figures ----------
  local up_svc up_pg val_svc val_pg all_svc all_pg ratio verdict summary
  read -r up_svc up_pg < <(ticks_between "$c0" "$c1")
  read -r val_svc val_pg < <(ticks_between "$c1" "$c2")
  read -r all_svc all_pg < <(ticks_between "$c0" "$c2")
  ratio="$(calc "$openbatch_s / $copy_s")"
  verdict="$(awk -v r="$ratio" -v g="$GOAL_RATIO" 'BEGIN{print (r <= g) ? "goal met" : "GOAL MISSED"}')"
  summary="$(
    row "file" "$lines lines x $line_bytes bytes = $total bytes ($(calc "$total / 1048576") MiB)"
    row "psql \\copy" "${copy_s} s   CPU per MiB: psql $(per_mib "$copy_psql" "$total") ms, PostgreSQL $(per_mib "$copy_pg" "$total") ms"
    row "openbatch upload" "${upload_s} s   CPU per MiB: openbatch $(per_mib "$up_svc" "$total") ms, PostgreSQL $(per_mib "$up_pg" "$total") ms  (POST /v1/files)"
    row "openbatch create + validation" "${validate_s} s   CPU per MiB: openbatch $(per_mib "$val_svc" "$total") ms, PostgreSQL $(per_mib "$val_pg" "$total") ms  (POST /v1/batches -> in_progress; the create call ${create_s} s)"
    row "openbatch total" "${openbatch_s} s   CPU per MiB: openbatch $(per_mib "$all_svc" "$total") ms, PostgreSQL $(per_mib "$all_pg" "$total") ms  (upload start -> in_progress)"
    row "ratio (openbatch / copy)" "${ratio}  (goal <= $GOAL_RATIO: $verdict)"
  )"
  printf '%s\n' "$summary"
  SUMMARY_ALL+=$'\n'"$summary"

  # ---------- cancel, check the stored bytes, stop ----------
  api POST "/v1/batches/$batch_id/cancel"
  if [[ "$API_STATUS" == 2* ]]; then
    log "cancel answered $(jfield "$API_BODY" .status); waiting up to ${CANCEL_WAIT_S}s for cancelled"
    local t_cancel
    t_cancel="$(now)"
    while :; do
      api GET "/v1/batches/$batch_id"
      status="$(jfield "$API_BODY" .status 2>/dev/null || echo '?')"
      if [[ "$status" == cancelled ]]; then log "cancelled after $(elapsed "$t_cancel")s"; break; fi
      if awk -v e="$(elapsed "$t_cancel")" -v m="$CANCEL_WAIT_S" 'BEGIN{exit !(e>m)}'; then
        log "WARNING: still $status after ${CANCEL_WAIT_S}s; stopping anyway"; break
      fi
      sleep 0.5
    done
  else
    log "WARNING: cancel answered HTTP $API_STATUS: ${API_BODY:0:500}"
  fi
  if [[ "$VERIFY_CONTENT" == 1 ]]; then
    local got="$OUT_DIR/.ingest-content" code
    code="$(curl -sS -o "$got" -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/files/$file_id/content")" || code=000
    if [[ "$code" == 200 ]] && cmp -s "$got" "$input"; then
      log "GET /v1/files/$file_id/content returned the uploaded bytes exactly"
    else
      rm -f "$got"
      die "GET /v1/files/$file_id/content (HTTP $code) differs from the uploaded file"
    fi
    rm -f "$got"
  fi
  stop_pid "$SVC_PID" "service"
  SVC_PID=""
}

for c in $CASES; do
  [[ "$c" =~ ^([0-9]+)x([0-9]+)$ ]] || die "CASES: '$c' is not LINESxBYTES"
  run_case "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
done
printf '%s\n' "$SUMMARY_ALL" | tee "$OUT_DIR/ingest-summary.txt"
rm -f "$OUT_DIR"/.copy-stat0 "$OUT_DIR"/.copy-stat1 "$OUT_DIR"/.copy.sql
# the EXIT trap stops the fake upstream
