#!/usr/bin/env python3
"""Three `mcp-auth serve` replicas behind HAProxy (and nginx) on loopback, sharing one Redis:
user affinity, a shared rate limit, revocations, Redis killed and restarted (cluster_redis.py), a
replica killed, and the throughput of 1 vs 3 replicas. Run by scripts/cluster-test.sh, which
installs HAProxy/nginx/wrk and locates the binary; this file needs only Python's stdlib.

How a replica proves it served a request: each replica runs `mcp-auth demo --stdio` as its
per-user stdio child with `MCP_USER_ID = "{user_id}@rN"` (N its replica number), so the demo's
`whoami` tool answers `alice@r2` when replica 2's child for alice served it. The demo's
`notes_add`/`notes_list` keep notes in that child's memory, so they show whether a user's
instance stayed warm (same child) or was rebuilt (a new child, no notes).

Prints one `PASS: ...`/`FAIL: ...` line per check, a last line `N passed, M failed`; exits 1 if
any check failed, 2 if the cluster could not be set up.
"""

from __future__ import annotations

import argparse
import base64
import collections
import concurrent.futures
import hashlib
import hmac
import http.client
import itertools
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import cluster_redis

SECRET = "cluster-test-secret-that-is-at-least-32-bytes-long"
# Every replica accepts tokens for the one public URL the balancer serves (`[auth] audience`;
# in production all replicas share `server.public_url`, which gives the same audience).
AUDIENCE = "http://mcp.cluster.test/mcp"
MOUNT = "/mcp"
USERS = [f"user-{i:02d}" for i in range(20)]
REPLICAS = 3
SESSION_ERA = "2025-11-25"
STATELESS_ERA = "2026-07-28"
DRAIN_DELAY = "5s"

PASSED = 0
FAILED = 0


def log(msg: str) -> None:
    print(f"cluster-test: {msg}", file=sys.stderr, flush=True)


def check(ok: bool, what: str, detail: str = "") -> bool:
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS: {what}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""), flush=True)
    return ok


class SetupError(Exception):
    pass


def wait_for(what: str, predicate, timeout: float, interval: float = 0.1):
    """Polls `predicate` until it returns something truthy; SetupError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - polled until the deadline
            last_error = error
        time.sleep(interval)
    raise SetupError(f"{what}: not within {timeout:.0f} s" + (f" ({last_error})" if last_error else ""))


# --- tokens ------------------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(sub: str, lifetime: int = 3600) -> str:
    """An HS256 JWT for `sub`, distinct on every call (`jti`), as an identity provider mints."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": sub, "iat": now, "exp": now + lifetime, "aud": AUDIENCE, "jti": uuid.uuid4().hex}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    sig = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(sig)}"


# --- MCP over HTTP -----------------------------------------------------------------------------

# JSON-RPC ids, unique over the run: two requests in flight in one session must not share an
# id (the server could not tell their answers apart).
NEXT_ID = itertools.count(1)
# The longest a request may take, answer read to the end. Socket timeouts alone do not bound it:
# an SSE answer that never ends but carries keep-alives would read forever.
REQUEST_DEADLINE = 60.0


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: str, rid: int | None = None):
        self.status, self.headers, self.body, self.rid = status, headers, body, rid

    def answer(self, rid: int | None = None):
        """The JSON-RPC message answering `rid` (default: the request's), JSON or SSE."""
        rid = self.rid if rid is None else rid
        candidates = [self.body.strip()] + [
            line[5:].strip() for line in self.body.splitlines() if line.startswith("data:")
        ]
        for text in candidates:
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("id") == rid:
                return message
        return None

    def text(self, rid: int | None = None) -> str | None:
        message = self.answer(rid)
        try:
            return message["result"]["content"][0]["text"]
        except (TypeError, KeyError, IndexError):
            return None

    def __repr__(self) -> str:
        return f"HTTP {self.status} {self.body[:200]!r}"


def post(port: int, token: str, body: dict, headers: dict[str, str] | None = None) -> Reply:
    """One POST to 127.0.0.1:`port` on a new connection (so the balancer routes each afresh),
    its answer read within REQUEST_DEADLINE (else a Reply with status 0)."""
    deadline = time.monotonic() + REQUEST_DEADLINE
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        all_headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        all_headers.update(headers or {})
        conn.request("POST", MOUNT, body=json.dumps(body), headers=all_headers)
        response = conn.getresponse()
        chunks = []
        while chunk := response.read1(65536):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                return Reply(0, {}, f"no complete answer within {REQUEST_DEADLINE:.0f} s", body.get("id"))
        data = b"".join(chunks).decode("utf-8", "replace")
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, body.get("id"))
    except OSError as error:  # refused, reset, or 5 s without a byte
        return Reply(0, {}, f"{type(error).__name__}: {error}", body.get("id"))
    finally:
        conn.close()


def stateless_call(port: int, token: str, tool: str, args: dict | None = None) -> Reply:
    """A 2026-07-28 `tools/call`: no session, the era in `_meta` and the SEP-2243 headers."""
    body = {
        "jsonrpc": "2.0", "id": next(NEXT_ID), "method": "tools/call",
        "params": {"name": tool, "arguments": args or {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": STATELESS_ERA,
            "io.modelcontextprotocol/clientInfo": {"name": "cluster-test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    }
    return post(port, token, body, {
        "MCP-Protocol-Version": STATELESS_ERA, "Mcp-Method": "tools/call", "Mcp-Name": tool,
    })


def initialize(port: int, token: str) -> tuple[str | None, Reply]:
    """A 2025-11-25 `initialize` then `notifications/initialized`: the new session's id."""
    reply = post(port, token, {
        "jsonrpc": "2.0", "id": next(NEXT_ID), "method": "initialize",
        "params": {"protocolVersion": SESSION_ERA, "capabilities": {},
                   "clientInfo": {"name": "cluster-test", "version": "1"}},
    })
    sid = reply.headers.get("mcp-session-id")
    if reply.status != 200 or not sid or not reply.answer():
        return None, reply
    note = post(port, token, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"Mcp-Session-Id": sid, "MCP-Protocol-Version": SESSION_ERA})
    if note.status not in (200, 202):
        return None, note
    return sid, reply


def session_call(port: int, token: str, sid: str, tool: str, args: dict | None = None) -> Reply:
    return post(port, token, {
        "jsonrpc": "2.0", "id": next(NEXT_ID), "method": "tools/call", "params": {"name": tool, "arguments": args or {}},
    }, {"Mcp-Session-Id": sid, "MCP-Protocol-Version": SESSION_ERA})


def served_by(reply: Reply) -> str | None:
    """`rN` from a `whoami` answer `user@rN`."""
    text = reply.text() if reply.status == 200 else None
    match = re.fullmatch(r"[^@]+@(r\d)", text or "")
    return match.group(1) if match else None


def parallel(fn, items, workers: int = 8):
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


# --- processes ---------------------------------------------------------------------------------

def descendants(pid: int) -> set[int]:
    """The pids below `pid` (children, their children...), from /proc parent links."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    # pid (comm) state ppid ...; comm may hold spaces and parentheses
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    running.add(pid)
        except OSError:
            pass
    return running


class Procs:
    """Every process started, each in a process group of its own. At the end: SIGTERM to each
    group (a replica drains and stops its children; nginx and HAProxy stop their workers), then
    SIGKILL; and the replicas' per-user children (each under an `mcp-auth __supervise` in a
    process group of its own) are waited for, so the run leaves nothing behind."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, argv, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> set[int]:
        """Stops everything; returns the pids that had to be killed after 15 s (should be none)."""
        below = set().union(*(descendants(p.pid) for p in self.procs)) if self.procs else set()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in self.procs:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, sig)
                    except (ProcessLookupError, PermissionError):
                        pass
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
                time.sleep(0.05)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and alive(below):
            time.sleep(0.1)
        left = alive(below)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    def __init__(self, n: int, port: int, proc: subprocess.Popen):
        self.n, self.name, self.port, self.proc = n, f"r{n}", port, proc

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_replica(procs: Procs, binary: str, work: str, n: int, redis_url: str) -> Replica:
    config = os.path.join(work, f"replica-{n}.toml")
    with open(config, "w") as f:
        f.write(f"""# replica {n} of scripts/cluster-test.sh
[server]
listen = "127.0.0.1:0"
# As deploy/k8s: /mcp/ready answers 503 for 5 s after SIGTERM while requests are still served,
# longer than HAProxy needs to mark the replica down (`inter 1s fall 2`).
drain_delay = "{DRAIN_DELAY}"

[auth]
mode = "jwt"
secret_env = "MCP_AUTH_JWT_SECRET"
audience = "{AUDIENCE}"

[[servers]]
name = "demo"
path = "{MOUNT}"
command = {json.dumps(binary)}
args = ["demo", "--stdio"]
# The child names its replica in every `whoami` answer.
env = {{ MCP_USER_ID = "{{user_id}}@r{n}" }}

[servers.rate_limit]
# The throughput run sends ~1,000 requests/s from 30 users through one replica, above the
# default 20/s per user: it measures the gateway, not the limit (its 429s would count as
# failures, more of them the faster the machine).
per_second = 1000
burst = 1000
""" + cluster_redis.replica_config(binary, n, redis_url))
    env = dict(os.environ, MCP_AUTH_JWT_SECRET=SECRET, RUST_LOG=os.environ.get("CLUSTER_GATEWAY_LOG", "warn"))
    stderr = open(os.path.join(work, f"replica-{n}.log"), "wb")
    proc = procs.start([binary, "serve", "--config", config], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=stderr)
    lines: queue.Queue = queue.Queue()

    def pump():
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", "replace"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise SetupError(f"replica {n}: no banner within 60 s (log: {stderr.name})")
        if line is None:
            raise SetupError(f"replica {n} exited before its banner (log: {stderr.name})")
        # `mcp-auth: serving demo at http://127.0.0.1:PORT/mcp`
        match = re.search(r"serving \S+ at http://127\.0\.0\.1:(\d+)" + re.escape(MOUNT), line)
        if match:
            return Replica(n, int(match.group(1)), proc)


def http_get_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        return conn.getresponse().status
    finally:
        conn.close()


class HAProxy:
    def __init__(self, procs: Procs, binary: str, cfg: str, work: str, replicas: list[Replica]):
        self.socket_path = os.path.join(work, "haproxy.sock")
        self.replicas = replicas
        last = ""
        for _attempt in range(5):  # a free port can be taken between probing and binding it
            self.port = free_port()
            env = dict(os.environ, MCP_AUTH_LB_BIND=f"127.0.0.1:{self.port}",
                       MCP_AUTH_HAPROXY_SOCKET=self.socket_path)
            for r in replicas:
                env[f"MCP_AUTH_REPLICA_{r.n}"] = r.addr
            check_out = subprocess.run([binary, "-c", "-f", cfg], env=env, capture_output=True, text=True)
            if check_out.returncode != 0:
                raise SetupError(f"haproxy -c refuses {cfg}: {check_out.stdout}{check_out.stderr}")
            self.log_path = os.path.join(work, "haproxy.log")
            log_file = open(self.log_path, "ab")
            self.proc = procs.start([binary, "-db", "-f", cfg], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log_file, stderr=log_file)
            try:
                wait_for("haproxy's admin socket", lambda: self.proc.poll() is not None or self.status(), 20)
            except SetupError as error:
                last = str(error)
                continue
            if self.proc.poll() is None:
                break
            last = open(self.log_path, errors="replace").read()[-500:]
        else:
            raise SetupError(f"haproxy did not start: {last}")

    def command(self, cmd: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.socket_path)
            s.sendall(cmd.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stat(self, column: str) -> dict[str, str]:
        """{server name: `column`} of the backend's servers, from `show stat`."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        result = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "mcp_auth" and row.get("svname") not in ("BACKEND", None):
                result[row["svname"]] = row[column]
        return result

    def status(self) -> dict[str, str]:
        """{server name: UP/DOWN/MAINT/...}."""
        return self.stat("status")

    def wait_status(self, want: dict[str, str], timeout: float = 30):
        return wait_for(f"haproxy servers {want}",
                        lambda: all(self.status().get(k, "").startswith(v) for k, v in want.items()), timeout)


# --- the checks --------------------------------------------------------------------------------

def check_user_affinity(lb: int, tokens: dict[str, str]) -> dict[str, str]:
    """(a) 20 users x 10 stateless requests, each on a new connection: one replica per user, and
    users on every replica. Returns {user: replica}."""
    jobs = [(user, i) for i in range(10) for user in USERS]
    replies = parallel(lambda job: (job[0], stateless_call(lb, tokens[job[0]], "whoami")), jobs)
    seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    errors = []
    for user, reply in replies:
        replica = served_by(reply)
        if replica is None:
            errors.append(f"{user}: {reply!r}")
        else:
            seen[user][replica] += 1
    check(not errors, f"{len(jobs)} stateless whoami calls through HAProxy all answered",
          "; ".join(errors[:3]))
    split = {u: dict(c) for u, c in seen.items() if len(c) > 1}
    check(not split and len(seen) == len(USERS),
          f"each of {len(USERS)} users x 10 requests stays on one replica", f"split users: {split}")
    home = {u: c.most_common(1)[0][0] for u, c in seen.items()}
    spread = collections.Counter(home.values())
    check(len(spread) == REPLICAS, f"users spread over all {REPLICAS} replicas ({dict(sorted(spread.items()))})",
          f"only {dict(spread)}")
    return home


def check_token_refresh(lb: int, tokens: dict[str, str], home: dict[str, str]):
    """(b) A refreshed token (same sub, new exp/iat/jti) keeps the replica and the warm instance."""
    problems = []
    for user in USERS[:6]:
        note = f"before-refresh-{uuid.uuid4().hex[:8]}"
        added = stateless_call(lb, tokens[user], "notes_add", {"text": note})
        if added.status != 200:
            problems.append(f"{user}: notes_add {added!r}")
            continue
        fresh = mint(user, lifetime=7200)
        if fresh == tokens[user]:
            problems.append(f"{user}: the refreshed token equals the old one")
            continue
        where = served_by(stateless_call(lb, fresh, "whoami"))
        listed = stateless_call(lb, fresh, "notes_list")
        if where != home.get(user):
            problems.append(f"{user}: {home.get(user)} before the refresh, {where} after")
        elif note not in (listed.text() or ""):
            problems.append(f"{user}: note added before the refresh missing after it ({listed!r})")
        tokens[user] = fresh
    check(not problems, "a refreshed token (same sub, new exp and jti) lands on the same replica, "
          "in the same warm instance (its notes are there)", "; ".join(problems))


def open_sessions(lb: int, tokens: dict[str, str]) -> dict[str, str]:
    sids, problems = {}, []
    for user, (sid, reply) in zip(USERS, parallel(lambda u: initialize(lb, tokens[u]), USERS)):
        if sid:
            sids[user] = sid
        else:
            problems.append(f"{user}: {reply!r}")
    check(not problems, f"{SESSION_ERA} initialize through HAProxy for {len(USERS)} users", "; ".join(problems[:3]))
    return sids


def check_sessions_stick(lb: int, tokens, sids, home, replicas: list[Replica]):
    """(c) Requests carrying Mcp-Session-Id reach the replica that issued the session; the same
    session id sent to another replica directly is unknown there (404): affinity is needed."""
    jobs = [(u, i) for i in range(5) for u in sids]
    replies = parallel(lambda job: (job[0], session_call(lb, tokens[job[0]], sids[job[0]], "whoami")), jobs)
    problems = [f"{u}: {r!r}" for u, r in replies if served_by(r) != home[u]]
    check(not problems, f"{len(jobs)} in-session calls ({SESSION_ERA}) each reach the user's replica",
          "; ".join(problems[:3]))
    user = next(iter(sids))
    other = next(r for r in replicas if r.name != home[user])
    direct = session_call(other.port, tokens[user], sids[user], "whoami")
    check(direct.status == 404, f"the session id sent to another replica directly is unknown there (404)",
          repr(direct))


def check_nginx(args, work: str, procs: Procs, replicas: list[Replica], tokens: dict[str, str]):
    """nginx: the shipped config, rendered, passes `nginx -t`; users hashed on X-MCP-User stick."""
    template = open(args.nginx_conf).read()
    prefix = os.path.join(work, "nginx")
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(prefix, sub), exist_ok=True)
    port = free_port()
    rendered = template.replace("__MCP_AUTH_LB_LISTEN__", f"127.0.0.1:{port}")
    for r in replicas:
        rendered = rendered.replace(f"__MCP_AUTH_REPLICA_{r.n}__", r.addr)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(rendered)
    base = [args.nginx, "-p", prefix, "-c", conf, "-e", "stderr"]
    tested = subprocess.run(base + ["-t"], capture_output=True, text=True)
    if not check(tested.returncode == 0, "nginx -t accepts deploy/nginx/nginx.conf (rendered)",
                 tested.stderr[-500:]):
        return
    log_file = open(os.path.join(prefix, "nginx.out"), "ab")
    procs.start(base + ["-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
    try:
        wait_for("nginx listening", lambda: http_get_status(port, f"{MOUNT}/health") == 200, 20)
    except SetupError as error:
        check(False, "nginx starts", str(error))
        return

    def calls(user: str, header: bool):
        extra = {"X-MCP-User": user} if header else {}
        replies = []
        for _ in range(5):
            body = {"jsonrpc": "2.0", "id": next(NEXT_ID), "method": "tools/call", "params": {
                "name": "whoami", "arguments": {}, "_meta": {
                    "io.modelcontextprotocol/protocolVersion": STATELESS_ERA,
                    "io.modelcontextprotocol/clientInfo": {"name": "cluster-test", "version": "1"},
                    "io.modelcontextprotocol/clientCapabilities": {}}}}
            replies.append(served_by(post(port, tokens[user], body, {
                "MCP-Protocol-Version": STATELESS_ERA, "Mcp-Method": "tools/call", "Mcp-Name": "whoami", **extra})))
        return replies

    results = {u: calls(u, True) for u in USERS}
    bad = {u: r for u, r in results.items() if None in r or len(set(r)) != 1}
    spread = collections.Counter(r[0] for r in results.values() if r and r[0])
    check(not bad and len(spread) >= 2,
          f"nginx: {len(USERS)} users x 5 requests hashed on X-MCP-User each stay on one replica, "
          f"users spread ({dict(sorted(spread.items()))})", f"split or failed: {bad}")
    # Without the header the shipped config falls back to hashing the Authorization header:
    # sticky per token, so a refreshed token may move the user (why the header is preferred).
    fallback = calls(USERS[0], False)
    check(None not in fallback and len(set(fallback)) == 1,
          "nginx: without X-MCP-User, requests with one token stick (hash on Authorization)", str(fallback))


def resume(lb: int, token: str, sid: str | None, survivors: set[str]) -> tuple[str | None, str | None, int, str]:
    """A client's next session request (`sid` None: a new session first), re-initializing on
    404 as the MCP spec says, at most 3 times. Returns (session id, replica, 404s seen, an error
    other than 404 or '')."""
    not_found = 0
    for _ in range(4):
        if sid is not None:
            reply = session_call(lb, token, sid, "whoami")
            where = served_by(reply)
            if where in survivors:
                return sid, where, not_found, ""
            if reply.status != 404:
                return sid, None, not_found, f"{reply!r}"
            not_found += 1
        sid, init = initialize(lb, token)
        if sid is None:
            if init.status != 404:  # the `initialized` notification can meet a 404 too
                return None, None, not_found, f"initialize: {init!r}"
            not_found += 1
    return sid, None, not_found, "still 404 after 3 re-initializations"


def check_replica_killed(lb: int, hap: HAProxy, replicas, tokens, sids, home):
    """(d) kill -9 one replica: the others' users see nothing; its users get 404 on their
    session, re-initialize on a survivor and carry on; their stateless calls just work."""
    counts = collections.Counter(home.values())
    victim = next(r for r in replicas if r.name == max(counts, key=lambda k: (counts[k], k)))
    survivors = {r.name for r in replicas} - {victim.name}
    moved = [u for u in USERS if home[u] == victim.name]
    stayed = [u for u in USERS if home[u] != victim.name]
    log(f"killing replica {victim.name} (pid {victim.proc.pid}, {len(moved)} users) with SIGKILL")
    # Notes in every user's instance, to tell a warm instance from a rebuilt one afterwards.
    for u in USERS:
        stateless_call(lb, tokens[u], "notes_add", {"text": f"before-kill-{u}"})
    children = descendants(victim.proc.pid)
    os.kill(victim.proc.pid, signal.SIGKILL)
    victim.proc.wait(timeout=10)

    # At once, before HAProxy's health checks have noticed: HAProxy retries the refused connect
    # on another replica (`retries`, `option redispatch 1`).
    stayed_replies = parallel(lambda u: (u, session_call(lb, tokens[u], sids[u], "whoami")), stayed)
    problems = [f"{u}: {r!r}" for u, r in stayed_replies if served_by(r) != home[u]]
    check(not problems, f"the {len(stayed)} users of the other replicas: their sessions go on, "
          "on the same replica, no error", "; ".join(problems[:3]))

    stateless = parallel(lambda u: (u, stateless_call(lb, tokens[u], "whoami")), moved)
    problems = [f"{u}: {r!r}" for u, r in stateless if served_by(r) not in survivors]
    check(not problems, f"the {len(moved)} moved users' {STATELESS_ERA} stateless calls succeed at once "
          "on another replica", "; ".join(problems[:3]))

    gone = parallel(lambda u: (u, session_call(lb, tokens[u], sids[u], "whoami")), moved)
    problems = [f"{u}: {r!r}" for u, r in gone if r.status != 404]
    check(not problems, f"the moved users' {SESSION_ERA} sessions answer 404 (session unknown) elsewhere",
          "; ".join(problems[:3]))

    problems, where, again = [], {}, 0
    for u in moved:
        sids[u], where[u], not_found, error = resume(lb, tokens[u], None, survivors)
        again += not_found > 0
        if error:
            problems.append(f"{u}: {error}")
    check(not problems, "the moved users re-initialize and their new sessions work on another replica"
          + (f" ({again} met one more 404 while HAProxy marked the replica DOWN)" if again else ""),
          "; ".join(problems[:3]))

    notes = parallel(lambda u: (u, stateless_call(lb, tokens[u], "notes_list")), USERS)
    problems = [f"{u}: {r!r}" for u, r in notes
                if (f"before-kill-{u}" in (r.text() or "")) != (u in stayed) or r.status != 200]
    check(not problems, "per-user state: kept in the warm instances of users who stayed, "
          "rebuilt empty for the moved users", "; ".join(problems[:3]))

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and alive(children):
        time.sleep(0.1)
    check(bool(children) and not alive(children), f"the killed replica's {len(children)} child processes "
          "(per-user supervisors and servers) end with it", f"still running: {sorted(alive(children))}")

    # Once HAProxy marks the dead replica DOWN, the ring without it decides. It may pick another
    # replica for a moved user than the retry did (the retry walks the ring forward from the
    # dead server's point, the ring takes the nearest point either way): that user moves once
    # more, and their session answers 404 once more. Users who stayed never move.
    try:
        hap.wait_status({victim.name: "DOWN"}, timeout=30)
    except SetupError as error:
        check(False, "HAProxy marks the killed replica DOWN", str(error))
        return
    after = parallel(lambda u: (u, session_call(lb, tokens[u], sids[u], "whoami")), stayed)
    problems = [f"{u}: {r!r}" for u, r in after if served_by(r) != home[u]]
    check(not problems, "after HAProxy marks it DOWN, the other users' sessions still go on, "
          "on the same replica", "; ".join(problems[:3]))
    problems, twice = [], 0
    for u in moved:
        sids[u], now, not_found, error = resume(lb, tokens[u], sids[u], survivors)
        if error:
            problems.append(f"{u}: {error}")
        if not_found:
            twice += 1
        where[u] = now
    check(not problems, "after HAProxy marks it DOWN, each moved user's session works, or answers "
          f"404 and works after one more re-initialize ({twice} of {len(moved)} moved a second time)",
          "; ".join(problems[:3]))

    # From then on every user is stable: sessions and stateless calls on one replica.
    def settled(u):
        replies = [session_call(lb, tokens[u], sids[u], "whoami") for _ in range(3)]
        return [served_by(r) for r in replies] + [served_by(stateless_call(lb, tokens[u], "whoami"))]

    final = dict(zip(USERS, parallel(settled, USERS)))
    want = {**home, **where}
    problems = [f"{u}: {r} (expected {want[u]})" for u, r in final.items() if set(r) != {want[u]}]
    check(not problems, "then every user, moved or not, stays on one replica, sessions and "
          "stateless calls alike", "; ".join(problems[:3]))
    return {u: final[u][-1] for u in USERS}


def check_replica_drained(lb: int, hap: HAProxy, replicas, tokens, where: dict[str, str]):
    """(d') SIGTERM to one of the remaining replicas: while it drains (/ready 503, still serving
    for drain_delay) HAProxy takes it out of the ring, and no stateless request fails."""
    counts = collections.Counter(where.values())
    leaving = next(r for r in replicas if r.proc.poll() is None and counts[r.name])
    staying = {r.name for r in replicas if r.proc.poll() is None} - {leaving.name}
    log(f"draining replica {leaving.name} (SIGTERM, drain_delay {DRAIN_DELAY}, {counts[leaving.name]} users)")
    leaving.proc.send_signal(signal.SIGTERM)
    results: list[tuple[str, str | None, Reply]] = []
    deadline = time.monotonic() + 30
    # Round after round of one stateless call per user, until the replica has exited and a
    # round has run after that.
    exited_rounds, down_while_serving = 0, False
    while time.monotonic() < deadline and exited_rounds < 2:
        exited_rounds += leaving.proc.poll() is not None
        if not down_while_serving and hap.status().get(leaving.name, "").startswith("DOWN"):
            down_while_serving = leaving.proc.poll() is None
        for u, r in parallel(lambda u: (u, stateless_call(lb, tokens[u], "whoami")), USERS):
            results.append((u, served_by(r), r))
    failed = [f"{u}: {r!r}" for u, where_, r in results if where_ is None]
    check(not failed and leaving.proc.poll() is not None,
          f"a replica drained with SIGTERM: {len(results)} stateless calls during the drain, none failed "
          f"(exit code {leaving.proc.poll()})", "; ".join(failed[:3]))
    check(down_while_serving, f"HAProxy marks the draining replica DOWN (its /mcp/ready answers 503) "
          f"while it still serves, within drain_delay ({DRAIN_DELAY})")
    stray = [f"{u} on {w}" for u, w, _ in results if where[u] != leaving.name and w != where[u]]
    after = {u: w for u, w, _ in results[-len(USERS):]}
    moved_to = {w for u, w in after.items() if where[u] == leaving.name}
    check(not stray and moved_to <= staying,
          "during the drain only the draining replica's users move, to the replica left", "; ".join(stray[:3]))


def throughput(args, work: str, lb: int, hap: HAProxy, replicas: list[Replica]):
    """(e) Requests per second through HAProxy with 3 replicas and with 1 (two set to MAINT),
    stateless `echo` calls of 30 users, a fixed number of connections, wrk."""
    users = [f"bench-{i:02d}" for i in range(30)]
    tokens = [mint(u) for u in users]
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"text": "ping"}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": STATELESS_ERA,
            "io.modelcontextprotocol/clientInfo": {"name": "cluster-test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}}})
    script = os.path.join(work, "bench.lua")
    with open(script, "w") as f:
        f.write("local tokens = {" + ",".join(json.dumps(t) for t in tokens) + "}\n")
        f.write(f"local body = {json.dumps(body)}\n")
        f.write("""local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "%s", {
    ["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1],
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "%s",
    ["Mcp-Method"] = "tools/call",
    ["Mcp-Name"] = "echo",
  }, body)
end
""" % (MOUNT, STATELESS_ERA))

    def run(seconds: int) -> tuple[float, int, str]:
        out = subprocess.run([args.wrk, "-t2", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
                              "-s", script, f"http://127.0.0.1:{lb}{MOUNT}"],
                             capture_output=True, text=True, timeout=seconds + 60)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
        errors = re.search(r"Socket errors: (.*)", out.stdout)
        failures = int(bad.group(1)) if bad else 0
        if errors:
            failures += sum(int(x) for x in re.findall(r"\d+", errors.group(1)))
        return (float(rps.group(1)) if rps else 0.0), failures, out.stdout + out.stderr

    results = {}
    for label, maint in (("3 replicas", []), ("1 replica", ["r2", "r3"])):
        for name in maint:
            hap.command(f"set server mcp_auth/{name} state maint")
        hap.wait_status({r.name: ("MAINT" if r.name in maint else "UP") for r in replicas})
        run(2)  # warm-up: each user's child started on the replica that now serves them
        before = hap.stat("stot")
        rps, failures, out = run(args.bench_seconds)
        after = hap.stat("stot")
        share = {k: int(after[k]) - int(before.get(k, 0)) for k in sorted(after)}
        results[label] = rps
        check(rps > 0 and failures == 0, f"throughput, {label} behind HAProxy: {rps:.0f} requests/s, "
              f"{args.connections} connections, {args.bench_seconds} s, requests per replica {share}",
              out[-800:])
        for name in maint:
            hap.command(f"set server mcp_auth/{name} state ready")
    hap.wait_status({r.name: "UP" for r in replicas})
    if results.get("1 replica"):
        ratio = results["3 replicas"] / results["1 replica"]
        print(f"THROUGHPUT: 1 replica {results['1 replica']:.0f} req/s, 3 replicas "
              f"{results['3 replicas']:.0f} req/s, ratio 3/1 = {ratio:.2f} "
              f"({os.cpu_count()} CPUs shared by HAProxy, wrk and every replica; load average "
              f"{os.getloadavg()[0]:.1f})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the mcp-auth binary")
    parser.add_argument("--haproxy", default="haproxy")
    parser.add_argument("--haproxy-cfg", required=True)
    parser.add_argument("--redis-server", default="redis-server")
    parser.add_argument("--nginx", help="nginx binary (skips the nginx checks when absent)")
    parser.add_argument("--nginx-conf")
    parser.add_argument("--wrk", help="wrk binary (skips the throughput run when absent)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bench-seconds", type=int, default=8)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()

    # SIGTERM (the shell script interrupted) unwinds through `finally`, which stops everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    procs = Procs()
    started = time.monotonic()
    try:
        redis = cluster_redis.Redis(sys.modules[__name__], procs, args.redis_server, args.work)
        log(f"redis-server on 127.0.0.1:{redis.port}")
        replicas = [start_replica(procs, args.bin, args.work, n, redis.url) for n in range(1, REPLICAS + 1)]
        for r in replicas:
            wait_for(f"{r.name} ready", lambda r=r: http_get_status(r.port, f"{MOUNT}/ready") == 200, 30)
        log("replicas: " + ", ".join(f"{r.name}={r.addr}" for r in replicas))
        hap = HAProxy(procs, args.haproxy, args.haproxy_cfg, args.work, replicas)
        hap.wait_status({r.name: "UP" for r in replicas}, timeout=30)
        lb = hap.port
        log(f"haproxy on 127.0.0.1:{lb}, all {REPLICAS} replicas UP")

        tokens = {u: mint(u) for u in USERS}
        home = check_user_affinity(lb, tokens)
        if len(home) != len(USERS):
            raise SetupError("not every user was served; stopping")
        check_token_refresh(lb, tokens, home)
        sids = open_sessions(lb, tokens)
        if len(sids) == len(USERS):
            check_sessions_stick(lb, tokens, sids, home, replicas)
        if args.nginx and args.nginx_conf:
            check_nginx(args, args.work, procs, replicas, tokens)
        else:
            log("no nginx: its checks are skipped")
        if args.wrk:
            throughput(args, args.work, lb, hap, replicas)
        else:
            log("no wrk: the throughput run is skipped")
        shared = sys.modules[__name__]
        config = os.path.join(args.work, "replica-1.toml")
        cluster_redis.check_shared_limit(shared, replicas)
        cluster_redis.check_revocation(shared, args.bin, config, replicas, "from the command line")
        cluster_redis.check_redis_outage(shared, redis, hap, replicas, args.bin, config)
        if len(sids) == len(USERS):
            where = check_replica_killed(lb, hap, replicas, tokens, sids, home)
            if where and None not in where.values():
                check_replica_drained(lb, hap, replicas, tokens, where)
    except SetupError as error:
        setup_failed = True
        check(False, "cluster setup", str(error))
    else:
        setup_failed = False
    finally:
        left = procs.stop_all()
        check(not left, "every process the run started (replicas, their per-user children, HAProxy, "
              "nginx) is gone after it", f"killed after 15 s: {sorted(left)}")
        log(f"done in {time.monotonic() - started:.1f} s")
        print(f"{PASSED} passed, {FAILED} failed", flush=True)
    return 2 if setup_failed else 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
