#!/usr/bin/env bash
# bench/edges.sh: the size cases of issue 9, against one service at -Xmx256m, each PASS/FAIL.
#
#   1. big answers: BIG_LINES (3,000) lines whose upstream answers are ANSWER_BYTES (100 KB) each,
#      ~300 MB of output: the batch completes, every custom_id exactly once in the output file,
#      the stored chunks are about 1 MiB (none over 2 MiB), the download streams whole.
#   2. one giant line: a file of one GIANT_BYTES (150 MB) line, over the default
#      openbatch.limits.max-line-bytes (16 MiB): the batch fails within GIANT_WAIT_S (60 s),
#      its error naming line 1.
#   3. a long line under the limit: LONG_BYTES (15 MiB) of message between two short lines:
#      validates and runs, all three lines in the output.
#   4. a chunked JSON body of CHUNKED_BYTES (300 MB) to POST /v1/batches: 413 with the error
#      envelope, and the client could not push much past the 1 MiB limit (< 64 MiB).
#   5. a chunked multipart upload of UPLOAD_BYTES (700 MB) to POST /v1/files, over a
#      max-upload-bytes of 512 MiB (set here; the default is 2 GiB): 413 with the envelope, the
#      service's uploads directory never above the limit (sampled every 0.2 s), and the client stopped before the end of its body.
# Throughout: the heap (jvm_memory_used_bytes, area heap, sampled every second) stays under
# -Xmx, no OutOfMemoryError in the log, the service alive at the end.
#
#   bash bench/edges.sh
#   BIG_LINES=300 GIANT_BYTES=30000000 bash bench/edges.sh     # a quicker try
#
# Knobs: BIG_LINES, ANSWER_BYTES, GIANT_BYTES, GIANT_WAIT_S (60), LONG_BYTES, CHUNKED_BYTES,
#        UPLOAD_BYTES, BATCH_TIMEOUT_S (900), XMX (256m), plus those in bench/lib.sh (BENCH_DB
#        defaults to openbatch_edges here). Needs ~2 GB free in bench/out/ for the generated files.
# Output: PASS/FAIL lines and figures on stdout, bench/out/edges-summary.txt. Exit status 0 only
# if every case passed.
set -eu -o pipefail
BENCH_DB="${BENCH_DB:-openbatch_edges}"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIG_LINES="${BIG_LINES:-3000}"
ANSWER_BYTES="${ANSWER_BYTES:-100000}"
GIANT_BYTES="${GIANT_BYTES:-150000000}"
GIANT_WAIT_S="${GIANT_WAIT_S:-60}"
LONG_BYTES="${LONG_BYTES:-15728640}"
CHUNKED_BYTES="${CHUNKED_BYTES:-300000000}"
UPLOAD_BYTES="${UPLOAD_BYTES:-700000000}"
UPLOAD_LIMIT=536870912   # openbatch.limits.max-upload-bytes, set below (the default is 2 GiB)
BATCH_TIMEOUT_S="${BATCH_TIMEOUT_S:-900}"
TMP_DIR="$OUT_DIR/edges-tmp"
UPLOADS="$TMP_DIR/openbatch-uploads"

# heap_now: the service's heap in use (bytes), "?" when its metrics do not answer
heap_now() {
  metrics_text | awk '/^jvm_memory_used_bytes\{/ && /area="heap"/ { t += $NF; f = 1 } END { if (f) printf "%.0f\n", t; else print "?" }'
}
HEAP_LOG="$OUT_DIR/edges-heap.txt"
SAMPLER_PID=""
stop_sampler() { [[ -z "$SAMPLER_PID" ]] || kill "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; }
CLEANUP_HOOKS+=(stop_sampler)
heap_max_mib() { awk '$1 ~ /^[0-9]+$/ && $1 > m { m = $1 } END { printf "%d\n", m / 1048576 }' "$HEAP_LOG"; }
envelope() { [[ "$1" =~ ^\{\"error\":\{.*\"message\": ]]; }

rm -rf "$TMP_DIR"; mkdir -p "$TMP_DIR"
recreate_db
start_fake edges --latency-ms 20 --answer-bytes "$ANSWER_BYTES" --quiet
start_service edges '*' 64 "-Djava.io.tmpdir=$TMP_DIR" "-Dopenbatch.limits.max-upload-bytes=$UPLOAD_LIMIT"
: >"$HEAP_LOG"
(while :; do heap_now >>"$HEAP_LOG"; sleep 1; done) &
SAMPLER_PID=$!

# ---- 1. big answers ----
log "case 1: $BIG_LINES lines answered with $ANSWER_BYTES bytes each"
IN="$OUT_DIR/edges-big.jsonl"
gen_chat_input "$BIG_LINES" "$IN" big
t0="$(now)"
BIG_ID="$(jfield "$(create_batch "$(upload_file "$IN")" /v1/chat/completions)" .id)"
wait_batch "$BIG_ID" "$BATCH_TIMEOUT_S" || true
big_s="$(elapsed "$t0")"
check "1. big answers: the batch completed ($BATCH_STATUS after ${big_s}s)" [ "$BATCH_STATUS" = completed ]
out_id="$(jfield "$BATCH_JSON" .output_file_id)"
OUT="$OUT_DIR/edges-big-output.jsonl"
code="$(curl -sS -o "$OUT" -w '%{http_code}' -H "$AUTH_HEADER" "$SVC_URL/v1/files/$out_id/content" 2>/dev/null)" || code=000
bytes="$(wc -c <"$OUT")"
read -r lines distinct most < <(grep -o '^{"id":"[^"]*","custom_id":"[^"]*"' "$OUT" | sed 's/.*"custom_id":"//; s/"$//' \
  | sort | uniq -c | awk '{ n += $1; d++; if ($1 > m) m = $1 } END { printf "%d %d %d\n", n, d, m }')
check "1. big answers: output downloaded (HTTP $code, $bytes bytes), $lines lines, $distinct distinct custom_ids, none twice" \
  [ "$code" = 200 -a "$lines" = "$BIG_LINES" -a "$distinct" = "$BIG_LINES" -a "$most" = 1 ]
read -r chunks max_chunk < <(psql_db -d "$BENCH_DB" -F ' ' -c "select count(*), coalesce(max(octet_length(c.data)), 0)
  from file_chunks c join files f on f.id = c.file_id where f.id = '$out_id'")
check "1. big answers: $chunks chunks stored, the largest $max_chunk bytes (about 1 MiB, none over 2 MiB)" \
  [ "$max_chunk" -gt 0 -a "$max_chunk" -le 2097152 ]
rm -f "$OUT"

# ---- 2. one giant line ----
log "case 2: one line of $GIANT_BYTES bytes"
IN="$OUT_DIR/edges-giant.jsonl"
{ printf '{"custom_id":"giant-1","method":"POST","url":"/v1/chat/completions","body":{"model":"bench-model","messages":[{"role":"user","content":"'
  head -c "$GIANT_BYTES" /dev/zero | tr '\0' x
  printf '"}]}}\n'; } >"$IN"
GIANT_FILE="$(upload_file "$IN")"
rm -f "$IN"
t0="$(now)"
GIANT_ID="$(jfield "$(create_batch "$GIANT_FILE" /v1/chat/completions)" .id)"
wait_batch "$GIANT_ID" "$GIANT_WAIT_S" || true
giant_s="$(elapsed "$t0")"
IFS=$'\t' read -r e_line e_code e_msg < <(jfields "$BATCH_JSON" '.errors.data[0].line' '.errors.data[0].code' '.errors.data[0].message')
check "2. giant line: failed within ${GIANT_WAIT_S}s ($BATCH_STATUS after ${giant_s}s), error on line $e_line ($e_code: $e_msg)" \
  [ "$BATCH_STATUS" = failed -a "$e_line" = 1 ]

# ---- 3. a long line under the limit ----
log "case 3: a line of $LONG_BYTES bytes of message between two short ones"
IN="$OUT_DIR/edges-long.jsonl"
short_line() { printf '{"custom_id":"%s","method":"POST","url":"/v1/chat/completions","body":{"model":"bench-model","messages":[{"role":"user","content":"%s"}]}}\n' "$1" "$1"; }
{ short_line long-a
  printf '{"custom_id":"long-1","method":"POST","url":"/v1/chat/completions","body":{"model":"bench-model","messages":[{"role":"user","content":"'
  head -c "$LONG_BYTES" /dev/zero | tr '\0' y
  printf '"}]}}\n'
  short_line long-b; } >"$IN"
LONG_ID="$(jfield "$(create_batch "$(upload_file "$IN")" /v1/chat/completions)" .id)"
rm -f "$IN"
wait_batch "$LONG_ID" "$BATCH_TIMEOUT_S" || true
IFS=$'\t' read -r l_done l_total < <(jfields "$BATCH_JSON" .request_counts.completed .request_counts.total)
check "3. long line: the batch completed with every line answered ($BATCH_STATUS, $l_done of $l_total)" \
  [ "$BATCH_STATUS" = completed -a "$l_done" = 3 -a "$l_total" = 3 ]

# ---- 4. a chunked JSON body ----
log "case 4: $CHUNKED_BYTES bytes of chunked JSON body to POST /v1/batches"
t0="$(now)"
read -r code sent < <(head -c "$CHUNKED_BYTES" /dev/zero | tr '\0' ' ' | curl -sS -m 120 -o "$TMP_DIR/chunked.json" \
  -w '%{http_code} %{size_upload}\n' -H "$AUTH_HEADER" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
  --data-binary @- "$SVC_URL/v1/batches" 2>/dev/null || echo "000 0")
body="$(head -c 2000 "$TMP_DIR/chunked.json" 2>/dev/null || true)"
check "4. chunked JSON body: 413 with the envelope after ${sent%.*} bytes sent (< 64 MiB) in $(elapsed "$t0")s (HTTP $code: ${body:0:160})" \
  eval '[ "$code" = 413 ] && envelope "$body" && [ "${sent%.*}" -lt 67108864 ]'

# ---- 5. a chunked upload over the limit ----
log "case 5: a chunked multipart upload of $UPLOAD_BYTES bytes (limit $UPLOAD_LIMIT)"
(m=0; while :; do s="$(du -sb "$UPLOADS" 2>/dev/null | cut -f1)"; s="${s:-0}"; ((s <= m)) || { m="$s"; echo "$m" >"$TMP_DIR/spool-max"; }; sleep 0.2; done) &
SPOOL_PID=$!
t0="$(now)"
read -r code sent < <({ printf -- '--XX\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--XX\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n'
  head -c "$UPLOAD_BYTES" /dev/zero | tr '\0' z
  printf '\r\n--XX--\r\n'; } | curl -sS -m 300 -o "$TMP_DIR/upload.json" -w '%{http_code} %{size_upload}\n' -H "$AUTH_HEADER" \
  -H 'Content-Type: multipart/form-data; boundary=XX' -H 'Transfer-Encoding: chunked' --data-binary @- "$SVC_URL/v1/files" 2>/dev/null || echo "000 0")
sleep 0.5; kill "$SPOOL_PID" 2>/dev/null || true
spool="$(cat "$TMP_DIR/spool-max" 2>/dev/null || echo 0)"
body="$(head -c 2000 "$TMP_DIR/upload.json" 2>/dev/null || true)"
check "5. chunked upload: 413 with the envelope in $(elapsed "$t0")s, ${sent%.*} of $UPLOAD_BYTES bytes sent, uploads directory at most $spool bytes (limit $UPLOAD_LIMIT) (HTTP $code: ${body:0:160})" \
  eval '[ "$code" = 413 ] && envelope "$body" && [ "$spool" -le "$UPLOAD_LIMIT" ] && [ "${sent%.*}" -lt "$UPLOAD_BYTES" ]'

# ---- throughout ----
stop_sampler
heap_mib="$(heap_max_mib)"
ooms="$(grep -c 'OutOfMemoryError' "$SVC_LOG" || true)"
check "heap at most $heap_mib MiB of -Xmx$XMX (sampled every second), $ooms OutOfMemoryError in the log, service alive" \
  eval '[ "$ooms" = 0 ] && kill -0 "$SVC_PID" && [ "$heap_mib" -gt 0 ]'

{ echo "openbatch edges  ($(date -u +%FT%TZ), $(nproc) cores, -Xmx$XMX)"; printf '  %s\n' "${SUMMARY[@]}"
  if [[ $OK == 1 ]]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi; } | tee "$OUT_DIR/edges-summary.txt"
rm -rf "$TMP_DIR"
[[ $OK == 1 ]]
