#!/usr/bin/env bash
# The gateway contender of bench/load.py: `mcp-auth serve` in front of bench-server's echo, as
# an http upstream (`bench-server --mode bare`, started here) or as a stdio child per user
# (`bench-server --mode stdio`). JWT (HS256, BENCH_JWT_SECRET) and the per-user rate limit are
# on, at a rate the single benchmark user never reaches, as for the `wrapped` contender.
#
# Usage: gateway.sh http|stdio BENCH_SERVER MCP_AUTH
# Env:   BENCH_GATEWAY_WORKERS   the gateway's server.worker_threads (default: one per CPU)
# The script execs the gateway, so its pid is the gateway's and the http upstream (started
# before the exec) is the gateway's child: load.py counts the CPU of the whole tree. The
# gateway prints `mcp-auth: serving bench at URL` when ready.
set -euo pipefail
kind="$1" server="$2" gateway="$3"
dir="$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-bench-gateway.XXXXXX")"

case "$kind" in
  http)
    "$server" --mode bare >"$dir/upstream.out" &
    url=""
    for _ in $(seq 300); do # up to 30 s for the upstream's LISTENING line
      url="$(sed -n 's/^LISTENING //p' "$dir/upstream.out")"
      [ -n "$url" ] && break
      sleep 0.1
    done
    [ -n "$url" ] || { echo "gateway.sh: the upstream never listened" >&2; exit 1; }
    upstream="url = \"$url\""
    ;;
  stdio)
    upstream="command = \"$server\"
args = [\"--mode\", \"stdio\"]"
    ;;
  *) echo "usage: gateway.sh http|stdio BENCH_SERVER MCP_AUTH" >&2; exit 2 ;;
esac

workers=""
[ -n "${BENCH_GATEWAY_WORKERS:-}" ] && workers="worker_threads = $BENCH_GATEWAY_WORKERS"

cat >"$dir/gateway.toml" <<TOML
[server]
$workers

# The single benchmark user sends up to 64 requests at once (default cap: 32 in flight).
[server.limits]
max_in_flight_per_user = 1024

[auth]
mode = "jwt"
secret_env = "BENCH_JWT_SECRET"

[[servers]]
name = "bench"
path = "/mcp"
$upstream

[servers.rate_limit]
per_second = 1000000
burst = 1000000
TOML
RUST_LOG="${RUST_LOG:-warn}" exec "$gateway" serve --config "$dir/gateway.toml" --listen 127.0.0.1:0
