"""The audit log's storage: private files, durable whole lines, and `recent` read from the end."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mage_mcp.server import audit
from mage_mcp.server.audit import AuditError, AuditLog, AuditRecord

FIELDS = ["time", "attempt", "profile", "tool", "arguments", "confirmation", "outcome", "upstream", "message"]
SECRET = "s3cr3t-value-never-shown"


def make_record(attempt: str = "a1", **changes: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "time": datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC),
        "attempt": attempt,
        "profile": "default",
        "tool": "delete_pipeline",
        "arguments": {"pipeline_uuid": "etl", "api_key": "***"},
        "confirmation": "elicitation",
        "outcome": "pending",
    }
    return AuditRecord(**(values | changes))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_open_creates_a_private_file_in_private_directories(tmp_path: Path) -> None:
    path = tmp_path / "state" / "mage-mcp" / "audit.jsonl"
    log = AuditLog.open(path)
    assert log.path == path
    assert path.is_file()
    assert mode(path) == 0o600
    assert mode(tmp_path / "state") == 0o700
    assert mode(tmp_path / "state" / "mage-mcp") == 0o700


def test_open_expands_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    log = AuditLog.open(Path("~/logs/audit.jsonl"))
    assert log.path == tmp_path / "logs" / "audit.jsonl"
    assert log.path.is_file()


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("")
    path.chmod(0o640)
    AuditLog.open(path).write(make_record())
    assert mode(path) == 0o640


def test_two_records_are_two_lines_in_order_with_the_fields_in_order(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    log.write(make_record("a1"))
    log.write(make_record("a1", outcome="failed", upstream={"status": 500}, message="Mage answered 500"))
    first, second = (json.loads(line) for line in lines(log.path))
    assert list(first) == FIELDS
    assert list(second) == FIELDS
    assert (first["outcome"], second["outcome"]) == ("pending", "failed")
    assert first["arguments"] == {"pipeline_uuid": "etl", "api_key": "***"}
    assert (first["upstream"], first["message"]) == (None, None)
    assert (second["upstream"], second["message"]) == ({"status": 500}, "Mage answered 500")


def test_time_is_written_in_utc_with_milliseconds(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=1))
    log = AuditLog.open(tmp_path / "audit.jsonl")
    log.write(make_record(time=datetime(2025, 1, 2, 4, 4, 5, 678_901, tzinfo=paris)))
    assert json.loads(lines(log.path)[0])["time"] == "2025-01-02T03:04:05.678Z"


def test_a_time_without_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        make_record(time=datetime(2025, 1, 2, 3, 4, 5))


def test_a_write_is_fsynced_before_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(descriptor: int) -> None:
        if os.fstat(descriptor).st_ino == log.path.stat().st_ino:
            synced.append(os.fstat(descriptor).st_size)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spy)
    log.write(make_record())
    with open(log.path) as separate:
        content = separate.read()
    assert json.loads(content)["attempt"] == "a1"
    assert synced == [len(content.encode())]


def test_a_log_replaced_by_a_directory_fails_the_next_write_by_name(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    log.path.unlink()
    log.path.mkdir()
    with pytest.raises(AuditError) as caught:
        log.write(make_record(arguments={"value": SECRET}))
    assert str(caught.value) == f"cannot write the audit log {log.path}: Is a directory"
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_open_under_a_regular_file_fails_by_name(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    for path in [blocker / "audit.jsonl", blocker / "sub" / "audit.jsonl"]:
        with pytest.raises(AuditError, match=r"^cannot write the audit log .*: Not a directory$") as caught:
            AuditLog.open(path)
        assert str(path) in str(caught.value)


def test_open_on_a_directory_fails_by_name(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match=re.escape(f"{tmp_path}: Is a directory")):
        AuditLog.open(tmp_path)


def test_concurrent_writes_never_interleave(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    long_arguments = {"code": "x" * 5000}

    def write_many(thread: int) -> None:
        for index in range(50):
            log.write(make_record(f"t{thread}-{index}", arguments=long_arguments))

    threads = [threading.Thread(target=write_many, args=(thread,)) for thread in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = [AuditRecord.model_validate_json(line) for line in lines(log.path)]
    assert len(records) == 400
    assert {record.attempt for record in records} == {f"t{t}-{i}" for t in range(8) for i in range(50)}


@pytest.mark.anyio
async def test_record_writes_from_async_code(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    await log.record(make_record("async-1"))
    await log.record(make_record("async-1", outcome="applied"))
    assert [json.loads(line)["outcome"] for line in lines(log.path)] == ["pending", "applied"]


def test_new_attempt_ids_are_short_and_unique(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    attempts = {log.new_attempt() for _ in range(1000)}
    assert len(attempts) == 1000
    assert all(0 < len(attempt) <= 16 for attempt in attempts)


def test_recent_is_newest_first_and_respects_the_limit(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    for index in range(5):
        log.write(make_record(f"a{index}"))
    assert [record.attempt for record in log.recent()] == ["a4", "a3", "a2", "a1", "a0"]
    assert [record.attempt for record in log.recent(limit=2)] == ["a4", "a3"]
    assert log.recent(limit=0) == []
    assert log.recent()[0] == make_record("a4")


def test_recent_skips_garbage_and_a_half_written_last_line(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.jsonl")
    log.write(make_record("a0"))
    with open(log.path, "ab") as handle:
        handle.write(b'not json\n\xff\xfe binary\n{"attempt": "no other field"}\n\n')
    log.write(make_record("a1"))
    with open(log.path, "ab") as handle:
        handle.write(make_record("a2").model_dump_json().encode()[:40])
    assert [record.attempt for record in log.recent()] == ["a1", "a0"]


def test_recent_on_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert AuditLog(tmp_path / "missing.jsonl").recent() == []


def test_recent_on_an_unreadable_path_fails_by_name(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match=re.escape(f"cannot read the audit log {tmp_path}: Is a directory")):
        AuditLog(tmp_path).recent()


class CountingReader(io.FileIO):
    """A binary file that counts the bytes `read` returned."""

    bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        CountingReader.bytes_read += len(data)
        return data


def test_recent_reads_a_large_log_from_its_end_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    template = make_record("0").model_dump_json()
    with open(path, "w") as handle:
        handle.write("garbage without a newline " * 800_000 + "\n")
        handle.writelines(template.replace('"attempt":"0"', f'"attempt":"{index}"') + "\n" for index in range(100_000))
    assert path.stat().st_size > 35_000_000
    CountingReader.bytes_read = 0
    monkeypatch.setattr(audit, "open", lambda file, mode: CountingReader(file, "r"), raising=False)

    records = AuditLog(path).recent()

    assert [record.attempt for record in records] == [str(index) for index in range(99_999, 99_949, -1)]
    assert CountingReader.bytes_read < 1_000_000


def test_recent_finds_records_around_a_line_too_long_to_hold(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open(path, "w") as handle:
        handle.write(make_record("first").model_dump_json() + "\n")
        handle.write("y" * (17 * 1024 * 1024) + "\n")
        handle.write(make_record("last").model_dump_json() + "\n")
    assert [record.attempt for record in AuditLog(path).recent()] == ["last", "first"]


def test_recent_skips_a_too_long_first_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with open(path, "w") as handle:
        handle.write("z" * (17 * 1024 * 1024) + "\n")
        handle.write(make_record("only").model_dump_json() + "\n")
    assert [record.attempt for record in AuditLog(path).recent()] == ["only"]
