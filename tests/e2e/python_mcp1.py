"""Python `mcp` 1.30.0 (legacy-era API) against the demo server.

Usage: python python_mcp1.py http|sse
Env:   MCP_URL (.../mcp), MCP_TOKEN, MCP_USER (the token's user), MCP_BAD_AUD_TOKEN
       (a token minted for another audience).
`http` uses Streamable HTTP at MCP_URL, `sse` the legacy HTTP+SSE transport at MCP_URL/sse.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import mcp.types as types
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import scenario  # noqa: E402
from report import CheckError, Reporter, check, describe, env, leaves  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else ""
if MODE not in ("http", "sse"):
    print("usage: python python_mcp1.py http|sse", file=sys.stderr)
    sys.exit(2)
URL = env("MCP_URL")
TOKEN = env("MCP_TOKEN")
USER = env("MCP_USER")
BAD_AUD_TOKEN = env("MCP_BAD_AUD_TOKEN")

# (monotonic time, progressToken, progress) of every progress notification the session sees.
progress_log: list[tuple[float, object, float]] = []
# Exceptions the transport hands to the session (HTTP errors end up here in mcp 1.x).
transport_errors: list[Exception] = []


async def message_handler(message: object) -> None:
    if isinstance(message, Exception):
        transport_errors.append(message)
    elif isinstance(message, types.ServerNotification) and isinstance(message.root, types.ProgressNotification):
        p = message.root.params
        progress_log.append((time.monotonic(), p.progressToken, p.progress))


@asynccontextmanager
async def connect(bearer: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {bearer}"}
    if MODE == "http":
        async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=300)) as http:
            async with streamable_http_client(URL, http_client=http) as (read, write, _):
                async with ClientSession(read, write, message_handler=message_handler) as session:
                    with anyio.fail_after(10):
                        await session.initialize()
                    yield session
    else:
        async with sse_client(f"{URL}/sse", headers=headers) as (read, write):
            async with ClientSession(read, write, message_handler=message_handler) as session:
                with anyio.fail_after(10):
                    await session.initialize()
                yield session


async def notify_cancel_and_check_server_stops(session: ClientSession) -> None:
    # mcp 1.x does not tell the server when a caller cancels; a client app sends
    # notifications/cancelled itself. The progress token is the request id in mcp 1.x.
    tokens = {tok for (_, tok, _) in progress_log}
    slow_tokens = [tok for (_, tok, prog) in progress_log if prog >= 1]
    check(slow_tokens, "no progress token recorded for the slow call")
    request_id = slow_tokens[-1]
    check(isinstance(request_id, int), f"unexpected progress token {request_id!r} (tokens {tokens})")
    await session.send_notification(
        types.ClientNotification(
            types.CancelledNotification(
                params=types.CancelledNotificationParams(requestId=request_id, reason="e2e-cancel")
            )
        )
    )
    # Count progress arriving from 150 ms after the cancel went out (one in flight is
    # tolerated); a server that ignores the cancel sends ~9 in the 450 ms window.
    window_start = time.monotonic() + 0.15
    await anyio.sleep(0.6)
    stray = [e for e in progress_log if e[1] == request_id and e[0] >= window_start]
    check(
        len(stray) <= 1,
        f"server kept sending progress after notifications/cancelled: {len(stray)} in 450 ms",
    )


async def cancel(session: ClientSession) -> None:
    await scenario.cancel_slow_call(session)
    await notify_cancel_and_check_server_stops(session)
    await scenario.echo_still_works(session)


async def refused(bearer: str) -> None:
    transport_errors.clear()
    err: BaseException | None = None
    try:
        with anyio.fail_after(10):
            async with connect(bearer):
                pass
    except BaseException as e:  # noqa: BLE001 - groups and cancellation included
        err = e
    check(err is not None, "initialize succeeded; expected a 401")
    causes = leaves(err) + transport_errors
    statuses = [c.response.status_code for c in causes if isinstance(c, httpx.HTTPStatusError)]
    check(401 in statuses, f"connect failed, but not with a 401: {describe(err)}; transport errors {transport_errors}")


async def main() -> int:
    rep = Reporter(f"python-mcp-1.30/{'streamable-http' if MODE == 'http' else 'legacy-sse'}")
    note = f"py1-{MODE}-{os.getpid()}"
    session_checks = [
        ("connect + whoami returns the token user", lambda s: scenario.whoami(s, USER)),
        ("tools/list lists the demo tools", scenario.tools_list),
        ("notes_add then notes_list shows the note", lambda s: scenario.notes(s, note)),
        ("slow reports progress 1..3 of 3 and returns done", scenario.progress),
        ("cancelling the slow task ends the call, the server stops, echo still works", cancel),
    ]
    return await scenario.run_scenario(rep, connect, TOKEN, session_checks, refused, BAD_AUD_TOKEN)


if __name__ == "__main__":
    try:
        sys.exit(anyio.run(main))
    except CheckError as e:
        print(f"FAIL python-mcp-1.30/{MODE}: {e}")
        sys.exit(1)
