#!/usr/bin/env python3
"""Memory per idle user: RSS of `bench-server` before and after N users open one session each.

`bench/load.sh --idle-memory` builds the server and calls this (stdlib only). For each mode
(default `wrapped`, then `bare` for comparison) it starts a fresh server, reads its RSS, opens
N legacy (2025-11-25) sessions — `initialize` + `notifications/initialized`, each with a
distinct user's JWT for the authenticating modes — over keep-alive connections with bounded
concurrency, leaves them idle, reads RSS again and reports (after − before) / N.

`bare` serves every session from one shared handler with no auth, so its number is what rmcp's
own session bookkeeping costs; `wrapped` minus `bare` is what mcp-auth adds per user (its
instance, pool entry, rate-limiter bucket and session binding).

Knobs: BENCH_IDLE_USERS (10000), BENCH_IDLE_CONCURRENCY (32), BENCH_IDLE_MODES
(wrapped,bare), BENCH_OUT (bench/results: idle-memory.md / idle-memory.json).
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load import (  # noqa: E402
    BASE_HEADERS,
    LEGACY_VERSION,
    HTTP_TIMEOUT_S,
    Contender,
    Server,
    env_int,
    env_list,
    machine_info,
    mint_jwt,
)

TARGET_KB = 10


def open_sessions(server: Server, secret: str | None, users: int, concurrency: int) -> list[str]:
    """Opens one session per user (`user-0` … `user-N-1`); returns the error messages."""
    parsed = urllib.parse.urlsplit(server.url)
    errors: list[str] = []
    lock = threading.Lock()
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcp-auth-bench-idle", "version": "1"},
        },
    }
    initialized = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    conns: list[http.client.HTTPConnection] = []

    def worker(w: int) -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=HTTP_TIMEOUT_S)
        with lock:
            conns.append(conn)

        def request(headers: dict[str, str], body: str):
            conn.request("POST", parsed.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()

        # Every user is handled by one worker: bounded concurrency, one connection each.
        for i in range(w, users, concurrency):
            headers = dict(BASE_HEADERS)
            if secret is not None:
                headers["Authorization"] = f"Bearer {mint_jwt(secret, f'user-{i}', server.url)}"
            try:
                status, resp_headers, body = request(headers, json.dumps(init))
                session = resp_headers.get("Mcp-Session-Id")
                if status != 200 or not session:
                    raise RuntimeError(f"initialize gave {status}: {body[:200]!r}")
                headers["Mcp-Session-Id"] = session
                headers["MCP-Protocol-Version"] = LEGACY_VERSION
                status, _, body = request(headers, initialized)
                if status != 202:
                    raise RuntimeError(f"notifications/initialized gave {status}: {body[:200]!r}")
            except Exception as e:  # noqa: BLE001 - counted and reported, the run goes on
                with lock:
                    errors.append(f"user-{i}: {e}")
                conn.close()  # reconnects on the next request

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        # Bounded: each request has its own timeout; this caps the whole phase too.
        t.join(timeout=600)
    # The sessions outlive the connections (they end on DELETE or the server's idle timeout).
    for conn in conns:
        conn.close()
    return errors


def settle(server: Server, seconds: float = 1.0) -> int:
    time.sleep(seconds)
    return server.rss_kb()


def run_mode(server_bin: str, mode: str, users: int, concurrency: int) -> dict:
    needs_token = mode != "bare"
    secret = secrets.token_hex(32)
    contender = Contender(
        mode,
        [server_bin, "--mode", mode],
        needs_token,
        None,
        env={"BENCH_JWT_SECRET": secret},
    )
    server = Server(contender)
    try:
        before = settle(server)
        t0 = time.monotonic()
        errors = open_sessions(server, secret if needs_token else None, users, concurrency)
        elapsed = time.monotonic() - t0
        after = settle(server, 2.0)
        peak = server.peak_rss_kb()
    finally:
        server.stop()
    opened = users - len(errors)
    return {
        "mode": mode,
        "users": users,
        "sessions_opened": opened,
        "errors": len(errors),
        "first_errors": errors[:5],
        "rss_before_kb": before,
        "rss_after_kb": after,
        "peak_rss_kb": peak,
        "kb_per_user": (after - before) / max(opened, 1),
        "open_seconds": elapsed,
    }


def render(report: dict) -> str:
    m = report["machine"]
    out = [
        f"Run {report['started']} · {m['nproc']} cores, {m['cpu_model']} · {m['rustc']} · rmcp {m['rmcp']}",
        f"{report['users']} users × one idle 2025-11-25 session each (initialize + notifications/initialized), "
        f"{report['concurrency']} keep-alive connections; RSS (VmRSS) read 1 s after start and 2 s after the last session.",
        "",
        "| mode | sessions | RSS before MB | RSS after MB | KB per idle user | target (< 10 KB) | errors |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in report["modes"]:
        target = ("met" if r["kb_per_user"] < TARGET_KB else "**missed**") if r["mode"] != "bare" else "(baseline)"
        out.append(
            f"| {r['mode']} | {r['sessions_opened']:,} | {r['rss_before_kb'] / 1024:.1f} | {r['rss_after_kb'] / 1024:.1f} | "
            f"{r['kb_per_user']:.2f} | {target} | {r['errors']} |"
        )
    by_mode = {r["mode"]: r for r in report["modes"]}
    if "bare" in by_mode:
        for r in report["modes"]:
            if r["mode"] != "bare":
                out.append("")
                out.append(
                    f"{r['mode']} − bare: {r['kb_per_user'] - by_mode['bare']['kb_per_user']:+.2f} KB per user "
                    f"(what mcp-auth adds on top of rmcp's own session)."
                )
    return "\n".join(out) + "\n"


def main() -> int:
    server_bin = sys.argv[1] if len(sys.argv) > 1 else "target/release/bench-server"
    out_dir = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))
    users = env_int("BENCH_IDLE_USERS", 10_000)
    concurrency = env_int("BENCH_IDLE_CONCURRENCY", 32)
    modes = env_list("BENCH_IDLE_MODES", "wrapped,bare")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = []
    for mode in modes:
        r = run_mode(server_bin, mode, users, concurrency)
        print(
            f"{mode}: {r['sessions_opened']:,} sessions in {r['open_seconds']:.1f} s, RSS {r['rss_before_kb'] / 1024:.1f} → "
            f"{r['rss_after_kb'] / 1024:.1f} MB, {r['kb_per_user']:.2f} KB per user, errors {r['errors']}",
            flush=True,
        )
        for e in r["first_errors"]:
            print(f"  {e}", flush=True)
        results.append(r)
    report = {
        "started": started,
        "users": users,
        "concurrency": concurrency,
        "machine": machine_info(),
        "modes": results,
    }
    text = render(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "idle-memory.md").write_text(text)
    (out_dir / "idle-memory.json").write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(text)
    print(f"written: {out_dir / 'idle-memory.md'}, {out_dir / 'idle-memory.json'}")
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
