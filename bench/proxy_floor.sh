#!/usr/bin/env bash
# The floor of any HTTP proxy hop on this machine: what nginx (one worker, keep-alive upstream
# connections, no buffering, no auth) adds to `bench-server --mode bare` for the benchmark's
# 2026-07-28 echo at c = 1, measured with the same wrk script as bench/load.py. The gateway's
# own hop (docs/benchmarks.md, "The gateway") is compared against it.
#
# Usage: bench/proxy_floor.sh   (after bench/load.sh built target/release/bench-server)
# Installs Debian's nginx-light when nginx is missing. Everything listens on 127.0.0.1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
dir="$(mktemp -d "${TMPDIR:-/tmp}/mcp-auth-proxy-floor.XXXXXX")"
"${CARGO_TARGET_DIR:-target}/release/bench-server" --mode bare >"$dir/upstream.out" &
upstream_pid=$!
cleanup() { "$NGINX" -c "$dir/nginx.conf" -s stop 2>/dev/null || true; kill "$upstream_pid" 2>/dev/null || true; }
trap cleanup EXIT
url=""
for _ in $(seq 300); do
  url="$(sed -n 's/^LISTENING //p' "$dir/upstream.out")"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "proxy_floor: the upstream never listened" >&2; exit 1; }
hostport="${url#http://}"; hostport="${hostport%%/*}"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream up { server $hostport; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $hostport;
      proxy_buffering off;
    }
  }
}
CONF
"$NGINX" -c "$dir/nginx.conf"
python3 - "$url" "http://127.0.0.1:$port/${url#http://*/}" "$dir" <<'PY'
import pathlib, sys
sys.path.insert(0, "bench")
import load

direct, proxied, tmp = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])

class NoAuth:
    def auth_headers(self):
        return {}

script = tmp / "echo.lua"
load.wrk_script(load.stateless_request(NoAuth()), script)
p50 = {"bare": [], "nginx → bare": []}
for _ in range(3):
    for name, url in (("bare", direct), ("nginx → bare", proxied)):
        load.run_wrk(url, script, 1, 1)
        result = load.run_wrk(url, script, 1, 3, id_offset=10**12)
        if result["status"] or result["timeout"]:
            sys.exit(f"proxy_floor: {name} answered errors: {result}")
        p50[name].append(result["p50_us"])
median = {name: sorted(v)[1] for name, v in p50.items()}
print("| path, 2026-07-28 echo, c = 1 | p50 µs (median of 3 × 3 s) |\n|---|---:|")
for name, value in median.items():
    print(f"| {name} | {value} |")
print(f"| nginx's hop | +{median['nginx → bare'] - median['bare']} |")
PY
