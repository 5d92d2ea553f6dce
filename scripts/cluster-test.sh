#!/usr/bin/env bash
# Scale-out end to end on loopback (issue 14; docs/scale-out.md): three `mcp-auth serve`
# replicas behind HAProxy with the shipped deploy/haproxy/haproxy.cfg, and nginx with the
# shipped deploy/nginx/nginx.conf. scripts/cluster_test.py (stdlib Python only) checks:
#  a. 20 users x 10 requests (2026-07-28 stateless, a new connection each): every user's
#     requests reach one replica, and the users are spread over all three;
#  b. a refreshed token (same `sub`, new `exp`/`jti`) reaches the same replica and the same
#     warm upstream instance (the notes it holds);
#  c. 2025-11-25 sessions: requests with Mcp-Session-Id reach the replica that issued it (and
#     the same id sent straight to another replica is a 404: the affinity is what makes it work);
#     nginx: `nginx -t`, and users hashed on X-MCP-User stick;
#  e. requests/s through HAProxy with 3 replicas and with 1 (wrk), printed as a ratio;
#  d. SIGKILL to one replica: the other replicas' users see no error and keep their instance;
#     the moved users' sessions answer 404, they re-initialize and carry on elsewhere; their
#     stateless calls succeed at once; the replica's per-user children end with it; once HAProxy
#     marks the replica DOWN, a moved user may move once more (one more 404, docs/scale-out.md),
#     then every user stays put;
#     SIGTERM to another replica (drain_delay 5s): no stateless call fails, HAProxy marks it DOWN
#     (/mcp/ready 503) while it still serves, and only its users move.
#  Last: every process the run started, children of the replicas included, is gone.
# Each replica's per-user child is `mcp-auth demo --stdio` with MCP_USER_ID = "{user_id}@rN",
# so the demo's `whoami` answer names the replica that served it.
# All replicas share one redis-server (scripts/cluster_redis.py), with which, between e and d:
#  f. a per-user limit shared in Redis (`/limited`, 20/s, burst 40): requests spread over the
#     three replicas get what one limiter allows, within 10%;
#  g. `mcp-auth invalidate USER`: every replica drops the user's instance within 1 s, and other
#     users keep theirs;
#  h. Redis killed: the fail-closed mount answers 503 + Retry-After, the other serves, /ready is
#     503 and /health 200 everywhere; Redis restarted: all recover by themselves (readiness,
#     HAProxy, the shared limit, revocations).
#
# Usage: scripts/cluster-test.sh
# Env:   MCP_AUTH_BIN   use this mcp-auth binary instead of building one with cargo (debug,
#                       under CARGO_TARGET_DIR; a no-op after scripts/test.sh's `cargo test`)
#        CLUSTER_KEEP   keep the work directory (configs, replica and HAProxy logs)
# Installs haproxy, nginx, wrk and redis-server from Debian's packages when missing (as root, or with sudo).
# Prints one PASS/FAIL line per check and a last line `N passed, M failed`; exits 1 if any
# check failed. ~37 s on 2 cores with the binary built.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

log() { echo "cluster-test: $*" >&2; }
die() { echo "cluster-test: error: $*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------------------------
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} from Debian's packages"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo -n); else
    die "${missing[*]} missing, and neither root nor sudo to install them"
  fi
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi
HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
WRK="$(command -v wrk || true)"
REDIS_SERVER="$(command -v redis-server || echo /usr/bin/redis-server)"
# (Whole outputs captured, not piped into `head`: under pipefail a SIGPIPE would end the script.)
haproxy_version="$("$HAPROXY" -v)"
haproxy_version="${haproxy_version%%$'\n'*}"
nginx_version="$("$NGINX" -v 2>&1)"
log "${haproxy_version%% - *}; ${nginx_version%%$'\n'*}"
# `balance hash <expr>` and `jwt_payload_query` need HAProxy 2.6 or newer.
if [[ "$haproxy_version" =~ ^HAProxy\ version\ ([0-9]+)\.([0-9]+) ]]; then
  major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
else
  die "cannot read HAProxy's version from: $haproxy_version"
fi
if [ "$major" -lt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -lt 6 ]; }; then
  die "HAProxy 2.6 or newer needed, found: $haproxy_version"
fi
command -v python3 >/dev/null || die "python3 (>= 3.9) is needed"

# shellcheck source=lib/mcp_auth_bin.sh
. "$ROOT/scripts/lib/mcp_auth_bin.sh"
mcp_auth_bin "$ROOT"

# --- run --------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-cluster.XXXXXX")"
DRIVER_PID=""
cleanup() {
  # The driver kills what it started (each process group) on any exit of its own; this is for
  # the script being interrupted: stop the driver, whose handler then stops the rest.
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  if [ -n "${CLUSTER_KEEP:-}" ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rc=0
# A watchdog: 10 min is 20 times a normal run. On SIGTERM the driver stops what it started.
timeout --kill-after=90 600 python3 "$ROOT/scripts/cluster_test.py" --bin "$BIN" --haproxy "$HAPROXY" \
  --haproxy-cfg "$ROOT/deploy/haproxy/haproxy.cfg" --redis-server "$REDIS_SERVER" --nginx "$NGINX" \
  --nginx-conf "$ROOT/deploy/nginx/nginx.conf" ${WRK:+--wrk "$WRK"} --work "$WORK" &
DRIVER_PID=$!
wait "$DRIVER_PID" || rc=$?
DRIVER_PID=""
if [ "$rc" -ne 0 ]; then
  log "logs of the replicas and HAProxy (last lines):"
  for f in "$WORK"/replica-*.log "$WORK"/haproxy.log "$WORK"/redis.log; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
fi
exit "$rc"
