"""The cluster test's shared-state checks (scripts/cluster_test.py runs them): one real
redis-server that every replica's `[redis]` names, and

- a per-user limit shared by the 3 replicas: requests spread over all of them get one budget,
  within 10% of what a single limiter would allow;
- `mcp-auth invalidate` on the command line: the user's instance is dropped on all 3 replicas
  within 1 s, a bystander keeps theirs;
- Redis killed: the `fail_mode = "closed"` mount answers 503 + Retry-After, the other mount
  still serves, every `/ready` turns 503 while `/health` stays 200; Redis restarted: readiness,
  the shared limit, HAProxy's view and revocations all recover by themselves.

The helpers of cluster_test.py (check, mint, stateless_call, ...) come in as `t`, the running
module: this file holds the checks only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time

# The mount whose limit lives in Redis; refuses (503) while Redis is down.
LIMITED = "/limited"
PER_SECOND = 20
BURST = 40
# How long the shared-limit run sends requests.
LIMIT_SECONDS = 4.0
# The acceptance bound of a revocation reaching every replica.
REVOCATION_BOUND = 1.0


def replica_config(binary: str, n: int, redis_url: str) -> str:
    """What each replica's config adds: `[redis]`, and a second mount with a shared limit."""
    return f"""
[[servers]]
name = "limited"
path = "{LIMITED}"
command = {json.dumps(binary)}
args = ["demo", "--stdio"]
env = {{ MCP_USER_ID = "{{user_id}}@r{n}" }}

[servers.rate_limit]
per_second = {PER_SECOND}
burst = {BURST}
shared = true
fail_mode = "closed"

[redis]
url = "{redis_url}"
key_prefix = "cluster-test:"
# Not the 50ms default: 6 senders, 3 replicas, HAProxy and Redis share 2 cores here, and a check
# Redis answers later than this is refused (fail closed), which the shared-limit run counts.
timeout = "250ms"
"""


class Redis:
    """redis-server on a loopback port, killable and restartable on that port."""

    def __init__(self, t, procs, binary: str, work: str):
        self.t, self.procs, self.binary, self.work = t, procs, binary, work
        self.port = t.free_port()
        self.log = open(os.path.join(work, "redis.log"), "ab")
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        self.proc = self.procs.start(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", self.work],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        self.t.wait_for("redis-server answering PING", self.ping, 20)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")


def get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    except OSError as error:
        return 0, {}, f"{type(error).__name__}: {error}"
    finally:
        conn.close()


def check_shared_limit(t, replicas) -> None:
    """Two senders per replica, as fast as they go, for LIMIT_SECONDS: the user's allowed
    requests are what one GCRA limiter allows (burst + rate x time), within 10%; per-replica
    limiters would allow 3 times that."""
    token = t.mint("limited-user")
    stop_at = time.monotonic() + LIMIT_SECONDS
    lock = threading.Lock()
    allowed = {r.name: 0 for r in replicas}
    other: list[str] = []
    times: list[float] = []

    def send(replica):
        while time.monotonic() < stop_at:
            status, _, body = get(replica.port, f"{LIMITED}/progress/stats", token)
            with lock:
                times.append(time.monotonic())
                if status == 200:
                    allowed[replica.name] += 1
                elif status != 429:
                    other.append(f"{replica.name}: {status} {body[:100]}")

    threads = [threading.Thread(target=send, args=(r,)) for r in replicas for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = max(times) - min(times)
    total = sum(allowed.values())
    expected = BURST + PER_SECOND * elapsed
    t.check(not other and abs(total - expected) <= 0.1 * expected and all(allowed.values()),
            f"a per-user limit shared in Redis holds across {len(replicas)} replicas: {total} allowed of "
            f"{len(times)} sent in {elapsed:.1f} s, one limiter allows {expected:.0f} (burst {BURST} + "
            f"{PER_SECOND}/s), off by {100 * (total - expected) / expected:+.1f}% (bound 10%); per replica "
            f"{allowed}", "; ".join(other[:3]))


def check_revocation(t, binary: str, config: str, replicas, label: str) -> None:
    """A user and a bystander each leave a note in their instance on every replica;
    `mcp-auth invalidate` revokes the user: every replica drops their instance (their notes
    are gone) within REVOCATION_BOUND, and the bystander's notes stay."""
    user, bystander = f"revoked-{label}", f"bystander-{label}"
    tokens = {user: t.mint(user), bystander: t.mint(bystander)}
    for r in replicas:
        for who in (user, bystander):
            reply = t.stateless_call(r.port, tokens[who], "notes_add", {"text": "kept"})
            if reply.text() != "note 1 saved":
                t.check(False, f"revocation ({label}): a note left on {r.name}", repr(reply))
                return
    took: dict[str, float] = {}

    def watch(replica, started):
        deadline = started + 10
        while time.monotonic() < deadline:
            if t.stateless_call(replica.port, tokens[user], "notes_list").text() == "no notes":
                took[replica.name] = time.monotonic() - started
                return
            time.sleep(0.01)

    started = time.monotonic()
    watchers = [threading.Thread(target=watch, args=(r, started)) for r in replicas]
    for watcher in watchers:
        watcher.start()
    out = subprocess.run([binary, "invalidate", "--config", config, user], capture_output=True, text=True)
    recorded = time.monotonic() - started
    for watcher in watchers:
        watcher.join()
    kept = {r.name: t.stateless_call(r.port, tokens[bystander], "notes_list").text() for r in replicas}
    worst = max(took.values(), default=float("inf"))
    t.check(out.returncode == 0 and len(took) == len(replicas) and worst <= REVOCATION_BOUND,
            f"a revocation {label} reaches all {len(replicas)} replicas within {REVOCATION_BOUND:.0f} s: "
            f"recorded by `mcp-auth invalidate` after {1000 * recorded:.0f} ms (process start included), "
            f"each replica's instance gone after {', '.join(f'{k} {1000 * v:.0f} ms' for k, v in sorted(took.items()))}",
            out.stdout + out.stderr)
    t.check(all(text == "kept" for text in kept.values()),
            f"a revocation {label} leaves other users' instances alone", repr(kept))


def check_redis_outage(t, redis: Redis, hap, replicas, binary: str, config: str) -> None:
    """Redis killed, then restarted on the same port."""
    token = t.mint("outage-user")
    first = replicas[0]
    redis.kill()
    refused = t.wait_for("a 503 from the fail-closed mount",
                         lambda: (r := get(first.port, f"{LIMITED}/progress/stats", token))[0] == 503 and r, 10)
    status, headers, body = refused
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = None
    t.check(headers.get("retry-after") == "1" and code == -32000,
            "Redis down: the fail_mode = \"closed\" mount answers 503, Retry-After: 1, JSON-RPC -32000",
            f"{status} {headers} {body[:200]}")
    served = t.stateless_call(first.port, token, "whoami")
    t.check(served.status == 200 and served.text() == f"outage-user@{first.name}",
            "Redis down: the mount without a shared limit still serves", repr(served))
    not_ready = {r.name: t.wait_for(f"{r.name} not ready", lambda r=r: get(r.port, f"{t.MOUNT}/ready")[0] == 503, 10)
                 for r in replicas}
    health = {r.name: get(r.port, f"{t.MOUNT}/health")[0] for r in replicas}
    t.check(all(not_ready.values()) and set(health.values()) == {200},
            "Redis down: every replica's /ready answers 503 (the balancer stops sending), /health stays 200",
            repr(health))

    down_for = time.monotonic()
    redis.start()
    t.wait_for("every replica ready again", lambda: all(get(r.port, f"{t.MOUNT}/ready")[0] == 200 for r in replicas), 30)
    t.wait_for("the fail-closed mount serving again",
               lambda: get(first.port, f"{LIMITED}/progress/stats", token)[0] == 200, 30)
    hap.wait_status({r.name: "UP" for r in replicas}, timeout=30)
    t.check(True, f"Redis restarted: every replica ready, the shared limit answering and HAProxy "
                  f"sending to all {len(replicas)} again after {time.monotonic() - down_for:.1f} s")
    check_shared_limit(t, replicas)
    check_revocation(t, binary, config, replicas, "after Redis restarted")
