#!/usr/bin/env bash
# Runs every benchmark (loopback only, each bounded in count and time) and writes bench/results/*.md,
# from which BENCHMARKS.md is assembled. Benchmarks are commands with reports, never timed tests.
#
#   ./scripts/bench.sh            full runs (release builds; see BENCHMARKS.md for each one's runtime)
#   ./scripts/bench.sh --smoke    tiny runs of every benchmark (debug builds): keeps them compiling and
#                                 working; the test command runs this in CI. Numbers are meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
if ! .venv/bin/python -c 'import moto' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
export PATH="$PWD/.venv/bin:$PATH"

# bench-e2e runs the seed 004 Socket.IO server beside ours (its npm packages stay in bench/seed-socketio).
(cd bench/seed-socketio && npm ci --no-audit --no-fund --loglevel=error)

if [ "${1:-}" = "--smoke" ]; then
  # The same build as the test command's (one feature resolution for the whole workspace), then the binaries.
  cargo build --workspace --all-targets --locked -q
  run() { "${CARGO_TARGET_DIR:-target}/debug/$1" --smoke; }
  step "bench-fanout --smoke";     run bench-fanout
  step "bench-contention --smoke"; run bench-contention
  step "bench-e2e --smoke";        run bench-e2e
  step "bench-coldstart --smoke";  run bench-coldstart
  step "bench-scale --smoke";      run bench-scale
  step "bench-close --smoke";      run bench-close
  step "benchmark smoke runs passed"
  exit 0
fi

if ! command -v cargo-lambda >/dev/null 2>&1; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-bench.txt
fi
run() { local bin=$1; shift; cargo run --locked --release -q -p auction-bench --bin "$bin" -- "$@"; }
step "fan-out (bench/results/fanout.md)"
run bench-fanout --sweep-concurrency 128,256,512
step "contention (bench/results/contention.md)"
run bench-contention --out bench/results/contention.md
step "end to end on the local stack (bench/results/e2e.md)"
cargo build --locked --release -q -p local-stack --bin auction-local   # the server bench-e2e starts
run bench-e2e
step "scale past this machine, in virtual time (bench/results/scale.md)"
run bench-scale
step "close latency on the local stack (bench/results/close.md)"
run bench-close
step "cold start, size, memory (bench/results/coldstart.md; builds with cargo lambda)"
run bench-coldstart --build --out bench/results/coldstart.md
step "done: bench/results/"
