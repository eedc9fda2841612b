#!/usr/bin/env bash
# Train the Rasa model into models/hsm.tar.gz and print how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
start=$(date +%s.%N)
.venv/bin/rasa train --fixed-model-name hsm --out models --quiet "$@"
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "trained models/hsm.tar.gz in %.1f s\n", e - s }'
