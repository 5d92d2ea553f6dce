"""Python `mcp` 2.3.0 (new API) against the demo server.

Usage: python python_mcp2.py auto|sse
Env:   MCP_URL (.../mcp), MCP_TOKEN, MCP_USER (the token's user), MCP_BAD_AUD_TOKEN
       (a token minted for another audience).
`auto` uses Streamable HTTP at MCP_URL with the default `mode="auto"` (probe `server/discover`)
and expects it to settle on protocol 2026-07-28; `sse` uses the legacy HTTP+SSE transport at
MCP_URL/sse with `mode="legacy"`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import scenario  # noqa: E402
from report import CheckError, Reporter, check, check_equal, describe, env, leaves  # noqa: E402

MODERN = "2026-07-28"
MODE = sys.argv[1] if len(sys.argv) > 1 else ""
if MODE not in ("auto", "sse"):
    print("usage: python python_mcp2.py auto|sse", file=sys.stderr)
    sys.exit(2)
URL = env("MCP_URL")
TOKEN = env("MCP_TOKEN")
USER = env("MCP_USER")
BAD_AUD_TOKEN = env("MCP_BAD_AUD_TOKEN")


# (status, WWW-Authenticate) of every HTTP response the Streamable HTTP client gets. mcp 2.x turns
# a 401 into MCPError(-32603, "Server returned an error response"), dropping the status, so the
# refusal checks look at the wire through this hook.
http_responses: list[tuple[int, str]] = []


async def record_response(response: httpx2.Response) -> None:
    http_responses.append((response.status_code, response.headers.get("www-authenticate", "")))


@asynccontextmanager
async def connect(bearer: str) -> AsyncIterator[Client]:
    # read_timeout_seconds bounds the handshake too, so a hung server cannot stall the run.
    headers = {"Authorization": f"Bearer {bearer}"}
    if MODE == "auto":
        async with httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [record_response]}) as http:
            async with Client(
                streamable_http_client(URL, http_client=http), mode="auto", read_timeout_seconds=10
            ) as client:
                yield client
    else:
        async with Client(sse_client(f"{URL}/sse", headers=headers), mode="legacy", read_timeout_seconds=10) as client:
            yield client


async def connect_check(client: Client) -> None:
    if MODE == "auto":
        check_equal(client.protocol_version, MODERN, "negotiated protocol version")
    else:
        check(client.protocol_version < MODERN, f"legacy mode negotiated {client.protocol_version!r}")


async def cancel(client: Client) -> None:
    # mcp 2.x sends notifications/cancelled (legacy) or drops the request's stream (2026-07-28)
    # when the calling task is cancelled.
    await scenario.cancel_slow_call(client)
    await scenario.echo_still_works(client)


async def refused(bearer: str) -> None:
    http_responses.clear()
    err: BaseException | None = None
    try:
        async with connect(bearer):
            pass
    except Exception as e:  # noqa: BLE001 - groups included
        err = e
    check(err is not None, "connect succeeded; expected a 401")
    if MODE == "sse":
        # The SSE transport raises httpx2.HTTPStatusError for the GET.
        statuses = [c.response.status_code for c in leaves(err) if isinstance(c, httpx2.HTTPStatusError)]
        check(401 in statuses, f"connect failed, but not with a 401: {describe(err)}")
    else:
        check(http_responses, f"connect failed without any HTTP response: {describe(err)}")
        status, challenge = http_responses[0]
        check(
            status == 401 and 'error="invalid_token"' in challenge,
            f"expected 401 with WWW-Authenticate error=\"invalid_token\", got {http_responses}; "
            f"client raised {describe(err)}",
        )


async def main() -> int:
    rep = Reporter(f"python-mcp-2.3/{'auto-' + MODERN if MODE == 'auto' else 'legacy-sse'}")
    note = f"py2-{MODE}-{os.getpid()}"
    session_checks = [
        (f"connect (mode auto) negotiates {MODERN}" if MODE == "auto" else "connect (mode legacy)", connect_check),
        ("whoami returns the token user", lambda c: scenario.whoami(c, USER)),
        ("tools/list lists the demo tools", scenario.tools_list),
        ("notes_add then notes_list shows the note", lambda c: scenario.notes(c, note)),
        ("slow reports progress 1..3 of 3 and returns done", scenario.progress),
        ("cancelling the slow task ends the call and echo still works", cancel),
    ]
    return await scenario.run_scenario(rep, connect, TOKEN, session_checks, refused, BAD_AUD_TOKEN)


if __name__ == "__main__":
    try:
        sys.exit(anyio.run(main))
    except CheckError as e:
        print(f"FAIL python-mcp-2.3/{MODE}: {e}")
        sys.exit(1)
