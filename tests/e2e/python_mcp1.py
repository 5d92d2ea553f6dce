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
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx
import mcp.types as types
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from report import CheckError, Reporter, check, check_equal, describe, env, leaves  # noqa: E402

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


def first_text(result: types.CallToolResult, tool: str) -> str:
    check(not result.isError, f"{tool}: result has isError=true: {result!r}")
    check(result.content and isinstance(result.content[0], types.TextContent), f"{tool}: no text content: {result!r}")
    return result.content[0].text


async def main() -> int:
    rep = Reporter(f"python-mcp-1.30/{'streamable-http' if MODE == 'http' else 'legacy-sse'}")
    session: ClientSession | None = None

    # Leaving the stack closes the session (and, on Streamable HTTP legacy, DELETEs it).
    try:
        async with AsyncExitStack() as stack:

            async def connect_and_whoami() -> None:
                nonlocal session
                session = await stack.enter_async_context(connect(TOKEN))
                check_equal(first_text(await session.call_tool("whoami", {}), "whoami"), USER, "whoami")

            async def tools_list() -> None:
                assert session
                names = sorted(t.name for t in (await session.list_tools()).tools)
                check_equal(names, ["echo", "notes_add", "notes_list", "slow", "whoami"], "tool names")

            async def notes() -> None:
                assert session
                note = f"py1-{MODE}-{os.getpid()}"
                first_text(await session.call_tool("notes_add", {"text": note}), "notes_add")
                listed = first_text(await session.call_tool("notes_list", {}), "notes_list")
                check(note in listed.split("\n"), f"notes_list does not contain {note}: {listed!r}")

            async def progress() -> None:
                assert session
                seen: list[tuple[float, float | None, str | None]] = []

                async def on_progress(p: float, total: float | None, message: str | None) -> None:
                    seen.append((p, total, message))

                with anyio.fail_after(10):
                    result = await session.call_tool("slow", {"steps": 3, "delay_ms": 50}, progress_callback=on_progress)
                check_equal(first_text(result, "slow"), "done", "slow result")
                check_equal(seen, [(float(i), 3.0, f"step {i}") for i in (1, 2, 3)], "progress notifications")

            async def cancel() -> None:
                assert session
                seen: list[float] = []
                outcome: dict[str, object] = {}

                async def on_progress(p: float, total: float | None, message: str | None) -> None:
                    seen.append(p)

                async def slow_call() -> None:
                    try:
                        outcome["result"] = await session.call_tool(
                            "slow", {"steps": 200, "delay_ms": 50}, progress_callback=on_progress
                        )
                    except anyio.get_cancelled_exc_class():
                        outcome["cancelled"] = True
                        raise

                started = time.monotonic()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow_call)
                    with anyio.fail_after(5):
                        while len(seen) < 2:
                            await anyio.sleep(0.01)
                    tg.cancel_scope.cancel()  # the "task cancel"
                    cancelled_at = time.monotonic()
                ended_in = time.monotonic() - cancelled_at
                check("result" not in outcome, f"the slow call finished instead of being cancelled: {outcome}")
                check(outcome.get("cancelled"), "the slow call did not see a cancellation")
                check(ended_in < 1.0, f"the call took {ended_in:.2f} s to end after the cancel")
                check(time.monotonic() - started < 8, "the slow call ran too long before the cancel")

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
                with anyio.fail_after(5):
                    echoed = first_text(await session.call_tool("echo", {"text": "still-alive"}), "echo")
                check_equal(echoed, "still-alive", "echo after cancel")

            if await rep.run("connect + whoami returns the token user", connect_and_whoami):
                await rep.run("tools/list lists the demo tools", tools_list)
                await rep.run("notes_add then notes_list shows the note", notes)
                await rep.run("slow reports progress 1..3 of 3 and returns done", progress)
                await rep.run("cancelling the slow task ends the call, the server stops, echo still works", cancel)
    except Exception as err:  # noqa: BLE001
        rep.fail("the session closes cleanly", describe(err))

    for name, bearer in (
        ("a garbage token is refused with 401", "not-a-jwt"),
        ("a token for another audience is refused with 401", BAD_AUD_TOKEN),
    ):

        async def refused(bearer: str = bearer) -> None:
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

        await rep.run(name, refused)

    return 1 if rep.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(anyio.run(main))
    except CheckError as e:
        print(f"FAIL python-mcp-1.30/{MODE}: {e}")
        sys.exit(1)
