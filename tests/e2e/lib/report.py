"""Shared helpers for the Python clients: run named checks, print one PASS/FAIL line each.

run.sh counts the lines that start with `PASS ` or `FAIL `; everything else a script prints is
passed through as detail. Works with both mcp 1.x and 2.x (it imports neither).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any


class CheckError(Exception):
    """A check saw a wrong value; the message says which."""


def check(cond: object, message: str) -> None:
    if not cond:
        raise CheckError(message)


def check_equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise CheckError(f"{what}: expected {expected!r}, got {actual!r}")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        print(f"missing environment variable {name}", file=sys.stderr)
        sys.exit(2)
    return value


def describe(err: BaseException) -> str:
    """One line naming the error, unwrapping exception groups down to their leaves."""
    if isinstance(err, CheckError):
        return str(err)
    if isinstance(err, BaseExceptionGroup):
        return "; ".join(describe(e) for e in err.exceptions)
    text = f"{type(err).__name__}: {err}"
    cause = err.__cause__ or err.__context__
    if cause is not None and not isinstance(err, CheckError) and str(cause) not in text:
        text += f" (caused by {describe(cause)})"
    return text


def leaves(err: BaseException) -> list[BaseException]:
    """The non-group exceptions inside `err`, including causes."""
    out: list[BaseException] = []
    stack = [err]
    while stack:
        e = stack.pop()
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
            continue
        out.append(e)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None and nxt not in out:
                stack.append(nxt)
    return out


def one_line(text: str) -> str:
    return " ".join(text.split())


class Reporter:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.failed = 0

    def passed(self, name: str) -> None:
        print(f"PASS {self.prefix}: {name}", flush=True)

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        print(f"FAIL {self.prefix}: {name}: {one_line(why)}", flush=True)

    async def run(self, name: str, fn: Callable[[], Awaitable[Any]]) -> bool:
        try:
            await fn()
        except Exception as err:  # noqa: BLE001 - every failure becomes a FAIL line
            if os.environ.get("E2E_DEBUG"):
                traceback.print_exc()
            self.fail(name, describe(err))
            return False
        self.passed(name)
        return True
