#!/usr/bin/env bash
# Starts openbatch and runs a first batch on the built-in embeddings model.
#   bin/demo.sh            build if needed, start the service, run the demo batch, leave it running
#   PORT=8080 MGMT_PORT=9000   the API's port, and the one of health and metrics
# Needs: Java 17+, PostgreSQL reachable (default 127.0.0.1:5432, user postgres; the service creates
# its database), curl. Configuration: any -D option in JAVA_OPTS, or environment variables
# (QUARKUS_DATASOURCE_REACTIVE_URL, OPENBATCH_AUTH_KEYS, ...), see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
BASE="http://127.0.0.1:${PORT}"
# health and metrics answer on the management port (quarkus.management.port), not the API's
MGMT_PORT="${MGMT_PORT:-9000}"
READY="http://127.0.0.1:${MGMT_PORT}/q/health/ready"
KEY="${OPENBATCH_KEY:-demo}"
LOG="target/openbatch.log"
JAR="target/quarkus-app/quarkus-run.jar"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
field() { # field NAME: the first string or number value of "NAME" in the JSON on stdin
  sed -n "s/.*\"$1\":\(\"\([^\"]*\)\"\|\([0-9][0-9]*\)\|null\).*/\2\3/p" | head -n 1
}

if [ ! -f "$JAR" ]; then
  say "building openbatch (first run only; Maven downloads its dependencies)"
  ./mvnw -B -q package -DskipTests
fi

if curl -fs "$READY" >/dev/null 2>&1; then
  say "openbatch is already running at $BASE"
else
  say "starting openbatch on $BASE (log: $LOG)"
  mkdir -p target
  # shellcheck disable=SC2086
  nohup java ${JAVA_OPTS:--XX:TieredStopAtLevel=1 -XX:+UseSerialGC} -Dquarkus.http.port="$PORT" -Dquarkus.management.port="$MGMT_PORT" -jar "$JAR" >"$LOG" 2>&1 &
  echo $! > target/openbatch.pid
  for _ in $(seq 1 120); do
    curl -fs "$READY" >/dev/null 2>&1 && break
    if ! kill -0 "$(cat target/openbatch.pid)" 2>/dev/null; then
      echo "openbatch stopped during start-up; the end of $LOG says why:" >&2
      tail -n 30 "$LOG" >&2
      exit 1
    fi
    sleep 1
  done
  curl -fs "$READY" >/dev/null || { echo "openbatch did not become ready; see $LOG" >&2; exit 1; }
fi

say "models it serves"
curl -s "$BASE/v1/models" -H "Authorization: Bearer $KEY"; echo

say "uploading examples/embeddings.jsonl"
FILE=$(curl -s "$BASE/v1/files" -H "Authorization: Bearer $KEY" -F purpose=batch -F file=@examples/embeddings.jsonl)
echo "$FILE"
FILE_ID=$(echo "$FILE" | field id)
[ -n "$FILE_ID" ] || { echo "upload failed" >&2; exit 1; }

say "creating a batch on /v1/embeddings"
BATCH=$(curl -s "$BASE/v1/batches" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "{\"input_file_id\":\"$FILE_ID\",\"endpoint\":\"/v1/embeddings\",\"completion_window\":\"24h\"}")
BATCH_ID=$(echo "$BATCH" | field id)
[ -n "$BATCH_ID" ] || { echo "creating the batch failed: $BATCH" >&2; exit 1; }
echo "batch $BATCH_ID"

say "progress"
STATUS=""
for _ in $(seq 1 600); do
  B=$(curl -s "$BASE/v1/batches/$BATCH_ID" -H "Authorization: Bearer $KEY")
  STATUS=$(echo "$B" | field status)
  COUNTS=$(echo "$B" | sed -n 's/.*"request_counts":\({[^}]*}\).*/\1/p')
  printf '  %-12s %s\n' "$STATUS" "$COUNTS"
  case "$STATUS" in completed|failed|expired|cancelled) break ;; esac
  sleep 0.5
done

OUT_ID=$(echo "$B" | field output_file_id)
ERR_ID=$(echo "$B" | field error_file_id)
say "batch $STATUS"
if [ "$STATUS" = failed ]; then
  echo "$B"
  exit 1
fi
if [ -n "$OUT_ID" ]; then
  echo "results:  curl -s $BASE/v1/files/$OUT_ID/content -H 'Authorization: Bearer $KEY'"
  echo "first result (embedding cut short):"
  curl -s "$BASE/v1/files/$OUT_ID/content" -H "Authorization: Bearer $KEY" -o target/demo-output.jsonl
  head -n 1 target/demo-output.jsonl | cut -c 1-300; echo " ..."
  echo "(all $(wc -l < target/demo-output.jsonl) result lines are in target/demo-output.jsonl)"
fi
if [ -n "$ERR_ID" ]; then
  echo "errors:   curl -s $BASE/v1/files/$ERR_ID/content -H 'Authorization: Bearer $KEY'"
fi
echo "console:  open $BASE/ in a browser and enter the key '$KEY'"
if [ -f target/openbatch.pid ]; then
  echo
  echo "openbatch keeps running at $BASE (pid $(cat target/openbatch.pid)); stop it with: kill $(cat target/openbatch.pid)"
fi
