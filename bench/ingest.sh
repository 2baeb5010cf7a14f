#!/usr/bin/env bash
# bench/ingest.sh: the ingest benchmark.
#
# How long openbatch takes to take in a maximum-size batch file (50,000 lines, ~200 MB) and
# start it (upload + validation, until the batch is `in_progress`), against the floor of just
# loading the same lines into PostgreSQL with `psql \copy`. Goal: openbatch <= 2.0 x copy.
#
#   bash bench/ingest.sh
#   INGEST_LINES=10000 LINE_BYTES=2000 bash bench/ingest.sh
#
# Knobs: INGEST_LINES (50000), LINE_BYTES (4190, bytes per line including the newline; the
#        default file is 209,500,000 bytes, just under the 200 MiB = 209,715,200 default limit),
#        GOAL_RATIO (2.0), POLL_S (0.1), VALIDATE_TIMEOUT_S (900), CANCEL_WAIT_S (30),
#        UPSTREAM_LATENCY_MS (60000: no line finishes while we measure), XMX (256m),
#        plus those in bench/lib.sh.
# Output: figures on stdout, a summary in bench/out/ingest-summary.txt, logs in bench/out/.
# Exit status 0 when the measurement ran (whatever the ratio), 1 on any error.
set -eu -o pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INGEST_LINES="${INGEST_LINES:-50000}"
LINE_BYTES="${LINE_BYTES:-4190}"
GOAL_RATIO="${GOAL_RATIO:-2.0}"
POLL_S="${POLL_S:-0.1}"
VALIDATE_TIMEOUT_S="${VALIDATE_TIMEOUT_S:-900}"
CANCEL_WAIT_S="${CANCEL_WAIT_S:-30}"
UPSTREAM_LATENCY_MS="${UPSTREAM_LATENCY_MS:-60000}"
MODEL="bench-model"
ENDPOINT="/v1/chat/completions"
TOTAL_BYTES=$((INGEST_LINES * LINE_BYTES))

ensure_build

# ---------- the input file (cached across runs) ----------
INPUT="$OUT_DIR/ingest-${INGEST_LINES}x${LINE_BYTES}.jsonl"
if [[ ! -f "$INPUT" ]] || [[ "$(wc -c <"$INPUT")" -ne "$TOTAL_BYTES" ]]; then
  log "generating $INPUT ($INGEST_LINES lines x $LINE_BYTES bytes = $TOTAL_BYTES bytes)"
  t_gen="$(now)"
  node - "$INPUT" "$INGEST_LINES" "$LINE_BYTES" "$MODEL" "$ENDPOINT" <<'EOF'
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
fi
[[ "$(wc -c <"$INPUT")" -eq "$TOTAL_BYTES" ]] || die "$INPUT does not have $TOTAL_BYTES bytes"

# ---------- (a) the floor: psql \copy of the same lines into a one-column table ----------
recreate_db
# A schema of its own, dropped again before the service starts: the service's migrations
# expect to find the public schema empty.
psql_db -d "$BENCH_DB" -c "create schema bench_ingest; create table bench_ingest.ingest_lines(line text)" >/dev/null
# CSV with a quote and a delimiter that never occur in the file, so that every line lands as
# one intact value (text format would interpret backslashes, CSV's default would split on commas).
log "psql \\copy of $INPUT"
t_copy="$(now)"
psql_db -d "$BENCH_DB" -c "\\copy bench_ingest.ingest_lines(line) from '$INPUT' with (format csv, quote e'\\x01', delimiter e'\\x02')" >/dev/null
copy_s="$(elapsed "$t_copy")"
IFS='|' read -r copied intact < <(psql_db -d "$BENCH_DB" -c \
  "select count(*), count(*) filter (where octet_length(line) = $((LINE_BYTES - 1))) from bench_ingest.ingest_lines")
[[ "$copied" == "$INGEST_LINES" && "$intact" == "$INGEST_LINES" ]] \
  || die "\\copy loaded $copied rows, $intact of them intact; expected $INGEST_LINES"
log "psql \\copy: $copied lines in ${copy_s}s"
psql_db -d "$BENCH_DB" -c "drop schema bench_ingest cascade" >/dev/null

# ---------- (b) the service, with an upstream that never answers during the measurement ----------
start_fake ingest --latency-ms "$UPSTREAM_LATENCY_MS"
extra=()
if ((INGEST_LINES > 50000)); then extra+=("-Dopenbatch.limits.max-batch-lines=$INGEST_LINES"); fi
if ((TOTAL_BYTES > 209715200)); then extra+=("-Dopenbatch.limits.max-batch-file-bytes=$TOTAL_BYTES"); fi
if ((TOTAL_BYTES > 536870912)); then extra+=("-Dopenbatch.limits.max-upload-bytes=$TOTAL_BYTES"); fi
start_service ingest '*' 1 ${extra[@]+"${extra[@]}"}

# ---------- (c) upload, create, validate ----------
log "uploading $TOTAL_BYTES bytes"
t_up="$(now)"
FILE_ID="$(upload_file "$INPUT")"
t_uploaded="$(now)"
upload_s="$(elapsed "$t_up" "$t_uploaded")"
log "uploaded as $FILE_ID in ${upload_s}s"

batch="$(create_batch "$FILE_ID" "$ENDPOINT")"
t_created="$(now)"
BATCH_ID="$(jfield "$batch" .id)"
[[ "$BATCH_ID" == batch* ]] || die "create answered no batch id: $batch"
create_s="$(elapsed "$t_uploaded" "$t_created")"
log "created $BATCH_ID in ${create_s}s; waiting for in_progress"

fails=0
while :; do
  api GET "/v1/batches/$BATCH_ID"
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
    ((fails < 25)) || die "GET /v1/batches/$BATCH_ID keeps failing: HTTP $API_STATUS ${API_BODY:0:500}"
  fi
  if awk -v e="$(elapsed "$t_created" "$t")" -v m="$VALIDATE_TIMEOUT_S" 'BEGIN{exit !(e>m)}'; then
    die "still validating after ${VALIDATE_TIMEOUT_S}s"
  fi
  sleep "$POLL_S"
done
t_inprog="$t"
validate_s="$(elapsed "$t_uploaded" "$t_inprog")"
openbatch_s="$(elapsed "$t_up" "$t_inprog")"
IFS=$'\t' read -r total model < <(jfields "$API_BODY" .request_counts.total .model)
log "$status after ${validate_s}s of create + validation (request_counts.total=$total, model=$model)"
[[ "$total" == "$INGEST_LINES" ]] || log "WARNING: request_counts.total is $total, expected $INGEST_LINES"

# ---------- (d) figures ----------
ratio="$(calc "$openbatch_s / $copy_s")"
verdict="$(awk -v r="$ratio" -v g="$GOAL_RATIO" 'BEGIN{print (r <= g) ? "goal met" : "GOAL MISSED"}')"
row() { printf '  %-32s %s\n' "$1" "$2"; }
summary="$(
  echo "openbatch ingest benchmark  ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, -Xmx$XMX)"
  row "file" "$INGEST_LINES lines, $TOTAL_BYTES bytes ($(calc "$TOTAL_BYTES / 1048576") MiB)"
  row "psql \\copy" "${copy_s} s"
  row "openbatch upload" "${upload_s} s  (POST /v1/files)"
  row "openbatch create + validation" "${validate_s} s  (POST /v1/batches -> in_progress; the create call ${create_s} s)"
  row "openbatch total" "${openbatch_s} s  (upload start -> in_progress)"
  row "ratio (openbatch / copy)" "${ratio}  (goal <= $GOAL_RATIO: $verdict)"
)"
printf '%s\n' "$summary" | tee "$OUT_DIR/ingest-summary.txt"

# ---------- cancel and stop ----------
api POST "/v1/batches/$BATCH_ID/cancel"
if [[ "$API_STATUS" == 2* ]]; then
  log "cancel answered $(jfield "$API_BODY" .status); waiting up to ${CANCEL_WAIT_S}s for cancelled"
  t_cancel="$(now)"
  while :; do
    api GET "/v1/batches/$BATCH_ID"
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
# the EXIT trap stops the service and the fake upstream
