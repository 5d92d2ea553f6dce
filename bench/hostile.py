#!/usr/bin/env python3
"""Attacks on a release `mcp-auth demo`, measured from outside (docs/reliability.md, "Measured
against a release build"). Stdlib only; `scripts/hostile.sh` builds the binary and calls this.

  hostile.py unread     one user sends large `echo` calls and never reads the answers, for
                        HOSTILE_ATTACK_S (30 s); meanwhile other users call at a fixed rate.
                        Reports the server's RSS (before, peak, after the sockets close) and
                        the other users' p50/p99, quiet and under attack.
  hostile.py slowloris  HOSTILE_CONNECTIONS (20,000) connections that send half a request head
                        and stop, reopened as the server closes them; meanwhile a health check
                        and an authenticated call, each on a new connection, every 0.5 s.
                        Reports their latencies, the server's fds and RSS.

Env: HOSTILE_BIN (the mcp-auth binary).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import STATELESS_META, mint_jwt  # noqa: E402

HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "echo",
}


def env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def call_body(text: str) -> str:
    params = {"name": "echo", "arguments": {"text": text}, "_meta": STATELESS_META}
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})


class Demo:
    def __init__(self, binary: str):
        self.secret = secrets.token_hex(32)
        self.proc = subprocess.Popen(
            [binary, "demo", "--in-process", "--port", "0"],
            env={**os.environ, "MCP_AUTH_JWT_SECRET": self.secret, "RUST_LOG": "warn"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in self.proc.stdout:
            match = re.search(r"MCP endpoint: http://([\d.]+):(\d+)(/\S*)", line)
            if match:
                self.host, self.port, self.path = match.group(1), int(match.group(2)), match.group(3)
                self.url = f"http://{self.host}:{self.port}{self.path}"
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def token(self, user: str) -> str:
        return mint_jwt(self.secret, user, self.url)

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def timed(demo: Demo, method: str, path: str, body: str | None = None, headers: dict | None = None) -> tuple[float, int]:
    """One request on a new connection: (seconds, status; 0 when it failed)."""
    began = time.monotonic()
    conn = http.client.HTTPConnection(demo.host, demo.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return time.monotonic() - began, response.status
    except OSError:
        return time.monotonic() - began, 0
    finally:
        conn.close()


def timed_call(demo: Demo, token: str, text: str = "hi") -> tuple[float, int]:
    return timed(demo, "POST", demo.path, call_body(text), {**HEADERS, "Authorization": f"Bearer {token}"})


def timed_health(demo: Demo) -> tuple[float, int]:
    return timed(demo, "GET", f"{demo.path}/health")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Victims:
    """Other users calling at a fixed total rate; latencies per phase."""

    def __init__(self, demo: Demo, users: int = 20, rate: float = 40):
        self.demo, self.rate = demo, rate
        self.tokens = [demo.token(f"victim-{i}") for i in range(users)]
        self.phase = "quiet"
        self.latencies: dict[str, list[float]] = {}
        self.failures: dict[str, int] = {}
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._work, args=(i,), daemon=True) for i in range(4)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(15)

    def _work(self, worker: int) -> None:
        n = worker
        period = len(self.threads) / self.rate
        while not self.stopping.wait(period):
            took, status = timed_call(self.demo, self.tokens[n % len(self.tokens)])
            phase = self.phase
            if status == 200:
                self.latencies.setdefault(phase, []).append(took)
            else:
                self.failures[phase] = self.failures.get(phase, 0) + 1
            n += len(self.threads)


def unread() -> dict:
    demo = Demo(os.environ["HOSTILE_BIN"])
    quiet_s, attack_s = env("HOSTILE_QUIET_S", 20), env("HOSTILE_ATTACK_S", 30)
    text = "x" * int(env("HOSTILE_ANSWER_MIB", 3) * 1024 * 1024)
    body = call_body(text).encode()
    mallory = demo.token("mallory")
    head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    request = (
        f"POST {demo.path} HTTP/1.1\r\nHost: {demo.host}:{demo.port}\r\nAuthorization: Bearer {mallory}\r\n"
        f"{head}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    victims = Victims(demo)
    try:
        for _ in range(20):
            timed_call(demo, victims.tokens[0])  # warm up: instances and allocator
        rss_before = demo.rss_mib()
        victims.start()
        time.sleep(quiet_s)  # the quiet phase's length, not synchronisation
        victims.phase = "attack"
        statuses: dict[str, int] = {}
        held: list[socket.socket] = []
        peak = rss_before
        attack_end = time.monotonic() + attack_s
        while time.monotonic() < attack_end:
            sock = socket.create_connection((demo.host, demo.port))
            # A tiny receive buffer: the kernel takes as little of each answer as it can.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                sock.sendall(request)
            except OSError:
                pass  # refused before the body was read: the answer is still there to read
            try:
                sock.settimeout(10)
                status = sock.recv(12).decode(errors="replace")[9:12] or "closed"
            except OSError:
                status = "reset"
            statuses[status] = statuses.get(status, 0) + 1
            if status == "200":
                held.append(sock)  # never read again
            else:
                sock.close()
            peak = max(peak, demo.rss_mib())
        victims.phase = "after"
        peak = max(peak, demo.rss_mib())
        rss_attack_end = demo.rss_mib()
        fds_held = demo.fds()
        for sock in held:
            sock.close()
        # Measure once the server has let go of the held connections (its fds are back down),
        # or after 10 s at most.
        give_up = time.monotonic() + 10
        while demo.fds() > fds_held - len(held) + 5 and time.monotonic() < give_up:
            time.sleep(0.05)
        rss_after = demo.rss_mib()
        victims.stop()
        quiet, attack = victims.latencies.get("quiet", []), victims.latencies.get("attack", [])
        return {
            "answer_mib": env("HOSTILE_ANSWER_MIB", 3),
            "attack_s": attack_s,
            "attacker_statuses": statuses,
            "held_unread": len(held),
            "rss_before_mib": round(rss_before, 1),
            "rss_peak_mib": round(peak, 1),
            "rss_growth_mib": round(peak - rss_before, 1),
            "rss_at_attack_end_mib": round(rss_attack_end, 1),
            "rss_after_close_mib": round(rss_after, 1),
            "victim_quiet_p50_ms": round(pct(quiet, 0.5) * 1000, 2),
            "victim_quiet_p99_ms": round(pct(quiet, 0.99) * 1000, 2),
            "victim_attack_p50_ms": round(pct(attack, 0.5) * 1000, 2),
            "victim_attack_p99_ms": round(pct(attack, 0.99) * 1000, 2),
            "victim_calls": {"quiet": len(quiet), "attack": len(attack)},
            "victim_failures": victims.failures,
        }
    finally:
        demo.stop()


PARTIAL_HEAD = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applica"


def slowloris_worker(host: str, port: int, count: int, seconds: float, opened: list) -> None:
    """Holds `count` half-sent request heads open, reopening each one the server closes."""
    selector = selectors.DefaultSelector()

    def open_one() -> None:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(PARTIAL_HEAD)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            opened[0] += 1
        except OSError:
            opened[1] += 1

    for _ in range(count):
        open_one()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in selector.select(timeout=0.2):
            selector.unregister(key.fileobj)
            key.fileobj.close()
            open_one()
    for key in list(selector.get_map().values()):
        key.fileobj.close()


def slowloris() -> dict:
    demo = Demo(os.environ["HOSTILE_BIN"])
    total, attack_s = int(env("HOSTILE_CONNECTIONS", 20000)), env("HOSTILE_ATTACK_S", 30)
    token = demo.token("alice")
    try:
        quiet_health = [timed_health(demo)[0] for _ in range(10)]
        quiet_call = [timed_call(demo, token)[0] for _ in range(10)]
        rss_before, fds_before = demo.rss_mib(), demo.fds()
        # Two processes: each has its own descriptor limit.
        per_process = total // 2
        code = (
            "import sys; sys.path.insert(0, %r); from hostile import slowloris_worker; "
            "o=[0,0]; slowloris_worker(%r, %d, %d, %f, o); print(o[0], o[1])"
        ) % (str(Path(__file__).resolve().parent), demo.host, demo.port, per_process, attack_s)
        attackers = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        time.sleep(min(10.0, attack_s / 3))  # let the attack build up before measuring
        health, calls, fds, rss = [], [], [], []
        while all(a.poll() is None for a in attackers):
            took, status = timed_health(demo)
            health.append((took, status))
            took, status = timed_call(demo, token)
            calls.append((took, status))
            fds.append(demo.fds())
            rss.append(demo.rss_mib())
            time.sleep(0.5)  # the probing period
        opened = [a.communicate()[0].split() for a in attackers]
        ok = lambda samples: [t for t, s in samples if s == 200]  # noqa: E731
        return {
            "connections": total,
            "attack_s": attack_s,
            "attacker_connections_opened": sum(int(o[0]) for o in opened),
            "attacker_connect_failures": sum(int(o[1]) for o in opened),
            "quiet_health_max_ms": round(max(quiet_health) * 1000, 2),
            "quiet_call_max_ms": round(max(quiet_call) * 1000, 2),
            "probes": len(health),
            "health_ok": len(ok(health)),
            "health_max_ms": round(max(ok(health), default=0) * 1000, 1),
            "health_p50_ms": round(pct(ok(health), 0.5) * 1000, 1),
            "call_ok": len(ok(calls)),
            "call_max_ms": round(max(ok(calls), default=0) * 1000, 1),
            "call_p50_ms": round(pct(ok(calls), 0.5) * 1000, 1),
            "failed_statuses": sorted({s for _, s in health + calls if s != 200}),
            "server_fds_before": fds_before,
            "server_fds_max": max(fds, default=0),
            "rss_before_mib": round(rss_before, 1),
            "rss_max_mib": round(max(rss, default=0), 1),
        }
    finally:
        demo.stop()


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in ("unread", "slowloris"):
        print(__doc__, file=sys.stderr)
        return 2
    result = unread() if which == "unread" else slowloris()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
