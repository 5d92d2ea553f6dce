"""Python `mcp` 1.30.0 against stdio servers behind `mcp-auth serve` (the gateway).

Usage: python gw_python.py time|env-credential
Env:   MCP_URL (the mount's URL), E2E_TOKEN_ALICE, E2E_TOKEN_BOB (tokens for that mount);
       env-credential also E2E_CRED_NONCE, E2E_RESOURCE_TYPE (the tenant manager's credential is
       `e2e-upstream-{user}-{resource_type}-{nonce}`) and E2E_SECRET_SHA256 (of the gateway's JWT
       secret).
`time`: mcp-server-time (PyPI) per user. `env-credential`: gateway/env_fixture.py with
`env.UPSTREAM_TOKEN = "{access_token}"`: the credential reaches the child, the JWT does not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from report import Reporter, check, check_equal, env  # noqa: E402
from scenario import first_text  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else ""
if MODE not in ("time", "env-credential"):
    print("usage: python gw_python.py time|env-credential", file=sys.stderr)
    sys.exit(2)
URL = env("MCP_URL")
TOKENS = {"alice": env("E2E_TOKEN_ALICE"), "bob": env("E2E_TOKEN_BOB")}
# A child's first answer includes starting it (Python imports take ~1 s, more on a busy machine).
CALL_TIMEOUT = 60


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@asynccontextmanager
async def connect(user: str, sse: bool = False) -> AsyncIterator[ClientSession]:
    """A session for `user` over Streamable HTTP, or legacy HTTP+SSE at the mount's `/sse`."""
    headers = {"Authorization": f"Bearer {TOKENS[user]}"}
    if sse:
        async with sse_client(f"{URL}/sse", headers=headers, timeout=30, sse_read_timeout=300) as (read, write):
            async with ClientSession(read, write) as session:
                with anyio.fail_after(CALL_TIMEOUT):
                    await session.initialize()
                yield session
        return
    async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=300)) as http:
        async with streamable_http_client(URL, http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                with anyio.fail_after(CALL_TIMEOUT):
                    await session.initialize()
                yield session


async def call(session: ClientSession, tool: str, args: dict) -> str:
    with anyio.fail_after(CALL_TIMEOUT):
        return first_text(await session.call_tool(tool, args), tool)


async def time_checks(r: Reporter) -> None:
    for user, sse in (("alice", False), ("bob", True)):

        async def one(user: str = user, sse: bool = sse) -> None:
            async with connect(user, sse) as session:
                names = sorted(t.name for t in (await session.list_tools()).tools)
                check_equal(names, ["convert_time", "get_current_time"], "tool names")
                now = json.loads(await call(session, "get_current_time", {"timezone": "UTC"}))
                check_equal(now.get("timezone"), "UTC", "get_current_time timezone")
                then = dt.datetime.fromisoformat(now["datetime"])
                skew = abs((then - dt.datetime.now(dt.timezone.utc)).total_seconds())
                check(skew < 300, f"get_current_time is {skew:.0f} s off: {now}")
                converted = json.loads(
                    await call(
                        session,
                        "convert_time",
                        {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
                    )
                )
                check(
                    converted["target"]["datetime"][11:16] == "21:00",
                    f"12:00 UTC in Tokyo: {converted}",
                )

        how = "legacy HTTP+SSE" if sse else "Streamable HTTP"
        await r.run(f"{user}: get_current_time and convert_time through the gateway ({how})", one)


async def env_credential_checks(r: Reporter) -> None:
    nonce = env("E2E_CRED_NONCE")
    resource_type = env("E2E_RESOURCE_TYPE")
    secret_sha = env("E2E_SECRET_SHA256")
    reports: dict[str, dict] = {}
    for user in ("alice", "bob"):

        async def one(user: str = user) -> None:
            async with connect(user) as session:
                report = json.loads(await call(session, "env_report", {}))
            reports[user] = report
            expected = sha256(f"e2e-upstream-{user}-{resource_type}-{nonce}")
            check_equal(report["upstream_token_sha256"], expected, "sha256 of the child's UPSTREAM_TOKEN")
            check(
                sha256(TOKENS[user]) not in report["jwt_like_sha256"] and not report["jwt_like_sha256"],
                f"the child's environment or arguments hold a JWT: {report['jwt_like_sha256']}",
            )
            leaked = [n for n in report["env_names"] if n.startswith("MCP_AUTH_") or n.startswith("E2E_")]
            check(not leaked, f"the child inherited the gateway's variables {leaked}")
            check(secret_sha not in report["env_value_sha256"], "the child's environment holds the gateway's JWT secret")

        await r.run(f"{user}: the child's UPSTREAM_TOKEN is {user}'s credential; no JWT, no gateway secret in its env", one)

    async def distinct() -> None:
        check(len(reports) == 2, "a user's report is missing")
        check(
            reports["alice"]["upstream_token_sha256"] != reports["bob"]["upstream_token_sha256"],
            "alice's and bob's children hold the same credential",
        )

    await r.run("alice's and bob's children hold different credentials", distinct)


async def main() -> int:
    r = Reporter(f"gw-python-mcp-1.30/{MODE}")
    await (time_checks if MODE == "time" else env_credential_checks)(r)
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
