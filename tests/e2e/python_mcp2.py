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
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
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


def first_text(result: object, tool: str) -> str:
    check(not getattr(result, "is_error", False), f"{tool}: result has isError=true: {result!r}")
    content = getattr(result, "content", None)
    check(content and getattr(content[0], "type", None) == "text", f"{tool}: no text content: {result!r}")
    return content[0].text


async def main() -> int:
    rep = Reporter(f"python-mcp-2.3/{'auto-' + MODERN if MODE == 'auto' else 'legacy-sse'}")
    client: Client | None = None

    # Leaving the stack closes the client and its transport.
    try:
        async with AsyncExitStack() as stack:

            async def connect_check() -> None:
                nonlocal client
                client = await stack.enter_async_context(connect(TOKEN))
                expected = MODERN if MODE == "auto" else None
                if expected:
                    check_equal(client.protocol_version, expected, "negotiated protocol version")
                else:
                    check(client.protocol_version < MODERN, f"legacy mode negotiated {client.protocol_version!r}")

            async def whoami() -> None:
                assert client
                check_equal(first_text(await client.call_tool("whoami", {}), "whoami"), USER, "whoami")

            async def tools_list() -> None:
                assert client
                names = sorted(t.name for t in (await client.list_tools()).tools)
                check_equal(names, ["echo", "notes_add", "notes_list", "slow", "whoami"], "tool names")

            async def notes() -> None:
                assert client
                note = f"py2-{MODE}-{os.getpid()}"
                first_text(await client.call_tool("notes_add", {"text": note}), "notes_add")
                listed = first_text(await client.call_tool("notes_list", {}), "notes_list")
                check(note in listed.split("\n"), f"notes_list does not contain {note}: {listed!r}")

            async def progress() -> None:
                assert client
                seen: list[tuple[float, float | None, str | None]] = []

                async def on_progress(p: float, total: float | None, message: str | None) -> None:
                    seen.append((p, total, message))

                with anyio.fail_after(10):
                    result = await client.call_tool("slow", {"steps": 3, "delay_ms": 50}, progress_callback=on_progress)
                check_equal(first_text(result, "slow"), "done", "slow result")
                check_equal(seen, [(float(i), 3.0, f"step {i}") for i in (1, 2, 3)], "progress notifications")

            async def cancel() -> None:
                # mcp 2.x sends notifications/cancelled (legacy) or drops the request's stream
                # (2026-07-28) when the calling task is cancelled.
                assert client
                seen: list[float] = []
                outcome: dict[str, object] = {}

                async def on_progress(p: float, total: float | None, message: str | None) -> None:
                    seen.append(p)

                async def slow_call() -> None:
                    try:
                        outcome["result"] = await client.call_tool(
                            "slow", {"steps": 200, "delay_ms": 50}, progress_callback=on_progress
                        )
                    except anyio.get_cancelled_exc_class():
                        outcome["cancelled"] = True
                        raise

                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow_call)
                    with anyio.fail_after(5):
                        while len(seen) < 2:
                            await anyio.sleep(0.01)
                    tg.cancel_scope.cancel()
                    cancelled_at = time.monotonic()
                ended_in = time.monotonic() - cancelled_at
                check("result" not in outcome, f"the slow call finished instead of being cancelled: {outcome}")
                check(outcome.get("cancelled"), "the slow call did not see a cancellation")
                check(ended_in < 1.0, f"the call took {ended_in:.2f} s to end after the cancel")
                with anyio.fail_after(5):
                    echoed = first_text(await client.call_tool("echo", {"text": "still-alive"}), "echo")
                check_equal(echoed, "still-alive", "echo after cancel")

            if await rep.run(
                f"connect (mode auto) negotiates {MODERN}" if MODE == "auto" else "connect (mode legacy)",
                connect_check,
            ):
                await rep.run("whoami returns the token user", whoami)
                await rep.run("tools/list lists the demo tools", tools_list)
                await rep.run("notes_add then notes_list shows the note", notes)
                await rep.run("slow reports progress 1..3 of 3 and returns done", progress)
                await rep.run("cancelling the slow task ends the call and echo still works", cancel)
    except Exception as err:  # noqa: BLE001
        rep.fail("the session closes cleanly", describe(err))

    for name, bearer in (
        ("a garbage token is refused with 401", "not-a-jwt"),
        ("a token for another audience is refused with 401", BAD_AUD_TOKEN),
    ):

        async def refused(bearer: str = bearer) -> None:
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

        await rep.run(name, refused)

    return 1 if rep.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(anyio.run(main))
    except CheckError as e:
        print(f"FAIL python-mcp-2.3/{MODE}: {e}")
        sys.exit(1)
