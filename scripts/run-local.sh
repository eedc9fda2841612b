#!/usr/bin/env bash
# The whole local stack: Meta sandbox, action server, Rasa with the WhatsApp channel, admin API (and the office
# console on its port, /office/); then the chat.
# Rasa opens the development channels too (credentials.dev.yml: REST for `rasa shell`). Logs go to var/log/. Everything started here stops when the chat ends.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/local-env.sh
PHONE=${PHONE:-+919811000101}
mkdir -p var/log
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_for() {  # url, name, log
  for _ in $(seq 180); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && { echo "  $2 is up"; return 0; }
    sleep 1
  done
  echo "$2 did not start; see $3" >&2; tail -20 "$3" >&2; exit 1
}

echo "starting the local stack (HSM_NOW=${HSM_NOW:-real clock}):"
.venv/bin/hsm sandbox --port "$SANDBOX_PORT" > var/log/sandbox.log 2>&1 & pids+=($!)
.venv/bin/rasa run actions --port "$ACTION_PORT" --logging-config-file logging.yml > var/log/actions.log 2>&1 &
pids+=($!)
.venv/bin/rasa run --model models/hsm.tar.gz -i 127.0.0.1 --port "$RASA_PORT" --credentials credentials.dev.yml \
  --endpoints endpoints.yml --logging-config-file logging.yml > var/log/rasa.log 2>&1 & pids+=($!)
.venv/bin/hsm api --port "$API_PORT" > var/log/api.log 2>&1 & pids+=($!)
wait_for "$HSM_SANDBOX_URL/healthz" "Meta sandbox (:$SANDBOX_PORT)" var/log/sandbox.log
wait_for "http://127.0.0.1:$ACTION_PORT/health" "action server (:$ACTION_PORT)" var/log/actions.log
wait_for "http://127.0.0.1:$RASA_PORT/webhooks/whatsapp/" "Rasa + WhatsApp channel (:$RASA_PORT)" var/log/rasa.log
wait_for "http://127.0.0.1:$API_PORT/healthz" "admin API (:$API_PORT)" var/log/api.log
echo "office console: http://127.0.0.1:$API_PORT/office/"
echo "  sign in as a demo admin (meera, farhan) or teacher (rahul, priya, ...) after giving them a password:"
echo "  .venv/bin/hsm staff set-password meera"
if [ -n "${HSM_NO_CHAT:-}" ]; then
  echo "stack running; Ctrl-C stops it"; wait
else
  .venv/bin/hsm chat --phone "$PHONE"
fi
