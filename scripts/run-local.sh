#!/usr/bin/env bash
# Start the action server in the background and talk to the bot in the terminal; stop everything on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://localhost:5055/webhook}
mkdir -p var/log
.venv/bin/rasa run actions --port 5055 > var/log/actions.log 2>&1 &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
echo "action server starting (log: var/log/actions.log)"
.venv/bin/rasa shell --model models/hsm.tar.gz --endpoints endpoints.yml
