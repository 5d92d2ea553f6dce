#!/usr/bin/env bash
# Whole-request load benchmark: `echo` through wrap_server (JWT auth on) vs a bare rmcp server,
# both eras, concurrency 1/16/64. See bench/README.md for what it measures and the knobs.
#
#   bench/load.sh                                   # the default run (~4 min on 2 cores)
#   BENCH_DURATION=1 BENCH_ROUNDS=1 bench/load.sh   # a quick check
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The load generator: wrk from Debian, pinned to the version the numbers were taken with.
WRK_DEB_VERSION="4.1.0-3+b2"
if ! command -v wrk >/dev/null; then
  echo "installing wrk ${WRK_DEB_VERSION} (Debian)…" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # The pinned revision may have left the archive; any 4.1.0 behaves the same.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "wrk=${WRK_DEB_VERSION}" \
    || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk
fi

cargo build --release --locked -p mcp-auth-bench
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

export BENCH_RUSTC_VERSION="$(rustc --version)"
export BENCH_RMCP_VERSION="$(grep -A1 '^name = "rmcp"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
exec python3 bench/load.py "$TARGET_DIR/release/bench-server"
