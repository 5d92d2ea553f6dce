#!/usr/bin/env bash
# Soak run (docs/reliability.md, "Soak"): 10 minutes of constant load on a release
# `mcp-auth demo` — 1,000 users in turn, over 2026-07-28 stateless, 2025-11-25 sessions and
# legacy HTTP+SSE — sampling RSS, fds and tasks every 10 s. Exits 1 when a check fails.
#
#   scripts/soak.sh                          # the full run, report to stdout
#   scripts/soak.sh --docs                   # also write docs/soak.md and docs/soak.svg
#   SOAK_DURATION_S=60 SOAK_WARMUP_S=20 scripts/soak.sh   # a quick check
#
# Knobs (bench/soak.py): SOAK_DURATION_S, SOAK_WARMUP_S, SOAK_USERS, SOAK_RATE, SOAK_WORKERS,
# SOAK_SAMPLE_S. Python 3 stdlib only.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

case "${1:-}" in
  --docs) export SOAK_REPORT=docs/soak.md SOAK_PLOT=docs/soak.svg ;;
  "") ;;
  *) echo "usage: scripts/soak.sh [--docs]" >&2; exit 2 ;;
esac

echo "soak: cargo build --release -p mcp-auth-gateway" >&2
cargo build --release -p mcp-auth-gateway --locked --quiet
target="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
SOAK_BIN="$target/release/mcp-auth" exec python3 bench/soak.py
