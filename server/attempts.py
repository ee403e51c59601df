"""One mutation attempt as the audit log tells it: a line when it ends without a change, or a
`pending` line written before anything is sent and an outcome line once Mage has answered.

If the `pending` line cannot be written, the change is refused and nothing is sent. A line after
that (or for an attempt that changed nothing) that cannot be written is logged to stderr instead:
the change has happened or never will, and the caller's answer must say so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from mage_mcp.clients.errors import MageConnectionError, MageError, MageOutcomeUnknownError
from mage_mcp.clients.exchanges import Exchange, recorded_exchanges

from .audit import AuditError, AuditLog, AuditOutcome, AuditRecord, Confirmation

log = logging.getLogger(__name__)

Result = TypeVar("Result")

_MESSAGE_CHARS = 500
_ID_FIELDS = ("_id", "_ids", "_uuid", "_uuids")
_MAX_IDS = 20
_ARGUMENT_CHARS = 1_000


class Attempt:
    def __init__(self, audit: AuditLog, profile: str, tool: str, arguments: Mapping[str, Any]) -> None:
        self._audit = audit
        self._fields = {"profile": profile, "tool": tool, "arguments": _bounded(dict(arguments))}
        self._id = audit.new_attempt()

    async def ended(
        self,
        outcome: AuditOutcome,
        confirmation: Confirmation = "none",
        *,
        upstream: dict[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        """The attempt's last line; a write failure is logged, never raised."""
        try:
            await self._write(outcome, confirmation, upstream, message)
        except AuditError as exc:
            log.error("audit: %s (outcome %s of %s not recorded)", exc, outcome, self._fields["tool"])

    async def applying(self, confirmation: Confirmation, change: Callable[[], Awaitable[Result]]) -> Result:
        """Runs the confirmed `change` between its `pending` line and its outcome line."""
        try:
            await self._write("pending", confirmation, None, None)
        except AuditError as exc:
            raise ToolError(f"Not applied: the audit log cannot record it ({exc}). Nothing was sent.") from None
        with recorded_exchanges() as exchanges:
            try:
                result = await change()
            except BaseException as exc:
                with anyio.CancelScope(shield=True):
                    await self._failed(confirmation, exc, exchanges)
                raise
        upstream, lost = _upstream(exchanges, result=result), _lost(exchanges)
        await self.ended("applied", confirmation, upstream=upstream, message=lost)
        return result

    async def _failed(self, confirmation: Confirmation, exc: BaseException, exchanges: list[Exchange]) -> None:
        known = _settled(exc, exchanges)
        reason = str(exc)[:_MESSAGE_CHARS] or type(exc).__name__
        await self.ended(
            "failed" if known else "unknown",
            confirmation,
            upstream=_upstream(exchanges, error=exc),
            message=" ".join(filter(None, [_lost(exchanges) if known else None, reason])),
        )

    async def _write(
        self, outcome: AuditOutcome, confirmation: Confirmation, upstream: dict[str, Any] | None, message: str | None
    ) -> None:
        await self._audit.record(
            AuditRecord(
                time=datetime.now(UTC),
                attempt=self._id,
                confirmation=confirmation,
                outcome=outcome,
                upstream=upstream,
                message=message,
                **self._fields,
            )
        )


def _settled(exc: BaseException, exchanges: list[Exchange]) -> bool:
    """Whether what a failed change did is known: Mage answered, a check refused it, or nothing was sent.
    Not known after a lost answer, a cancelled call, a crash, or a connection lost after earlier writes."""
    if isinstance(exc, MageOutcomeUnknownError):
        return False
    if isinstance(exc, MageConnectionError):
        return not any(exchange.writes for exchange in exchanges)
    return isinstance(exc, MageError | ToolError)


def _upstream(
    exchanges: list[Exchange], *, result: object = None, error: BaseException | None = None
) -> dict[str, Any] | None:
    """Mage's HTTP status of the last write, its error code, and the ids the result names."""
    upstream: dict[str, Any] = {}
    writes = [exchange for exchange in exchanges if exchange.writes]
    if writes and writes[-1].status is not None:  # None: its answer never came
        upstream["status"] = writes[-1].status
    if isinstance(error, MageError) and error.code is not None:
        upstream["code"] = error.code
    if isinstance(result, BaseModel):
        upstream |= _ids(result.model_dump(mode="json"))
    return upstream or None


def _lost(exchanges: list[Exchange]) -> str | None:
    """How a lost answer was settled, when one was: the tool read Mage back before it answered."""
    lost = [exchange.method for exchange in exchanges if exchange.writes and exchange.status is None]
    if not lost:
        return None
    return f"The answer to {lost[0]} was lost; the outcome was settled by reading Mage back."


def _ids(fields: dict[str, Any]) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    for key, value in fields.items():
        if not (key.endswith(_ID_FIELDS) or key == "name") or value is None:
            continue
        if isinstance(value, str | int):
            ids[key] = value
        elif isinstance(value, list) and all(isinstance(item, str | int) for item in value):
            ids[key] = value[:_MAX_IDS]
    return ids


def _bounded(value: Any) -> Any:
    """Arguments as the log keeps them: a long text (a block's code) cut, with its length."""
    if isinstance(value, str) and len(value) > _ARGUMENT_CHARS:
        return f"{value[:_ARGUMENT_CHARS]}… ({len(value)} chars)"
    if isinstance(value, dict):
        return {key: _bounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_bounded(item) for item in value]
    return value
