#!/usr/bin/env python3
"""Memory per idle user: RSS of `bench-server` before and after N users each make contact.

`bench/load.sh --idle-memory` builds the server and calls this (stdlib only). For each era and
mode it starts a fresh server, reads its RSS, lets N users (`user-0` … `user-N-1`, each with
its own JWT in the authenticating modes) make contact over keep-alive connections with bounded
concurrency, leaves them idle, reads RSS again and reports (after − before) / N. Then every
user calls again (in its session, if it has one), and the calls not answered are counted.

- 2025-11-25: each user opens one session (`initialize` + `notifications/initialized`) and
  keeps it. This is the issue's "10k users holding one session each". In the wrapped modes
  the idle sessions hibernate (after BENCH_IDLE_HIBERNATE_MS, 2000 here; 60 s by default),
  and the calls after idling restore them.
- 2026-07-28: each user makes one stateless `tools/call`; there is no session to keep, so what
  stays is the user's idle instance (wrapped) or nothing at all (bare).

`bare` serves everyone from one shared handler with no auth, so its number is what rmcp itself
keeps per session; `wrapped` minus `bare` is what mcp-auth adds per user (its instance, pool
entry, rate-limiter bucket and session binding).

bench-server runs on jemalloc, whose background thread hands pages back to the kernel one second
after they empty, so that RSS shows what the server holds, not pages kept for reuse after the
burst of contacts; it writes its heap in use (jemalloc `stats.allocated`) every 0.5 s.

Knobs: BENCH_IDLE_USERS (10000), BENCH_IDLE_CONCURRENCY (32), BENCH_IDLE_HIBERNATE_MS (2000), BENCH_IDLE_MODES
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
import tempfile
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
    ECHO_TEXT,
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

# `wrapped*`: sessions idle this long hibernate (the library's default is 60 s; shorter here so
# that a run need not wait). BENCH_IDLE_HIBERNATE_MS overrides it.
HIBERNATE_MS = int(os.environ.get("BENCH_IDLE_HIBERNATE_MS", "2000"))


def keep_session(request: Request, headers: dict[str, str]) -> dict[str, str]:
    """2025-11-25: opens a session and keeps it (never deleted); the headers naming it."""
    return open_session(request, headers)


def call_once(request: Request, headers: dict[str, str]) -> dict[str, str]:
    """2026-07-28: one stateless `tools/call`; nothing but the user's instance stays."""
    headers = {**headers, **STATELESS_HEADERS}
    status, _, body = request(headers, echo_call(STATELESS_META))
    if status != 200:
        raise RuntimeError(f"tools/call gave {status}: {body[:200]!r}")
    return headers


def come_back(request: Request, headers: dict[str, str]) -> dict[str, str]:
    """A user's next call, with the headers of its contact (its session, if any): it must be
    answered, whether or not its session hibernated meanwhile."""
    meta = STATELESS_META if headers.get("MCP-Protocol-Version") == MODERN_VERSION else None
    status, _, body = request(headers, echo_call(meta))
    if status != 200 or ECHO_TEXT.encode() not in body:
        raise RuntimeError(f"tools/call after idling gave {status}: {body[:200]!r}")
    return headers


CONTACT: dict[str, Callable[[Request, dict[str, str]], dict[str, str]]] = {
    LEGACY_VERSION: keep_session,
    MODERN_VERSION: call_once,
}


def make_contact(
    server: Server,
    users: list[dict[str, str]],
    contact: Callable[[Request, dict[str, str]], dict[str, str]],
    concurrency: int,
) -> list[str]:
    """Every user (`user-0` … `user-N-1`, each by the headers in `users`) makes `contact`,
    whose returned headers replace theirs; returns the error messages."""
    parsed = urllib.parse.urlsplit(server.url)
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
        for i in range(w, len(users), concurrency):
            try:
                users[i] = contact(request, users[i])
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


def settle(server: Server, heap_file: Path, seconds: float = 1.0) -> tuple[int, int]:
    """RSS and heap in use (KiB) after `seconds` (the server reports its heap every 0.5 s)."""
    time.sleep(seconds)
    return server.rss_kb(), int(heap_file.read_text()) // 1024


def user_headers(server: Server, secret: str | None, users: int) -> list[dict[str, str]]:
    """The headers of each user's first request: its own JWT, where the mode checks one."""
    out = []
    for i in range(users):
        headers = dict(BASE_HEADERS)
        if secret is not None:
            headers["Authorization"] = f"Bearer {mint_jwt(secret, f'user-{i}', server.url)}"
        out.append(headers)
    return out


def run_mode(server_bin: str, mode: str, era: str, users: int, concurrency: int) -> dict:
    needs_token = mode != "bare"
    secret = secrets.token_hex(32)
    # The wrapped modes hibernate sessions after HIBERNATE_MS.
    heap_dir = tempfile.TemporaryDirectory(prefix="idle-heap-")
    heap_file = Path(heap_dir.name) / "heap"
    command = [server_bin, "--mode", mode, "--heap-every-ms", "500", "--heap-file", str(heap_file)]
    if mode.startswith("wrapped"):
        command += ["--hibernate-after-ms", str(HIBERNATE_MS)]
    contender = Contender(mode, command, needs_token, None, env={"BENCH_JWT_SECRET": secret})
    server = Server(contender)
    try:
        before, heap_before = settle(server, heap_file)
        headers = user_headers(server, secret if needs_token else None, users)
        t0 = time.monotonic()
        errors = make_contact(server, headers, CONTACT[era], concurrency)
        elapsed = time.monotonic() - t0
        # Past the hibernation time, one sweep (a quarter of it) and jemalloc's 1 s decay.
        after, heap_after = settle(server, heap_file, HIBERNATE_MS / 1000 * 1.5 + 1.0)
        peak = server.peak_rss_kb()
        t0 = time.monotonic()
        back_errors = make_contact(server, headers, come_back, concurrency)
        back_seconds = time.monotonic() - t0
    finally:
        server.stop()
        heap_dir.cleanup()
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
        "heap_before_kb": heap_before,
        "heap_after_kb": heap_after,
        "heap_kb_per_user": (heap_after - heap_before) / max(idle, 1),
        "contact_seconds": elapsed,
        "back_errors": len(back_errors),
        "first_back_errors": back_errors[:5],
        "back_seconds": back_seconds,
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
        f"start and {report['hibernate_ms'] / 1000 * 1.5 + 1:.0f} s after the last user (wrapped sessions hibernate "
        f"after {report['hibernate_ms'] / 1000:.0f} s here; every server runs on jemalloc, which hands "
        "emptied pages back after 1 s). Then every user calls again, in its session: \"back\" counts those not answered.",
        "",
        "| era | each user | mode | idle users | RSS before MB | RSS after MB | KB per idle user (RSS) | heap in use, KB per idle user | target (< 10 KB) | errors | back: errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in report["modes"]:
        target = "(baseline)"
        if r["mode"] != "bare":
            rss_met, heap_met = r["kb_per_user"] < TARGET_KB, r["heap_kb_per_user"] < TARGET_KB
            target = "met" if rss_met else "met in heap, **missed** in RSS" if heap_met else "**missed**"
        out.append(
            f"| {r['era']} | {WHAT_STAYS[r['era']]} | {r['mode']} | {r['idle_users']:,} | "
            f"{r['rss_before_kb'] / 1024:.1f} | {r['rss_after_kb'] / 1024:.1f} | "
            f"{r['kb_per_user']:.2f} | {r['heap_kb_per_user']:.2f} | {target} | {r['errors']} | {r['back_errors']} |"
        )
    bare = {r["era"]: r for r in report["modes"] if r["mode"] == "bare"}
    for r in report["modes"]:
        if r["mode"] != "bare" and r["era"] in bare:
            out.append("")
            out.append(
                f"{r['era']}, {r['mode']} − bare: {r['kb_per_user'] - bare[r['era']]['kb_per_user']:+.2f} KB of RSS, "
                f"{r['heap_kb_per_user'] - bare[r['era']]['heap_kb_per_user']:+.2f} KB of heap per user."
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
                f"{r['kb_per_user']:.2f} KB per user (heap {r['heap_kb_per_user']:.2f}), errors {r['errors']}, "
                f"back {r['back_errors']}",
                flush=True,
            )
            for e in r["first_errors"] + r["first_back_errors"]:
                print(f"  {e}", flush=True)
            results.append(r)
    report = {
        "started": started,
        "users": users,
        "concurrency": concurrency,
        "hibernate_ms": HIBERNATE_MS,
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
    return 0 if all(r["errors"] == 0 and r["back_errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
