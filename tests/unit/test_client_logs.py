"""Run logs: one request for a run's log files, and the parser that turns them into entries of lines."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mage_mcp.clients import ClusterClient, LogFile, LogLine, MageNotFoundError, parse_log_lines
from tests.fakes import FakeMage

pytestmark = pytest.mark.anyio

SAMPLES = Path(__file__).resolve().parents[1] / "fakes" / "samples"
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/home/src/project/transformers/clean.py", line 12, in transform',
    "    raise ValueError('boom-4417')",
    "ValueError: boom-4417",
]


def run_of(mage: FakeMage) -> dict[str, Any]:
    trigger = mage.add_trigger("example_pipeline", status="active")
    return mage.trigger_run(trigger["id"])


def record(
    message: str, *, level: str = "INFO", block: str | None = "load", at: float = 1_796_288_477.5, **extra: Any
) -> str:
    """One line as Mage writes it: `<time> {json}`."""
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    payload = {"block_uuid": block, "level": level, "message": message, "timestamp": at, **extra}
    return f"{stamp} {json.dumps(payload)}"


def block_file(*lines: str, name: str = "load.log") -> LogFile:
    return LogFile(name=name, kind="block", content="\n".join(lines) + "\n")


def real_sample_files() -> list[LogFile]:
    body = json.loads((SAMPLES / "mage_failed_run_logs.json").read_text())["logs"][0]
    return [
        *(LogFile(name=f["name"], kind="pipeline", content=f["content"]) for f in body["pipeline_run_logs"]),
        *(LogFile(name=f["name"], kind="block", content=f["content"]) for f in body["block_run_logs"]),
    ]


# -- run_logs -----------------------------------------------------------------------------------


async def test_run_logs_is_one_request_with_the_array_filter(cluster: ClusterClient, mage: FakeMage) -> None:
    run = run_of(mage)
    mage.add_log(run["id"], "load_titanic", "INFO", "loaded")
    await cluster.get_run(run["id"])  # logged in: the session's own requests happen before the count
    mage.recorder.clear()
    logs = await cluster.run_logs("example_pipeline", run["id"])
    (request,) = mage.recorder.requests
    assert request.path == "/api/pipelines/example_pipeline/logs"
    assert request.query == {"pipeline_run_id[]": str(run["id"])}  # never the ignored singular form
    assert (logs.pipeline_uuid, logs.run_id) == ("example_pipeline", run["id"])
    assert [(f.name, f.kind) for f in logs.files][:2] == [("pipeline.log", "pipeline"), ("scheduler.log", "pipeline")]
    assert {f.name for f in logs.files if f.kind == "block"} == {
        "load_titanic.log",
        "fill_in_missing_values.log",
        "export_titanic_clean.log",
    }
    assert "loaded" in next(f.content for f in logs.files if f.name == "load_titanic.log")


async def test_run_logs_hold_only_that_run(cluster: ClusterClient, mage: FakeMage) -> None:
    mine, other = run_of(mage), run_of(mage)
    mage.add_log(mine["id"], "load_titanic", "INFO", "mine")
    mage.add_log(other["id"], "load_titanic", "INFO", "not mine")
    mage.add_editor_log("example_pipeline", "load_titanic", record("from the notebook"))
    logs = await cluster.run_logs("example_pipeline", mine["id"])
    messages = [line.message for line in parse_log_lines(logs.files)]
    assert messages == ["mine"]  # neither another run's logs nor the notebook's


async def test_run_logs_of_a_missing_pipeline_name_it(cluster: ClusterClient) -> None:
    with pytest.raises(MageNotFoundError, match="Pipeline 'nope' does not exist"):
        await cluster.run_logs("nope", 1)


async def test_run_logs_of_an_unknown_run_are_empty(cluster: ClusterClient) -> None:
    logs = await cluster.run_logs("example_pipeline", 4242)
    assert logs.files == []


async def test_a_failure_logged_as_mage_does_reads_back_as_one_error_entry(
    cluster: ClusterClient, mage: FakeMage
) -> None:
    run = run_of(mage)
    mage.add_log(run["id"], "fill_in_missing_values", "INFO", "filling")
    mage.add_log(
        run["id"],
        "fill_in_missing_values",
        "EXCEPTION",
        "Failed to execute block fill_in_missing_values",
        error="boom-4417",
        stacktrace="\n".join(TRACEBACK),
    )
    lines = parse_log_lines((await cluster.run_logs("example_pipeline", run["id"])).files)
    failure = [line for line in lines if line.level == "error"]
    assert [line.message for line in failure] == [
        "Failed to execute block fill_in_missing_values",
        "boom-4417",
        *TRACEBACK,
    ]
    assert {line.entry for line in failure} == {lines[-1].entry} and lines[0].entry != lines[-1].entry
    assert {line.block_uuid for line in failure} == {"fill_in_missing_values"}


async def test_a_50_mb_log_is_served_and_parsed_in_seconds(cluster: ClusterClient, mage: FakeMage) -> None:
    run = run_of(mage)
    line = record("row batch loaded " + "x" * 200, block="load_titanic")
    mage.add_raw_log(run["id"], "load_titanic.log", "\n".join([line] * (50_000_000 // len(line))))
    started = time.perf_counter()
    logs = await cluster.run_logs("example_pipeline", run["id"])
    lines = parse_log_lines(logs.files)
    elapsed = time.perf_counter() - started
    assert sum(len(f.content) for f in logs.files) > 50_000_000 and len(lines) > 150_000
    assert elapsed < 8, elapsed  # about 1.5 s on a slow 2-core VM, most of it JSON decoding


# -- parse_log_lines ----------------------------------------------------------------------------


def test_a_real_failed_run_parses_into_entries_with_the_traceback_last() -> None:
    lines = parse_log_lines(real_sample_files())
    failed = [line for line in lines if line.block_uuid == "pf_fail" and line.level == "error"]
    assert failed[0].message == "Failed to execute block pf_fail"
    assert failed[1].message == "probe-unique-failure-7731"  # Mage's error_stacktrace: the exception's text
    assert failed[-1].message == "ValueError: probe-unique-failure-7731"  # the plain traceback lines follow
    assert len({line.entry for line in failed}) == 1 and len(failed) > 20
    retry = [line for line in lines if line.block_uuid == "pf_fail" and line.level == "warning"]
    assert retry[0].message.startswith("Exception thrown when attempting to run") and len(retry) == 2
    times = [line.time for line in lines]
    assert all(t is not None for t in times) and times == sorted(times)  # type: ignore[type-var]
    scheduler = [line for line in lines if line.block_uuid is None]
    assert scheduler and all(line.level == "info" for line in scheduler)
    assert scheduler[0].message == "Pipeline pf for run 9 in schedule 1 is alive."


def test_plain_lines_join_the_entry_before_them() -> None:
    lines = parse_log_lines(
        [block_file(record("first"), record("it broke", level="ERROR"), "Traceback (most recent call last):", "  oops")]
    )
    assert [(line.message, line.level, line.block_uuid, line.entry) for line in lines] == [
        ("first", "info", "load", 0),
        ("it broke", "error", "load", 1),
        ("Traceback (most recent call last):", "error", "load", 1),
        ("  oops", "error", "load", 1),
    ]
    assert lines[1].time == lines[2].time == datetime.fromtimestamp(1_796_288_477.5, UTC)


def test_plain_lines_before_any_record_are_entries_of_their_own() -> None:
    lines = parse_log_lines([block_file("starting up", "still starting", record("now a record"))])
    assert [(line.message, line.level, line.block_uuid, line.entry, line.time) for line in lines[:2]] == [
        ("starting up", "info", None, 0, None),
        ("still starting", "info", None, 1, None),
    ]
    assert lines[2].entry == 2


@pytest.mark.parametrize(
    ("mage_level", "level"),
    [("EXCEPTION", "error"), ("CRITICAL", "error"), ("ERROR", "error"), ("WARNING", "warning"), ("warn", "warning"),
     ("INFO", "info"), ("DEBUG", "debug"), ("Level 15", "info")],
)
def test_levels_are_normalised(mage_level: str, level: str) -> None:
    (line,) = parse_log_lines([block_file(record("m", level=mage_level))])
    assert line.level == level


def test_the_error_text_comes_from_error_stacktrace_else_from_error() -> None:
    with_text = record("Failed", level="EXCEPTION", error="Traceback...\nValueError: x\n", error_stacktrace="x")
    only_traceback = record("Failed", level="EXCEPTION", error="Traceback (most recent call last):\nKeyError: 'k'\n")
    blank_text = record("Failed", level="ERROR", error="Traceback:\nValueError\n", error_stacktrace="")
    assert [line.message for line in parse_log_lines([block_file(with_text)])] == ["Failed", "x"]
    assert [line.message for line in parse_log_lines([block_file(only_traceback)])] == [
        "Failed",
        "Traceback (most recent call last):",
        "KeyError: 'k'",
    ]
    assert [line.message for line in parse_log_lines([block_file(blank_text)])] == [
        "Failed",
        "Traceback:",
        "ValueError",
    ]


def test_files_merge_in_time_order_and_keep_file_order_for_equal_times() -> None:
    base = 1_796_288_477.0
    scheduler = LogFile(
        name="scheduler.log",
        kind="pipeline",
        content="\n".join([record("s1", block=None, at=base), record("s2", block=None, at=base + 2)]),
    )
    block = block_file(record("b1", at=base), record("b2", at=base + 1), "  plain after b2")
    lines = parse_log_lines([scheduler, block])
    assert [line.message for line in lines] == ["s1", "b1", "b2", "  plain after b2", "s2"]
    assert [line.entry for line in lines] == [0, 1, 2, 2, 3]


def test_stamped_text_blank_lines_and_odd_json_are_lenient() -> None:
    lines = parse_log_lines(
        [
            block_file(
                "2026-12-03T09:01:17 not json at all",
                "",
                "   ",
                "2026-12-03 09:01:18,250 {\"level\": \"ERROR\", \"message\": {\"a\": 1}}",
                "2026-12-03T09:01:19 [1, 2]",
                "2026-12-03T09:01:20 {broken json",
                "\r",
            )
        ]
    )
    assert [(line.message, line.level) for line in lines] == [
        ("not json at all", "info"),
        ('{"a": 1}', "error"),
        ("[1, 2]", "info"),
        ("{broken json", "info"),
    ]
    assert lines[0].time == datetime(2026, 12, 3, 9, 1, 17, tzinfo=UTC)
    assert lines[1].time == datetime(2026, 12, 3, 9, 1, 18, 250000, tzinfo=UTC)
    assert len({line.entry for line in lines}) == 4


def test_the_record_time_is_the_json_timestamp_with_its_fraction() -> None:
    (line,) = parse_log_lines([block_file(record("m", at=1_796_288_477.25))])
    assert line.time == datetime(2026, 12, 3, 9, 1, 17, 250000, tzinfo=UTC)
    (stamped,) = parse_log_lines([block_file('2026-12-03T09:01:17 {"level": "INFO", "message": "no timestamp"}')])
    assert stamped.time == datetime(2026, 12, 3, 9, 1, 17, tzinfo=UTC)


def test_a_dense_50_mb_log_parses_in_seconds() -> None:
    line = record("row batch 12345 loaded", block="load", block_type="data_loader", pipeline_run_id=1, uuid="0" * 32)
    content = "\n".join([line] * (50_000_000 // (len(line) + 1)))
    plain = "\n".join(['  File "/x/y.py", line 12, in transform'] * 1_000_000)
    started = time.perf_counter()
    lines = parse_log_lines([block_file(content), block_file(record("then a traceback"), plain, name="t.log")])
    elapsed = time.perf_counter() - started
    assert len(lines) > 1_200_000 and isinstance(lines[0], LogLine)
    assert elapsed < 10, elapsed  # about 2.5 s on a slow 2-core VM for these 90 MB
    assert lines[-1].time == lines[-2].time and lines[-1].entry == lines[-2].entry


def test_no_line_is_lost_or_invented() -> None:
    later = datetime.fromtimestamp(1_796_288_477.5, UTC) + timedelta(seconds=1)
    text = "\n".join([record("a"), "plain 1", record("b", at=later.timestamp()), "plain 2"])
    assert [line.message for line in parse_log_lines([block_file(text)])] == ["a", "plain 1", "b", "plain 2"]
