#!/usr/bin/env python3
"""Soak run: constant load on a release `mcp-auth demo` for minutes, sampling its resources.

`scripts/soak.sh` builds the binary and calls this. Workers visit 1,000 users in turn at a fixed
rate; each visit is one whole client conversation in one of the three transports:

- 2026-07-28 stateless: one `tools/call echo` POST;
- 2025-11-25 Streamable HTTP: `initialize`, `notifications/initialized`, `tools/call`, `DELETE`;
- legacy HTTP+SSE (2024-11-05): `GET /sse`, then `initialize`, `notifications/initialized` and
  `tools/call` POSTed to the session's endpoint, answers read off the stream, stream closed.

Every 10 s it samples the server: RSS and open fds (from /proc), live tokio tasks, instances and
sessions (the demo's `--stats-interval` line), and the client side (visits, errors, p50/p99).
After a warm-up it checks: RSS grows < 5%, fds and tasks stay flat, 0 errors; once the load
stops, every session is gone. It prints a Markdown report and writes an SVG plot.

Stdlib only. Env: SOAK_DURATION_S (600), SOAK_WARMUP_S (180), SOAK_USERS (1000), SOAK_RATE
(visits/s, 60), SOAK_WORKERS (16), SOAK_SAMPLE_S (10), SOAK_BIN (the mcp-auth binary),
SOAK_REPORT (Markdown out), SOAK_PLOT (SVG out).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import INITIALIZE, INITIALIZED, STATELESS_META, echo_call, jsonrpc_messages, mint_jwt  # noqa: E402
from soak_plot import plot  # noqa: E402

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
TIMEOUT_S = 10
RSS_GROWTH_LIMIT = 0.05


def env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Server:
    """`mcp-auth demo --port 0 --stats-interval N`, its URL and its latest stats line."""

    def __init__(self, binary: str, secret: str, sample_s: int):
        self.proc = subprocess.Popen(
            [binary, "demo", "--in-process", "--port", "0", "--stats-interval", str(sample_s)],
            env={**os.environ, "MCP_AUTH_JWT_SECRET": secret, "RUST_LOG": "info,rmcp=warn"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        for line in self.proc.stdout:
            match = re.search(r"MCP endpoint: (\S+)", line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            raise RuntimeError("the demo printed no endpoint")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.stats: dict[str, int] = {}
        self.errors: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port, self.path = parsed.hostname, parsed.port, parsed.path

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            line = re.sub(r"\x1b\[[0-9;]*m", "", line)
            if " stats " in line or line.rstrip().endswith("stats"):
                self.stats = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
            elif " ERROR " in line or " WARN " in line:
                self.errors.append(line.strip())

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def threads(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"Threads:\s+(\d+)", status).group(1))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Visit:
    """One client conversation for `user`, on its own connections."""

    def __init__(self, server: Server, token: str):
        self.server = server
        self.auth = {"Authorization": f"Bearer {token}"}

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.server.host, self.server.port, timeout=TIMEOUT_S)

    def _post(self, conn, path: str, headers: dict, body: str | None, method: str = "POST"):
        conn.request(method, path, body=body, headers={**self.auth, **headers})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode(errors="replace")

    @staticmethod
    def _expect(what: str, status: int, want: int, body: str = "") -> None:
        if status != want:
            raise RuntimeError(f"{what}: {status} (want {want}) {body[:200]!r}")

    @staticmethod
    def _echoed(what: str, body: str) -> None:
        messages = jsonrpc_messages(body)
        text = messages and messages[-1].get("result", {}).get("content", [{}])[0].get("text")
        if text != "hello from bench":
            raise RuntimeError(f"{what}: unexpected answer {body[:200]!r}")

    def stateless(self) -> None:
        conn = self._conn()
        try:
            headers = {**JSON_HEADERS, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
            status, _, body = self._post(conn, self.server.path, headers, echo_call(STATELESS_META))
            self._expect("stateless call", status, 200, body)
            self._echoed("stateless call", body)
        finally:
            conn.close()

    def session(self) -> None:
        conn = self._conn()
        try:
            status, headers, body = self._post(conn, self.server.path, JSON_HEADERS, INITIALIZE)
            self._expect("initialize", status, 200, body)
            session = {**JSON_HEADERS, "Mcp-Session-Id": headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
            status, _, body = self._post(conn, self.server.path, session, INITIALIZED)
            self._expect("initialized", status, 202, body)
            status, _, body = self._post(conn, self.server.path, session, echo_call(None))
            self._expect("session call", status, 200, body)
            self._echoed("session call", body)
            status, _, body = self._post(conn, self.server.path, session, None, method="DELETE")
            self._expect("delete", status, 200, body)
        finally:
            conn.close()

    def legacy_sse(self) -> None:
        stream_conn, conn = self._conn(), self._conn()
        try:
            stream_conn.request("GET", f"{self.server.path}/sse", headers={**self.auth, "Accept": "text/event-stream"})
            stream = stream_conn.getresponse()
            self._expect("sse stream", stream.status, 200)
            endpoint = self._next_event(stream, "endpoint")
            post = {"Content-Type": "application/json"}
            for what, body, answered in (
                ("sse initialize", INITIALIZE, True),
                ("sse initialized", INITIALIZED, False),
                ("sse call", echo_call(None), True),
            ):
                status, _, text = self._post(conn, endpoint, post, body)
                self._expect(what, status, 202, text)
                if answered:
                    data = self._next_event(stream, "message")
                    if what == "sse call":
                        self._echoed(what, data)
        finally:
            conn.close()
            stream_conn.close()

    @staticmethod
    def _next_event(stream, name: str) -> str:
        event, data = "message", []
        while True:
            line = stream.readline().decode()
            if not line:
                raise RuntimeError(f"sse stream ended before a {name} event")
            line = line.rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                if event == name:
                    return "\n".join(data)
                event, data = "message", []


class Load:
    """Workers pacing visits at a fixed total rate over `users` users in turn."""

    KINDS = ("stateless", "stateless", "session", "session", "legacy_sse")

    def __init__(self, server: Server, secret: str, users: int, rate: float, workers: int):
        self.server, self.rate = server, rate
        self.tokens = [mint_jwt(secret, f"soak-user-{i:04d}", server.url) for i in range(users)]
        self.lock = threading.Lock()
        self.next_visit = 0
        self.visits = self.errors = 0
        self.latencies: list[float] = []
        self.error_samples: list[str] = []
        self.stopping = threading.Event()
        self.start = time.monotonic()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def run(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(TIMEOUT_S * 4)

    def take_window(self) -> tuple[int, int, list[float]]:
        with self.lock:
            window = (self.visits, self.errors, self.latencies)
            self.visits = self.errors = 0
            self.latencies = []
        return window

    def _work(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                n = self.next_visit
                self.next_visit += 1
            due = self.start + n / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self.stopping.wait(delay):
                return
            users = len(self.tokens)
            visit = Visit(self.server, self.tokens[n % users])
            # Each round over the users shifts the transports by one, so every user takes turns
            # with all three (with n % 5 alone, user i would always use the same one).
            kind = self.KINDS[(n + n // users) % len(self.KINDS)]
            began = time.monotonic()
            try:
                getattr(visit, kind)()
                ok = True
            except Exception as err:  # noqa: BLE001 — every failure is counted and reported
                ok = False
                message = f"{kind}: {type(err).__name__}: {err}"
            elapsed = time.monotonic() - began
            with self.lock:
                self.visits += 1
                if ok:
                    self.latencies.append(elapsed)
                else:
                    self.errors += 1
                    if len(self.error_samples) < 20:
                        self.error_samples.append(message)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    duration, warmup = env("SOAK_DURATION_S", 600), env("SOAK_WARMUP_S", 180)
    users, rate = int(env("SOAK_USERS", 1000)), env("SOAK_RATE", 60)
    workers, sample_s = int(env("SOAK_WORKERS", 16)), int(env("SOAK_SAMPLE_S", 10))
    binary = os.environ.get("SOAK_BIN", "target/release/mcp-auth")
    secret = secrets.token_hex(32)
    server = Server(binary, secret, sample_s)
    samples: list[dict] = []
    try:
        baseline = {"rss_kb": server.rss_kb(), "fds": server.fds()}
        load = Load(server, secret, users, rate, workers)
        load.run()
        began = time.monotonic()
        while time.monotonic() - began < duration:
            time.sleep(sample_s)  # the sampling period, not synchronisation
            visits, errors, latencies = load.take_window()
            sample = {
                "t": round(time.monotonic() - began),
                "rss_kb": server.rss_kb(),
                "fds": server.fds(),
                "threads": server.threads(),
                **{k: server.stats.get(k, -1) for k in ("tasks", "instances", "sessions", "legacy_sse_sessions")},
                "visits_per_s": round(visits / sample_s, 1),
                "errors": errors,
                "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            }
            samples.append(sample)
            print(json.dumps(sample), flush=True)
        load.stop()
        # Once the load is gone, its sessions must go too: legacy SSE ones when their streams
        # are found closed (at the next keep-alive), Streamable HTTP ones at once (DELETE).
        drained = None
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            time.sleep(1)  # polling with a deadline
            stats = server.stats
            if stats.get("sessions", -1) == 0 and stats.get("legacy_sse_sessions", -1) == 0:
                drained = {"t": round(time.monotonic() - began), "rss_kb": server.rss_kb(), "fds": server.fds(), **stats}
                break
    finally:
        server.stop()
    report = render(samples, baseline, drained, warmup, load, server, users, rate)
    print(report)
    if os.environ.get("SOAK_REPORT"):
        Path(os.environ["SOAK_REPORT"]).write_text(report)
    if os.environ.get("SOAK_PLOT"):
        Path(os.environ["SOAK_PLOT"]).write_text(plot(samples, warmup))
    return 0 if report_passes(samples, drained, warmup, load) else 1


def steady(samples: list[dict], warmup: float) -> list[dict]:
    return [s for s in samples if s["t"] > warmup]


def checks(samples: list[dict], drained: dict | None, warmup: float, load: Load) -> list[tuple[str, bool, str]]:
    after = steady(samples, warmup)
    if len(after) < 2:
        return [("enough samples after warm-up", False, f"{len(after)}")]
    first, last = after[0], after[-1]
    rss_growth = (max(s["rss_kb"] for s in after[-3:]) - first["rss_kb"]) / first["rss_kb"]
    fds = [s["fds"] for s in after]
    tasks = [s["tasks"] for s in after]
    errors = sum(s["errors"] for s in samples)
    # Flat: the last third of the run is no higher than the first third (plus in-flight noise:
    # a visit holds at most two connections and a few tasks per worker).
    third = max(1, len(after) // 3)
    slack = 2 * len(load.threads)
    fds_flat = max(fds[-third:]) <= max(fds[:third]) + slack
    tasks_flat = max(tasks[-third:]) <= max(tasks[:third]) + 4 * slack
    return [
        ("RSS growth after warm-up < 5%", rss_growth < RSS_GROWTH_LIMIT, f"{rss_growth * 100:+.1f}% ({first['rss_kb'] / 1024:.1f} → {last['rss_kb'] / 1024:.1f} MiB)"),
        ("fds flat", fds_flat, f"{min(fds)}–{max(fds)} (first third max {max(fds[:third])}, last third max {max(fds[-third:])})"),
        ("tasks flat", tasks_flat, f"{min(tasks)}–{max(tasks)} (first third max {max(tasks[:third])}, last third max {max(tasks[-third:])})"),
        ("0 errors", errors == 0, f"{errors}"),
        ("sessions drained after the load", drained is not None, "yes" if drained else "no: sessions left after 60 s"),
    ]


def report_passes(samples, drained, warmup, load) -> bool:
    return all(ok for _, ok, _ in checks(samples, drained, warmup, load))


def render(samples, baseline, drained, warmup, load, server, users, rate) -> str:
    lines = [
        f"Soak: {len(samples) * int(env('SOAK_SAMPLE_S', 10))} s, {users} users in turn, {rate:g} visits/s "
        f"({', '.join(sorted(set(Load.KINDS)))}), {len(load.threads)} workers; warm-up {warmup:g} s. "
        f"Idle server before the load: {baseline['rss_kb'] / 1024:.1f} MiB RSS, {baseline['fds']} fds.",
        "",
        "| check | result | figure |",
        "|---|---|---|",
    ]
    for name, ok, figure in checks(samples, drained, warmup, load):
        lines.append(f"| {name} | {'pass' if ok else 'FAIL'} | {figure} |")
    lines += ["", "| t (s) | RSS (MiB) | fds | threads | tasks | instances | sessions | legacy SSE | visits/s | errors | p50 (ms) | p99 (ms) |", "|---" * 12 + "|"]
    for s in samples:
        lines.append(
            f"| {s['t']} | {s['rss_kb'] / 1024:.1f} | {s['fds']} | {s['threads']} | {s['tasks']} | {s['instances']} | "
            f"{s['sessions']} | {s['legacy_sse_sessions']} | {s['visits_per_s']} | {s['errors']} | {s['p50_ms']} | {s['p99_ms']} |"
        )
    if drained:
        lines += ["", f"After the load: sessions 0 and legacy SSE sessions 0 at t={drained['t']} s; RSS {drained['rss_kb'] / 1024:.1f} MiB, {drained['fds']} fds, {drained.get('tasks')} tasks."]
    if load.error_samples:
        lines += ["", "Errors (first 20):", *[f"- {e}" for e in load.error_samples]]
    if server.errors:
        lines += ["", "Server WARN/ERROR lines (first 20):", *[f"- `{e[:200]}`" for e in server.errors[:20]]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
