#!/usr/bin/env python3
"""Where one contender's server time goes, per request (stdlib only; run bench/load.sh first).

    python3 bench/profile.py wrapped                      # callgrind: instructions per request
    python3 bench/profile.py wrapped --tool perf          # perf: CPU samples per layer
    python3 bench/profile.py bare --era 2025-11-25 -c 16

Both put the contender under the same wrk load as a benchmark run.

- `callgrind` (Debian `valgrind`) counts instructions, so the numbers do not move with other
  work on the machine: the tool for "what does layer X cost". It prints instructions per
  request in total and, inclusive, for the functions that make up each layer. valgrind runs
  the server's threads one at a time, so lock contention and cache misses are not seen.
- `perf` (Debian `linux-perf`) samples real CPU time with `--call-graph dwarf` (software
  cpu-clock: fine in a VM without hardware counters) and assigns each sample to the innermost
  frame that names a layer; shares are scaled by the server CPU per request measured during
  the window. Sampling adds overhead and the machine's noise: compare layers, not totals.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import load  # noqa: E402

# perf: first match wins, frame by frame from the leaf up, so malloc, memcpy and the like count
# for the layer that called them.
LAYERS = [
    ("JWT verification (jsonwebtoken, claims → Principal)", r"jsonwebtoken|JwtAuthProvider|principal_from_claims|Principal::|aws_lc"),
    ("Principal drop", r"drop_in_place<mcp_auth::auth::principal::Principal"),
    ("mcp-auth rate limit (governor)", r"governor::|KeyedLimiter|rate_limit"),
    ("mcp-auth instance registry (moka)", r"moka::|InstanceRegistry|InstanceKey|InstanceInputs"),
    ("mcp-auth, other", r"mcp_auth::"),
    ("axum from_fn middleware", r"axum::middleware::from_fn"),
    ("axum handler (mcp-auth's streamable::handle, inlined)", r"axum::handler::Handler"),
    ("rmcp: handler and tool call", r"rmcp::handler|ToolRoute|CallToolHandler|bench_server"),
    ("rmcp: serve loop", r"rmcp::service"),
    ("rmcp: Streamable HTTP (parsing, header checks, sessions)", r"rmcp::"),
    ("axum routing", r"axum::"),
    ("hyper (HTTP/1)", r"hyper::"),
    ("tokio (scheduler, sockets, timers)", r"tokio::"),
]
LAYERS = [(name, re.compile(rx)) for name, rx in LAYERS]
OTHER = "other (libc, kernel, unknown)"

# callgrind: inclusive instructions of these functions (first match of each pattern, skipping
# recursive `'2` entries), per request.
CALLGRIND_FUNCTIONS = [
    ("HTTP connection (hyper dispatcher: all of a request but rmcp's serve task)", r"hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_catch \["),
    ("  axum from_fn middleware (wrapped: Host guard; jwt-layer: the JWT check)", r"from_fn::FromFn<F,S,I,\(T1,T2\)> as tower_service::Service<.*>>::call::\{\{closure\}\} \["),
    ("    mcp-auth streamable::handle (axum handler)", r"<F as axum::handler::Handler<\(M,T1,T2\),S>>::call::\{\{closure\}\} \["),
    ("      JwtAuthProvider::authenticate", r"JwtAuthProvider as mcp_auth::auth::AuthProvider>::authenticate::\{\{closure\}\} \["),
    ("        jsonwebtoken::decode", r"jsonwebtoken::decoding::decode \["),
    ("          verify_signature (HMAC)", r"jsonwebtoken::decoding::verify_signature \["),
    ("          new_verifier (HMAC key setup)", r"jsonwebtoken::crypto::aws_lc::new_verifier \["),
    ("        principal_from_claims", r"principal_from_claims \["),
    ("      JWT header parses (all callers)", r"jsonwebtoken::header::Header::from_encoded \["),
    ("      drop Principal", r"drop_in_place<mcp_auth::auth::principal::Principal> \["),
    ("      rate limit check", r"KeyedLimiter<K>>::check \[|KeyedLimiter<K>::check \["),
    ("      instance registry get (moka)", r"moka::future::base_cache::BaseCache<K,V,S>::get_with_hash::\{\{closure\}\} \["),
    ("      session lookups (has_session, rmcp's and mcp-auth's)", r"LocalSessionManager as rmcp::transport::streamable_http_server::session::SessionManager>::has_session"),
    ("    rmcp StreamableHttpService::handle", r"StreamableHttpService<S,M>::handle::\{\{closure\}\} \["),
    ("rmcp serve loop (a task of its own)", r"rmcp::service::serve_inner::\{\{closure\}\} \["),
]


def stacks(perf_script: str):
    """Frames of each sample in `perf script -F ip,sym` output, leaf first."""
    frames: list[str] = []
    for line in perf_script.splitlines():
        if line.startswith(("\t", " ")) and line.strip():
            parts = line.split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "")
        elif frames:
            yield frames
            frames = []
    if frames:
        yield frames


def layer_of(frames: list[str]) -> str:
    for sym in frames:
        for name, rx in LAYERS:
            if rx.search(sym):
                return name
    return OTHER


def start_wrk(server: load.Server, req: load.LoadRequest, tmp: Path, connections: int, seconds: float, id_offset: int):
    script = tmp / "load.lua"
    load.wrk_script(req, script)
    threads = max(1, min(load.env_int("BENCH_WRK_THREADS", 1), connections))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script), server.url, "--", str(id_offset)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def wrk_result(wrk: subprocess.Popen, timeout: float) -> dict:
    out, _ = wrk.communicate(timeout=timeout)
    return next(json.loads(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("BENCH_JSON "))


def profile_perf(server: load.Server, req: load.LoadRequest, tmp: Path, args) -> None:
    # wrk runs past both ends of the sampling window, so the window sees steady load.
    wrk_seconds = args.seconds + 3
    wrk = start_wrk(server, req, tmp, args.concurrency, wrk_seconds, 0)
    time.sleep(1.5)
    cpu_before = server.cpu_seconds()
    data = tmp / "perf.data"
    subprocess.run(
        ["perf", "record", "-q", "-F", str(args.freq), "--call-graph", "dwarf,16384", "-p", str(server.proc.pid), "-o", str(data), "--", "sleep", str(args.seconds)],
        check=True,
    )
    cpu = server.cpu_seconds() - cpu_before
    result = wrk_result(wrk, wrk_seconds + 60)
    rps = result["requests"] / (result["duration_us"] / 1e6)
    script = subprocess.run(["perf", "script", "-i", str(data), "-F", "ip,sym"], capture_output=True, text=True, check=True).stdout
    counts = collections.Counter(layer_of(frames) for frames in stacks(script))
    total = sum(counts.values())
    per_req = cpu * 1e6 / (rps * args.seconds)
    print(f"{args.contender}, era {args.era}, c={args.concurrency}: {rps:,.0f} req/s under perf, "
          f"{per_req:.1f} µs server CPU per request, {total} samples\n")
    print("| layer | share | µs/req |\n|---|---:|---:|")
    for name, n in counts.most_common():
        print(f"| {name} | {100 * n / total:.1f} % | {per_req * n / total:.1f} |")


def profile_strace(server: load.Server, req: load.LoadRequest, tmp: Path, args) -> None:
    """System calls per request (kernel time is not in callgrind's counts): `strace -c -f` on
    the server for the window, while wrk runs past both ends of it."""
    wrk_seconds = args.seconds + 3
    wrk = start_wrk(server, req, tmp, args.concurrency, wrk_seconds, 0)
    time.sleep(1.5)
    out = tmp / "strace.txt"
    strace = subprocess.Popen(["strace", "-c", "-f", "-o", str(out), "-p", str(server.proc.pid)], stderr=subprocess.DEVNULL)
    time.sleep(args.seconds)
    strace.send_signal(signal.SIGINT)
    strace.wait(timeout=60)
    result = wrk_result(wrk, wrk_seconds + 60)
    rps = result["requests"] / (result["duration_us"] / 1e6)
    n = rps * args.seconds
    print(f"{args.contender}, era {args.era}, c={args.concurrency}: ~{n:,.0f} requests under strace "
          f"({rps:,.0f} req/s)\n")
    print("| system call | calls per request |\n|---|---:|")
    total = 0.0
    for line in out.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
            calls = int(parts[3])
            total += calls / n
            if calls / n >= 0.01:
                print(f"| {parts[-1]} | {calls / n:.2f} |")
    print(f"| all | {total:.2f} |")


def profile_callgrind(server: load.Server, req: load.LoadRequest, out_file: Path, tmp: Path, args) -> None:
    pid = str(server.proc.pid)
    # Warm up (first-request allocations, the user's instance), then count only the window.
    wrk_result(start_wrk(server, req, tmp, args.concurrency, 3, 0), 120)
    subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
    result = wrk_result(start_wrk(server, req, tmp, args.concurrency, args.seconds, 10**12), args.seconds + 120)
    subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
    n = result["requests"]
    dump = next(p for p in sorted(out_file.parent.glob(out_file.name + ".*")) if not p.name.endswith(".0"))
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    if args.keep:
        shutil.copy(dump, args.keep)
    total = int(re.search(r"^totals:\s*(\d+)", dump.read_text(), re.M).group(1))
    print(f"{args.contender}, era {args.era}, c={args.concurrency}: {n} requests under callgrind "
          f"({result['status']} errors), {total / n:,.0f} instructions per request in all\n")
    print("| function (inclusive) | instructions/request |\n|---|---:|")
    for label, pattern in CALLGRIND_FUNCTIONS:
        rx = re.compile(pattern)
        line = next((l for l in annotated.splitlines() if rx.search(l) and "'2" not in l), None)
        if line:
            ir = int(line.split()[0].replace(",", ""))
            depth = (len(label) - len(label.lstrip())) // 2
            print(f"| {'· ' * depth}{label.strip()} | {ir / n:,.0f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("contender", help="bare, wrapped or jwt-layer")
    ap.add_argument("--tool", choices=["callgrind", "perf", "strace"], default="callgrind")
    ap.add_argument("--era", default="2026-07-28", choices=list(load.ERAS))
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10, help="measured window")
    ap.add_argument("--freq", type=int, default=499, help="perf: samples per second per CPU")
    ap.add_argument("--keep", help="callgrind: copy the dump here, for callgrind_annotate")
    ap.add_argument("--server", default=os.environ.get("BENCH_SERVER", "target/release/bench-server"))
    args = ap.parse_args()

    secret = os.environ.get("BENCH_JWT_SECRET") or secrets.token_hex(32)
    contender = next((c for c in load.contenders(args.server, secret) if c.name == args.contender), None)
    if contender is None:
        raise SystemExit(f"unknown contender {args.contender}")
    with tempfile.TemporaryDirectory(prefix="mcp-auth-profile-") as tmp:
        tmp = Path(tmp)
        out_file = tmp / "callgrind.out"
        if args.tool == "callgrind":
            contender.command = ["valgrind", "--quiet", "--tool=callgrind", f"--callgrind-out-file={out_file}", *contender.command]
        # valgrind needs a few seconds before the server even binds.
        server = load.Server(contender, startup_timeout_s=120)
        req = None
        try:
            req = load.ERAS[args.era](server)
            load.check_echo(server, req)
            if args.tool == "perf":
                profile_perf(server, req, tmp, args)
            elif args.tool == "strace":
                profile_strace(server, req, tmp, args)
            else:
                profile_callgrind(server, req, out_file, tmp, args)
        finally:
            if req is not None:
                req.teardown()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
