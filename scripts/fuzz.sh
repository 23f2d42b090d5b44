#!/usr/bin/env bash
# cargo fuzz on the decoders (fuzz/fuzz_targets/decode.rs): bid and create bodies, client frames, ids, frames.
#   ./scripts/fuzz.sh            10 minutes, optimised build with AddressSanitizer (the recorded long run)
#   ./scripts/fuzz.sh 120        the same for 120 s
#   ./scripts/fuzz.sh --smoke    60 s, debug build (debug assertions, overflow checks), no sanitizer: CI's run
# cargo-fuzz is installed into .tools/ (project-local, pinned). Its instrumentation needs nightly flags; the
# stable toolchain accepts them with RUSTC_BOOTSTRAP=1. The corpus grows in fuzz/corpus/decode (not committed);
# fuzz/seeds/decode holds one seed per decoder. A crash leaves its input in fuzz/artifacts/decode/ and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CARGO_FUZZ_VERSION=0.13.2

seconds=600
flags=()
case "${1:-}" in
  --smoke) seconds=60; flags=(--dev --sanitizer none) ;;
  "") ;;
  *[!0-9]*) echo "usage: $0 [SECONDS | --smoke]" >&2; exit 2 ;;
  *) seconds=$1 ;;
esac

if [ "$(.tools/bin/cargo-fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install --quiet --locked --root "$ROOT/.tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
export PATH="$ROOT/.tools/bin:$PATH" RUSTC_BOOTSTRAP=1

cd fuzz
mkdir -p corpus/decode
cargo fuzz build "${flags[@]}" decode
log=$(mktemp)
status=0
cargo fuzz run "${flags[@]}" decode corpus/decode seeds/decode -- \
  -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
# The summary (and, on a crash, the report and where the input was written); the full log stays in $log.
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done|^stat::|^==|SUMMARY|panicked|Test unit written|^Error' "$log" || true
echo "fuzz log: $log (exit $status)"
exit "$status"
