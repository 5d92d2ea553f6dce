#!/usr/bin/env bash
# Whole-request load benchmark, side by side: `echo` through wrap_server (JWT auth on) vs a bare
# rmcp server, FastMCP and the TypeScript SDK server, both eras, concurrency 1/16/64. See
# bench/README.md for what it measures and the knobs.
#
#   bench/load.sh                                   # every contender (~10 min on 2 cores)
#   BENCH_DURATION=1 BENCH_ROUNDS=1 bench/load.sh   # a quick check
#   BENCH_CONTENDERS=bare,wrapped,per_session bench/load.sh   # only the Rust servers
#   BENCH_CONTENDERS=bare,gateway-http,gateway-stdio bench/load.sh   # the gateway (mcp-auth serve)
#   bench/load.sh --idle-memory                     # KB per idle user (bench/idle_memory.py)
#   bench/load.sh --docs; bench/load.sh --idle-memory --docs   # also update docs/benchmarks.md
set -euo pipefail

IDLE_MEMORY=false
for arg in "$@"; do
  case "$arg" in
    --idle-memory) IDLE_MEMORY=true ;;
    # Update the generated sections of docs/benchmarks.md (and its chart) in place.
    --docs) export BENCH_DOC=docs/benchmarks.md BENCH_CHART=docs/benchmarks-chart.svg ;;
    *) echo "usage: bench/load.sh [--idle-memory] [--docs]" >&2; exit 2 ;;
  esac
done

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

# The other implementations (bench/contenders/), installed into bench/.deps only when named:
# Node 22 + the locked npm tree for ts-sdk (scripts/lib/node.sh, as tests/e2e/run.sh), a venv
# with the pinned FastMCP for fastmcp*. Each install is skipped when already there.
NODE_VERSION=22.23.3
DEPS="$ROOT/bench/.deps"
CONTENDERS_DIR="$ROOT/bench/contenders"
log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }
export BENCH_CONTENDERS="${BENCH_CONTENDERS:-bare,bare-json,wrapped,per_session,fastmcp,fastmcp-sessions,ts-sdk}"
case ",${BENCH_CONTENDERS:-}," in
  *,ts-sdk,*)
    # shellcheck source=scripts/lib/node.sh
    . "$ROOT/scripts/lib/node.sh"
    ensure_node "$DEPS" "$NODE_VERSION"
    ensure_npm_ci "$DEPS" "$CONTENDERS_DIR"
    ln -sfn ../.deps/npm/node_modules "$CONTENDERS_DIR/node_modules"
    ;;
esac
case ",${BENCH_CONTENDERS:-}," in
  *,fastmcp,* | *,fastmcp-sessions,*)
    stamp="$(digest "$CONTENDERS_DIR/requirements-fastmcp.txt")"
    if [ "$(cat "$DEPS/fastmcp/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$DEPS/fastmcp/bin/python" ]; then
      echo "creating the FastMCP venv $DEPS/fastmcp (requirements-fastmcp.txt)…" >&2
      rm -rf "$DEPS/fastmcp"
      python3 -m venv "$DEPS/fastmcp"
      "$DEPS/fastmcp/bin/pip" install --quiet --disable-pip-version-check \
        -r "$CONTENDERS_DIR/requirements-fastmcp.txt" >&2
      echo "$stamp" >"$DEPS/fastmcp/.stamp"
    fi
    ;;
esac

cargo build --release --locked -p mcp-auth-bench
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case ",${BENCH_CONTENDERS}," in
  *,gateway-*)
    cargo build --release --locked -p mcp-auth-gateway
    export BENCH_GATEWAY_BIN="$TARGET_DIR/release/mcp-auth"
    ;;
esac

export BENCH_RUSTC_VERSION="$(rustc --version)"
export BENCH_RMCP_VERSION="$(grep -A1 '^name = "rmcp"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)"
if $IDLE_MEMORY; then
  exec python3 bench/idle_memory.py "$TARGET_DIR/release/bench-server"
fi
exec python3 bench/load.py "$TARGET_DIR/release/bench-server"
