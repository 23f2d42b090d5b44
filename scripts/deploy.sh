#!/usr/bin/env bash
# Validate, build and deploy the stack with ONE architecture choice (README "Deploy"):
#   ARCH=arm64 ./scripts/deploy.sh Key=Value …     (every argument is a template parameter override)
# `sam build` and `sam deploy` both get Architecture=$ARCH, and every built bootstrap is checked to be of that
# architecture before anything is uploaded: a mismatch would deploy binaries every invocation fails to start.
# Needs the tools of scripts/requirements-deploy.txt in .venv-deploy, AWS credentials and a region.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${ARCH:-arm64}"
case "$ARCH" in arm64 | x86_64) ;; *) echo "ARCH must be arm64 or x86_64, not $ARCH" >&2; exit 2 ;; esac
for arg in "$@"; do
  case "$arg" in
    Architecture=*) echo "set the architecture with ARCH=…, not $arg (it must reach build and deploy alike)" >&2; exit 2 ;;
    *=*) ;;
    *) echo "every argument is a parameter override Key=Value; $arg is not" >&2; exit 2 ;;
  esac
done
if [ ! -x .venv-deploy/bin/sam ] || [ ! -x .venv-deploy/bin/cargo-lambda ]; then
  echo "install the deploy tools first: python3 -m venv .venv-deploy && .venv-deploy/bin/pip install -r scripts/requirements-deploy.txt" >&2
  exit 2
fi
if [ "$ARCH" = arm64 ] && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "arm64 needs the Rust target: rustup target add aarch64-unknown-linux-gnu" >&2
  exit 2
fi
export PATH="$PWD/.venv-deploy/bin:$PATH" SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"
sam validate --lint
sam build --parameter-overrides "Architecture=$ARCH"
.venv-deploy/bin/python scripts/deploy_check.py verify-arch .aws-sam/build "$ARCH"
sam deploy --parameter-overrides "Architecture=$ARCH" "$@"
