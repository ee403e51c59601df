"""The audit log: one JSON line per mutation attempt, written durably to a private file.

`AuditLog` holds the storage only: the confirmation flow decides what to record. A `pending`
line and its outcome line share an `attempt` id. The caller has already replaced secret argument
values by `***`; nothing here redacts, and no error message repeats a record's content.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

import anyio.to_thread
from pydantic import BaseModel, ValidationError, field_serializer, field_validator

AuditOutcome = Literal[
    "pending", "applied", "confirmation_required", "declined", "cancelled", "refused", "denied", "failed", "unknown"
]
Confirmation = Literal["elicitation", "token", "allow", "none"]

_FILE_MODE = 0o600
_DIRECTORY_MODE = 0o700
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT
_BLOCK_BYTES = 64 * 1024
_MAX_LINE_BYTES = 16 * 1024 * 1024
"""`recent` skips longer lines without holding them whole, so a garbage line cannot exhaust memory."""


class AuditError(Exception):
    """The audit log cannot be written or read; the message names the path and the OS reason."""


class AuditRecord(BaseModel):
    """One line of the audit log; the field order is the order of the JSON keys."""

    time: datetime
    attempt: str
    profile: str
    tool: str
    arguments: dict[str, Any]
    confirmation: Confirmation
    outcome: AuditOutcome
    upstream: dict[str, Any] | None = None
    message: str | None = None

    @field_validator("time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        # A naive time would be written as if it were UTC, and a local clock would be misread.
        if value.tzinfo is None:
            raise ValueError("time needs a time zone, e.g. datetime.now(UTC)")
        return value.astimezone(UTC)

    @field_serializer("time")
    def _iso_utc(self, value: datetime) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditLog:
    """An append-only JSON Lines file, created private (0600 in 0700 directories)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    @classmethod
    def open(cls, path: Path) -> AuditLog:
        """Check at start that the log can be written: make its directories and file, open it once."""
        path = path.expanduser()
        try:
            _make_private_directories(path.parent)
            _create_private_file(path)
            os.close(os.open(path, _APPEND_FLAGS, _FILE_MODE))
        except OSError as error:
            raise _write_error(path, error) from error
        return cls(path)

    def new_attempt(self) -> str:
        """A short unique id that pairs a `pending` line with its outcome line."""
        return secrets.token_hex(6)

    def write(self, record: AuditRecord) -> None:
        """Append one line; it is on disk (fsynced) when this returns. Blocks, so async code uses `record`."""
        line = (record.model_dump_json() + "\n").encode()
        with self._lock:
            try:
                _append_durably(self.path, line)
            except OSError as error:
                raise _write_error(self.path, error) from error

    async def record(self, record: AuditRecord) -> None:
        """`write` in a worker thread, so the fsync never blocks the event loop."""
        await anyio.to_thread.run_sync(self.write, record)

    def recent(self, limit: int = 50) -> list[AuditRecord]:
        """The last `limit` valid records, newest first; read from the end in blocks, skipping broken lines."""
        if limit <= 0:
            return []
        try:
            with open(self.path, "rb") as handle:
                return _last_records(handle, limit)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise AuditError(f"cannot read the audit log {self.path}: {_reason(error)}") from error


def _make_private_directories(directory: Path) -> None:
    missing = [parent for parent in [directory, *directory.parents] if not parent.exists()]
    for parent in reversed(missing):
        try:
            os.mkdir(parent, _DIRECTORY_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process
        os.chmod(parent, _DIRECTORY_MODE)  # the umask may have removed bits from the mkdir mode


def _create_private_file(path: Path) -> None:
    try:
        descriptor = os.open(path, _APPEND_FLAGS | os.O_EXCL, _FILE_MODE)
    except FileExistsError:
        return  # an existing file keeps its mode
    try:
        os.fchmod(descriptor, _FILE_MODE)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _append_durably(path: Path, line: bytes) -> None:
    descriptor = os.open(path, _APPEND_FLAGS, _FILE_MODE)
    try:
        written = 0
        while written < len(line):
            written += os.write(descriptor, line[written:])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_error(path: Path, error: OSError) -> AuditError:
    return AuditError(f"cannot write the audit log {path}: {_reason(error)}")


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _last_records(handle: BinaryIO, limit: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for line in _lines_from_end(handle):
        record = _parse(line)
        if record is not None:
            records.append(record)
            if len(records) == limit:
                break
    return records


def _parse(line: bytes) -> AuditRecord | None:
    if not line.strip():
        return None
    try:
        return AuditRecord.model_validate_json(line)
    except ValidationError:
        return None


def _lines_from_end(handle: BinaryIO) -> Iterator[bytes]:
    """The file's lines, last first, reading one block at a time backwards from the end."""
    position = handle.seek(0, os.SEEK_END)
    tail_parts: list[bytes] = []  # the pieces of the line being assembled, last piece first
    tail_bytes = 0
    oversized = False
    while position > 0:
        size = min(_BLOCK_BYTES, position)
        position -= size
        handle.seek(position)
        pieces = handle.read(size).split(b"\n")
        if len(pieces) == 1:
            tail_parts.append(pieces[0])
            tail_bytes += len(pieces[0])
            if tail_bytes > _MAX_LINE_BYTES:
                tail_parts, tail_bytes, oversized = [], 0, True
            continue
        if not oversized:
            yield pieces[-1] + b"".join(reversed(tail_parts))
        oversized = False
        yield from reversed(pieces[1:-1])
        tail_parts, tail_bytes = [pieces[0]], len(pieces[0])
    if not oversized:
        yield b"".join(reversed(tail_parts))
