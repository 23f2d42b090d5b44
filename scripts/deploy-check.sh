#!/usr/bin/env bash
# README "Deploy", followed on this machine up to where AWS would be needed (CI runs it from scripts/test.sh):
#   1. the deploy tools (aws-sam-cli, cargo-lambda) into .venv-deploy from scripts/requirements-deploy.txt
#   2. sam validate --lint
#   3. sam build of ONE function (PlaceBidFunction), and the other functions the check invokes with the command
#      SAM's rust-cargolambda builder runs (cargo lambda build --release [--arm64] --bin <Binary>), all binaries in
#      one invocation: building all ten through sam build costs ≈ 17 min cold on 2 cores, one LTO link each
#   4. every bootstrap is of the architecture it was built for (scripts/deploy_check.py verify-arch)
#   5. each bootstrap run behind cargo lambda's Lambda Runtime API emulator with exactly the environment the
#      transformed template gives it, against moto_server (with the request lock of scripts/moto/), invoked with
#      the sample events: create, list, get, bid, $connect, sync, close, $disconnect; every answer checked
#      (scripts/deploy_check.py invoke)
# ARCH=arm64 ./scripts/deploy-check.sh checks the arm64 build instead (needs `rustup target add
# aarch64-unknown-linux-gnu`; the invocations then need an arm64 machine, so they are skipped elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARCH="${ARCH:-x86_64}"
BUILD_DIR=.aws-sam/deploy-check
START=$(date +%s)
step() { printf '\n==> deploy-check: %s\n' "$*"; }

step "tools: aws-sam-cli and cargo-lambda in .venv-deploy"
if [ ! -x .venv-deploy/bin/python ]; then
  python3 -m venv .venv-deploy
fi
pinned() {  # every pin of scripts/requirements-deploy.txt installed at its version
  .venv-deploy/bin/python - scripts/requirements-deploy.txt <<'PY'
import importlib.metadata as m, sys
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if "==" in line:
        name, version = line.split("==")
        try:
            ok = m.version(name) == version
        except m.PackageNotFoundError:
            ok = False
        if not ok:
            sys.exit(1)
PY
}
if ! pinned; then
  .venv-deploy/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-deploy.txt
fi
export PATH="$ROOT/.venv-deploy/bin:$PATH" SAM_CLI_TELEMETRY=0
sam --version
cargo lambda --version

step "sam validate --lint"
sam validate --lint

step "sam build PlaceBidFunction (Architecture=$ARCH)"
rm -rf "$BUILD_DIR"
sam build PlaceBidFunction --parameter-overrides "Architecture=$ARCH" --build-dir "$BUILD_DIR"

# The functions the invocations below need, other than the one sam built; the same command SAM's builder runs.
NEEDED="CreateAuctionFunction GetAuctionFunction WsConnectFunction WsDefaultFunction CloseAuctionsFunction WsDisconnectFunction"
BINS=()
declare -A BINARY
while read -r logical binary; do BINARY[$logical]=$binary; done < <(.venv-deploy/bin/python scripts/deploy_check.py functions template.yaml)
for logical in $NEEDED; do BINS+=(--bin "${BINARY[$logical]}"); done
ARCH_FLAG=(); [ "$ARCH" = "arm64" ] && ARCH_FLAG=(--arm64)
step "cargo lambda build --release ${ARCH_FLAG[*]} ${BINS[*]}"
cargo lambda build --release "${ARCH_FLAG[@]}" "${BINS[@]}"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | .venv-deploy/bin/python -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for logical in $NEEDED; do
  mkdir -p "$BUILD_DIR/$logical"
  cp "$TARGET_DIR/lambda/${BINARY[$logical]}/bootstrap" "$BUILD_DIR/$logical/bootstrap"
done

step "every bootstrap is $ARCH"
.venv-deploy/bin/python scripts/deploy_check.py verify-arch "$BUILD_DIR" "$ARCH"

if [ "$ARCH" != "$(uname -m | sed 's/aarch64/arm64/')" ]; then
  step "invocations skipped: $ARCH binaries do not run on $(uname -m)"
else
  step "moto_server with the request lock (scripts/moto.sh)"
  MOTO_PORT=$(.venv-deploy/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ./scripts/moto.sh "$MOTO_PORT" >"$BUILD_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  # Ready, and serving with the request lock (its responses carry the marker header), or fail.
  .venv-deploy/bin/python - "$MOTO_PORT" "$MOTO_PID" <<'PY' || { cat "$BUILD_DIR/moto.log" >&2; exit 1; }
import os, sys, time, urllib.error, urllib.request
port, pid = sys.argv[1], int(sys.argv[2])
for _ in range(300):
    try:
        headers = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).headers
    except urllib.error.HTTPError as answered:
        headers = answered.headers
    except OSError:
        os.kill(pid, 0)  # still running, or fail
        time.sleep(0.1)
        continue
    if headers.get("x-auction-tests-serialized") == "1":
        sys.exit(0)
    sys.exit("moto_server is not serving with the request lock (scripts/moto/sitecustomize.py)")
sys.exit("moto_server did not start")
PY

  step "each bootstrap behind cargo lambda's Runtime API emulator, with the sample events"
  .venv-deploy/bin/python scripts/deploy_check.py invoke template.yaml "$BUILD_DIR" "http://127.0.0.1:$MOTO_PORT"
fi

step "passed in $(( $(date +%s) - START )) s"
