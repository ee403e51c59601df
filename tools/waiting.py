"""Bounded waits with progress: how every tool that waits for Mage polls.

MCP Tasks are not available in SDK 2.x, so a long operation is one tool call that polls with a
growing interval (1 s up to 5 s), sends a progress notification after every poll, never blocks
the event loop, and at its timeout returns the current state instead of an error. A poll that Mage does
not answer (it restarts, say) is reported and the wait goes on. A client that cancels the call cancels
the wait (anyio cancellation reaches the sleep or the request).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
from mcp.server.mcpserver import Context

from mage_mcp.clients import MageApiError, MageConnectionError

T = TypeVar("T")

FIRST_INTERVAL_S = 1.0
MAX_INTERVAL_S = 5.0
PROBE_CAP_S = 4.0
"""A probe that takes longer counts as 'no answer yet'."""
HEARTBEAT_S = 4.5
"""Between two polls (or during a slow one) the last progress line is repeated this often."""


@dataclass(frozen=True)
class Observation(Generic[T]):
    """One poll: what was seen, whether the wait is over, and a line for the progress message."""

    value: T
    finished: bool
    note: str


@dataclass(frozen=True)
class Waited(Generic[T]):
    last: Observation[T]
    timed_out: bool
    waited_s: float


async def wait_for(
    ctx: Context[Any, Any],
    probe: Callable[[], Awaitable[Observation[T]]],
    first: Observation[T],
    timeout_s: float,
) -> Waited[T]:
    """Poll `probe` until it says finished or `timeout_s` passes; `first` is the state before waiting."""
    progress = _Progress(ctx, timeout_s)
    if first.finished:
        return Waited(first, False, 0.0)
    failure: Exception | None = None
    async with anyio.create_task_group() as heartbeat:
        await progress.report(first.note)
        heartbeat.start_soon(progress.keep_alive)
        try:
            waited = await _poll(probe, first, progress)
        except Exception as exc:  # raised after the group, as itself rather than inside an ExceptionGroup
            failure = exc
        heartbeat.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return waited


async def _poll(probe: Callable[[], Awaitable[Observation[T]]], last: Observation[T], progress: _Progress) -> Waited[T]:
    interval = FIRST_INTERVAL_S
    answered = last  # the last poll Mage answered
    while not last.finished:
        if progress.remaining() <= 0:
            return Waited(last, True, progress.elapsed())
        await anyio.sleep(min(interval, progress.remaining()))
        polled = await _bounded(probe, progress.remaining())
        if isinstance(polled, Observation):
            last = answered = polled
        else:
            last = Observation(answered.value, False, f"{answered.note} ({polled})")
        await progress.report(last.note)
        interval = min(interval * 1.5, MAX_INTERVAL_S)
    return Waited(last, False, progress.elapsed())


async def _bounded(probe: Callable[[], Awaitable[Observation[T]]], remaining: float) -> Observation[T] | str:
    """One poll, or why Mage did not answer it: not answering (restarting, say) does not end the wait."""
    with anyio.move_on_after(max(0.1, min(PROBE_CAP_S, remaining))):
        try:
            return await probe()
        except (MageConnectionError, MageApiError) as exc:
            if isinstance(exc, MageApiError) and (exc.code or 500) < 500:
                raise
            return f"Mage did not answer: {exc.message}"
    return f"no answer within {PROBE_CAP_S:.0f} s"


class _Progress:
    """Progress notifications of one wait: seconds waited out of the timeout, and what is awaited."""

    def __init__(self, ctx: Context[Any, Any], timeout_s: float) -> None:
        self._ctx = ctx
        self._timeout_s = timeout_s
        self._start = time.monotonic()
        self._last_report = self._start
        self._note = ""

    def elapsed(self) -> float:
        return round(time.monotonic() - self._start, 1)

    def remaining(self) -> float:
        return self._start + self._timeout_s - time.monotonic()

    async def report(self, note: str) -> None:
        self._note, self._last_report = note, time.monotonic()
        await self._ctx.report_progress(min(self.elapsed(), self._timeout_s), self._timeout_s, note)

    async def keep_alive(self) -> None:
        while True:
            await anyio.sleep(max(0.0, self._last_report + HEARTBEAT_S - time.monotonic()))
            if time.monotonic() - self._last_report >= HEARTBEAT_S:
                await self.report(self._note)
