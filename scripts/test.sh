#!/usr/bin/env bash
# The one test command: installs what it needs, then runs every check CI runs.
#   fmt --check, clippy -D warnings, all Rust tests (embedded store, DynamoDB adapter against moto_server,
#   end to end over real sockets against the local stack), a 60 s cargo fuzz run, the browser test in headless
#   Chromium, benchmark smoke runs, cfn-lint.
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

# A CI run builds once from scratch: incremental-compilation caches would only take disk (several GB).
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The DynamoDB tests start moto_server themselves on a free 127.0.0.1 port (tests/src/moto.rs), with the
# request lock that makes it apply conditional writes atomically as DynamoDB does (scripts/moto/).
export PATH="$ROOT/.venv/bin:$PATH"

step "cargo test (all crates)"
# Build every target first in one feature resolution (tests included), so the binaries the browser test and
# the bench smoke runs start are these same builds rather than a second build with other features.
cargo build --workspace --all-targets --locked
cargo test --workspace --locked

step "cargo fuzz smoke: 60 s on the decoders (the 10-minute run: ./scripts/fuzz.sh)"
./scripts/fuzz.sh --smoke

step "web client unit tests (node --test, no browser)"
node --test tests/web/

step "browser test: Debian Chromium driven by playwright-core against the local stack"
if ! command -v chromium >/dev/null 2>&1; then
  # Debian's package; a browser is never downloaded by the test tool itself.
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
LOCAL_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/auction-local"   # built by the test step
(cd tests/browser && CHROMIUM="$(command -v chromium)" AUCTION_LOCAL_BIN="$LOCAL_BIN" node --test --test-reporter=spec)
echo "screenshots: target/test-output/browser/"

step "benchmark smoke runs (keep every benchmark compiling and working; numbers meaningless)"
./scripts/bench.sh --smoke

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

step "deploy check: README Deploy up to where AWS is needed (validate, build, every bootstrap invoked against moto)"
./scripts/deploy-check.sh

step "all checks passed"
