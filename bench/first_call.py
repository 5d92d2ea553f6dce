"""Cold and warm first-call latency of a stdio server behind `mcp-auth serve` (stdlib only).

For each of N new users in turn, one 2026-07-28 `tools/call` (the user's first request: the
gateway starts, or takes from its warm pool, that user's child and completes the MCP handshake
with it before forwarding the call) is timed from the request to the complete answer. Run once
with `instances.warm_pool = 0` (cold: every first call waits for the child to boot) and once
with a warm pool (the child was started before the user came).

Users come PACE_S apart, so that a warm pool has refilled and its new child has booted before
the next user; the same pace is used for the cold run.

Usage: python3 bench/first_call.py MCP_AUTH NODE SERVER_MEMORY_JS
Env:   FIRST_CALL_USERS (10), FIRST_CALL_PACE_S (3), FIRST_CALL_WARM (2)
Prints one line per mode and a Markdown table.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import select
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse


def mint(secret: str, user: str, aud: str) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": user, "aud": aud, "iat": now, "exp": now + 3600}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def start(gateway: str, node: str, script: str, warm: int, tmp: str, secret: str):
    config = os.path.join(tmp, f"warm{warm}.toml")
    with open(config, "w") as f:
        f.write(f"""
[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"

[[servers]]
name = "memory"
path = "/mcp"
command = "{node}"
args = ["{script}"]
env = {{ MEMORY_FILE_PATH = "{tmp}/memory-warm{warm}.jsonl" }}

[servers.instances]
warm_pool = {warm}
""")
    proc = subprocess.Popen(
        [gateway, "serve", "--config", config, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MCP_AUTH_JWT_SECRET": secret, "RUST_LOG": "warn"},
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if " at " in line and "serving" in line:
                return proc, line.split(" at ", 1)[1].strip()
    proc.kill()
    raise SystemExit("the gateway printed no URL")


def first_call(url: str, token: str) -> float:
    parsed = urllib.parse.urlparse(url)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "read_graph", "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "first-call", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}}})
    headers = {
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call", "Mcp-Name": "read_graph",
    }
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    started = time.perf_counter()
    conn.request("POST", parsed.path, body, headers)
    response = conn.getresponse()
    text = response.read().decode()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200 or '"result"' not in text:
        raise SystemExit(f"first call failed ({response.status}): {text[:300]}")
    return elapsed * 1000


def main() -> int:
    gateway, node, script = sys.argv[1:4]
    users = int(os.environ.get("FIRST_CALL_USERS", 10))
    pace = float(os.environ.get("FIRST_CALL_PACE_S", 3))
    warm = int(os.environ.get("FIRST_CALL_WARM", 2))
    secret = secrets.token_hex(32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode, pool in (("cold", 0), ("warm", warm)):
            proc, url = start(gateway, node, script, pool, tmp, secret)
            try:
                time.sleep(pace)  # pacing, not synchronisation: a warm pool boots its children
                samples = []
                for i in range(users):
                    samples.append(first_call(url, mint(secret, f"{mode}-user-{i}", url)))
                    time.sleep(pace)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            samples.sort()
            p50 = statistics.median(samples)
            p90 = samples[min(len(samples) - 1, int(len(samples) * 0.9))]
            print(f"{mode} (warm_pool = {pool}): p50 {p50:.0f} ms, p90 {p90:.0f} ms, "
                  f"min {samples[0]:.0f} ms, max {samples[-1]:.0f} ms over {users} users")
            rows.append((mode, pool, p50, p90, samples[0], samples[-1]))
    print("\n| first call | warm_pool | p50 ms | p90 ms | min ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, pool, p50, p90, lo, hi in rows:
        print(f"| {mode} | {pool} | {p50:.0f} | {p90:.0f} | {lo:.0f} | {hi:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
