#!/usr/bin/env python3
"""Memory per idle user: RSS of `bench-server` before and after N users each make contact.

`bench/load.sh --idle-memory` builds the server and calls this (stdlib only). For each era and
mode it starts a fresh server, reads its RSS, lets N users (`user-0` … `user-N-1`, each with
its own JWT in the authenticating modes) make contact over keep-alive connections with bounded
concurrency, leaves them idle, reads RSS again and reports (after − before) / N.

- 2025-11-25: each user opens one session (`initialize` + `notifications/initialized`) and
  keeps it. This is the issue's "10k users holding one session each".
- 2026-07-28: each user makes one stateless `tools/call`; there is no session to keep, so what
  stays is the user's idle instance (wrapped) or nothing at all (bare).

`bare` serves everyone from one shared handler with no auth, so its number is what rmcp itself
keeps per session; `wrapped` minus `bare` is what mcp-auth adds per user (its instance, pool
entry, rate-limiter bucket and session binding).

Knobs: BENCH_IDLE_USERS (10000), BENCH_IDLE_CONCURRENCY (32), BENCH_IDLE_MODES
(wrapped,bare), BENCH_IDLE_ERAS (2025-11-25,2026-07-28), BENCH_OUT (bench/results:
idle-memory.md / idle-memory.json), BENCH_DOC (a markdown file whose generated section to
replace, e.g. docs/benchmarks.md).
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
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))
from load import (  # noqa: E402
    BASE_HEADERS,
    LEGACY_VERSION,
    HTTP_TIMEOUT_S,
    STATELESS_HEADERS,
    STATELESS_META,
    Contender,
    Request,
    Server,
    echo_call,
    env_int,
    env_list,
    machine_info,
    mint_jwt,
    open_session,
    write_doc_section,
)

MODERN_VERSION = "2026-07-28"

TARGET_KB = 10


def keep_session(request: Request, headers: dict[str, str]) -> None:
    """2025-11-25: opens a session and keeps it (never deleted)."""
    open_session(request, headers)


def call_once(request: Request, headers: dict[str, str]) -> None:
    """2026-07-28: one stateless `tools/call`; nothing but the user's instance stays."""
    status, _, body = request({**headers, **STATELESS_HEADERS}, echo_call(STATELESS_META))
    if status != 200:
        raise RuntimeError(f"tools/call gave {status}: {body[:200]!r}")


CONTACT: dict[str, Callable[[Request, dict[str, str]], None]] = {
    LEGACY_VERSION: keep_session,
    MODERN_VERSION: call_once,
}


def make_contact(server: Server, secret: str | None, era: str, users: int, concurrency: int) -> list[str]:
    """Every user (`user-0` … `user-N-1`) makes contact in `era`; returns the error messages."""
    parsed = urllib.parse.urlsplit(server.url)
    contact = CONTACT[era]
    errors: list[str] = []
    lock = threading.Lock()
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
                contact(request, headers)
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
    # Sessions and instances outlive the connections (they end on DELETE or idle timeout).
    for conn in conns:
        conn.close()
    return errors


def settle(server: Server, seconds: float = 1.0) -> int:
    time.sleep(seconds)
    return server.rss_kb()


def run_mode(server_bin: str, mode: str, era: str, users: int, concurrency: int) -> dict:
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
        errors = make_contact(server, secret if needs_token else None, era, users, concurrency)
        elapsed = time.monotonic() - t0
        after = settle(server, 2.0)
        peak = server.peak_rss_kb()
    finally:
        server.stop()
    idle = users - len(errors)
    return {
        "mode": mode,
        "era": era,
        "users": users,
        "idle_users": idle,
        "errors": len(errors),
        "first_errors": errors[:5],
        "rss_before_kb": before,
        "rss_after_kb": after,
        "peak_rss_kb": peak,
        "kb_per_user": (after - before) / max(idle, 1),
        "contact_seconds": elapsed,
    }


WHAT_STAYS = {
    LEGACY_VERSION: "one session kept (initialize + notifications/initialized)",
    MODERN_VERSION: "one stateless tools/call made, no session",
}


def render(report: dict) -> str:
    m = report["machine"]
    out = [
        f"Run {report['started']} · {m['nproc']} cores, {m['cpu_model']} · {m['rustc']} · rmcp {m['rmcp']}",
        f"{report['users']} users, {report['concurrency']} keep-alive connections; RSS (VmRSS) read 1 s after "
        "start and 2 s after the last user.",
        "",
        "| era | each user | mode | idle users | RSS before MB | RSS after MB | KB per idle user | target (< 10 KB) | errors |",
        "|---|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in report["modes"]:
        target = ("met" if r["kb_per_user"] < TARGET_KB else "**missed**") if r["mode"] != "bare" else "(baseline)"
        out.append(
            f"| {r['era']} | {WHAT_STAYS[r['era']]} | {r['mode']} | {r['idle_users']:,} | "
            f"{r['rss_before_kb'] / 1024:.1f} | {r['rss_after_kb'] / 1024:.1f} | "
            f"{r['kb_per_user']:.2f} | {target} | {r['errors']} |"
        )
    bare = {r["era"]: r for r in report["modes"] if r["mode"] == "bare"}
    for r in report["modes"]:
        if r["mode"] != "bare" and r["era"] in bare:
            out.append("")
            out.append(
                f"{r['era']}, {r['mode']} − bare: {r['kb_per_user'] - bare[r['era']]['kb_per_user']:+.2f} KB per "
                "user (what mcp-auth adds on top of rmcp)."
            )
    return "\n".join(out) + "\n"


def main() -> int:
    server_bin = sys.argv[1] if len(sys.argv) > 1 else "target/release/bench-server"
    out_dir = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "results"))
    users = env_int("BENCH_IDLE_USERS", 10_000)
    concurrency = env_int("BENCH_IDLE_CONCURRENCY", 32)
    modes = env_list("BENCH_IDLE_MODES", "wrapped,bare")
    eras = env_list("BENCH_IDLE_ERAS", f"{LEGACY_VERSION},{MODERN_VERSION}")
    unknown = [era for era in eras if era not in CONTACT]
    if unknown:
        print(f"unknown era(s) {unknown}; known: {list(CONTACT)}", file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = []
    for era in eras:
        for mode in modes:
            r = run_mode(server_bin, mode, era, users, concurrency)
            print(
                f"{era} {mode}: {r['idle_users']:,} users in {r['contact_seconds']:.1f} s, RSS "
                f"{r['rss_before_kb'] / 1024:.1f} → {r['rss_after_kb'] / 1024:.1f} MB, "
                f"{r['kb_per_user']:.2f} KB per user, errors {r['errors']}",
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
    written = [out_dir / "idle-memory.md", out_dir / "idle-memory.json"]
    if os.environ.get("BENCH_DOC"):
        write_doc_section(Path(os.environ["BENCH_DOC"]), "bench/idle_memory.py", text)
        written.append(Path(os.environ["BENCH_DOC"]))
    print()
    print(text)
    print(f"written: {', '.join(map(str, written))}")
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
