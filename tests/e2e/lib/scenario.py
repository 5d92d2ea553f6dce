"""The scenario every Python client runs against the demo server, whatever its mcp version.

A session is an mcp 1.x `ClientSession` or an mcp 2.x `Client`: both offer
`call_tool(name, args, progress_callback=...)` and `list_tools()`. The scripts keep what differs:
how they connect, what they check about the protocol, how a cancel reaches the server and how a
refusal shows its 401.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

import anyio
from report import Reporter, check, check_equal, describe

DEMO_TOOLS = ["echo", "notes_add", "notes_list", "slow", "whoami"]

Session = Any
SessionCheck = Callable[[Session], Awaitable[None]]


def first_text(result: Any, tool: str) -> str:
    # mcp 1.x names the error flag `isError`, mcp 2.x `is_error`.
    is_error = getattr(result, "isError", False) or getattr(result, "is_error", False)
    check(not is_error, f"{tool}: result has isError=true: {result!r}")
    content = getattr(result, "content", None)
    check(content and getattr(content[0], "type", None) == "text", f"{tool}: no text content: {result!r}")
    return content[0].text


async def whoami(session: Session, user: str) -> None:
    check_equal(first_text(await session.call_tool("whoami", {}), "whoami"), user, "whoami")


async def tools_list(session: Session) -> None:
    names = sorted(t.name for t in (await session.list_tools()).tools)
    check_equal(names, DEMO_TOOLS, "tool names")


async def notes(session: Session, note: str) -> None:
    first_text(await session.call_tool("notes_add", {"text": note}), "notes_add")
    listed = first_text(await session.call_tool("notes_list", {}), "notes_list")
    check(note in listed.split("\n"), f"notes_list does not contain {note}: {listed!r}")


async def progress(session: Session) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        seen.append((p, total, message))

    with anyio.fail_after(10):
        result = await session.call_tool("slow", {"steps": 3, "delay_ms": 50}, progress_callback=on_progress)
    check_equal(first_text(result, "slow"), "done", "slow result")
    check_equal(seen, [(float(i), 3.0, f"step {i}") for i in (1, 2, 3)], "progress notifications")


async def cancel_slow_call(session: Session) -> None:
    """Cancels the task calling `slow {steps: 200}` after two progress notifications and checks
    that the call saw the cancellation and ended within 1 s."""
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


async def echo_still_works(session: Session) -> None:
    with anyio.fail_after(5):
        echoed = first_text(await session.call_tool("echo", {"text": "still-alive"}), "echo")
    check_equal(echoed, "still-alive", "echo after cancel")


async def run_scenario(
    rep: Reporter,
    connect: Callable[[str], AbstractAsyncContextManager[Session]],
    token: str,
    session_checks: Sequence[tuple[str, SessionCheck]],
    refused: Callable[[str], Awaitable[None]],
    bad_aud_token: str,
) -> int:
    """Connects with `token` and runs `session_checks` on that one session, then checks that a
    garbage token and `bad_aud_token` are `refused`. The first session check runs right after
    connecting, as part of the same named check; when it fails the others are skipped (they would
    only repeat "not connected"). Returns the exit status."""
    (connect_name, connect_check), *rest = session_checks
    session: Session | None = None

    # Leaving the stack closes the session and its transport.
    try:
        async with AsyncExitStack() as stack:

            async def connect_and_check() -> None:
                nonlocal session
                session = await stack.enter_async_context(connect(token))
                await connect_check(session)

            if await rep.run(connect_name, connect_and_check):
                for name, session_check in rest:
                    await rep.run(name, lambda session_check=session_check: session_check(session))
    except Exception as err:  # noqa: BLE001
        rep.fail("the session closes cleanly", describe(err))

    for name, bearer in (
        ("a garbage token is refused with 401", "not-a-jwt"),
        ("a token for another audience is refused with 401", bad_aud_token),
    ):
        await rep.run(name, lambda bearer=bearer: refused(bearer))

    return 1 if rep.failed else 0
