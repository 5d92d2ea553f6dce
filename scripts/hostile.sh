#!/usr/bin/env bash
# Attacks on a release `mcp-auth demo`, measured from outside (docs/reliability.md, "Measured
# against a release build"): `unread` (answers never read) and `slowloris` (20,000 half-open
# connections). Prints JSON results. Knobs: see bench/hostile.py.
#
#   scripts/hostile.sh unread
#   scripts/hostile.sh slowloris
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
case "${1:-}" in
  unread|slowloris) ;;
  *) echo "usage: scripts/hostile.sh unread|slowloris" >&2; exit 2 ;;
esac
echo "hostile: cargo build --release -p mcp-auth-gateway" >&2
cargo build --release -p mcp-auth-gateway --locked --quiet
target="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
HOSTILE_BIN="$target/release/mcp-auth" exec python3 bench/hostile.py "$1"
