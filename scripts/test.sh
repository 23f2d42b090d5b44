#!/usr/bin/env bash
# The one test command: installs what it needs, then runs every check CI runs.
#   fmt --check, clippy -D warnings, all tests (embedded store, DynamoDB adapter against moto_server),
#   cfn-lint on template.yaml.
# Python tools go into a project-local venv (.venv); nothing is installed globally.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (moto_server, cfn-lint) in .venv"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import moto, cfnlint' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "moto_server on a free 127.0.0.1 port"
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p target/test-logs
.venv/bin/moto_server -H 127.0.0.1 -p "$PORT" > target/test-logs/moto.log 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/')" 2>/dev/null; then break; fi
  sleep 0.1
done
export DYNAMODB_TEST_ENDPOINT="http://127.0.0.1:$PORT"

step "cargo test (all crates)"
cargo test --workspace --locked

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

step "all checks passed"
