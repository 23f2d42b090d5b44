#!/usr/bin/env bash
# Start moto_server with atomic request handling (see scripts/moto/sitecustomize.py), for running the local
# stack against the DynamoDB adapter:   ./scripts/moto.sh 5005 &
#                                       cargo run --release -p local-stack -- --dynamodb-endpoint http://127.0.0.1:5005
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-5005}"
if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
export PYTHONPATH="$PWD/scripts/moto${PYTHONPATH:+:$PYTHONPATH}"
export AUCTION_MOTO_SERIALIZE=1
exec .venv/bin/moto_server -H 127.0.0.1 -p "$PORT"
