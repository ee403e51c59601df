"""The run tools against the Mage cluster fake: lists, logs, waits, diagnosis, outputs and run changes.

Request counts are read from the fake's recorder: each tool makes the fewest requests it can.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.tools.runs import parse_since
from tests.fakes import FakeMage
from tests.fakes.cluster import text_output
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/home/src/project/transformers/fill_in_missing_values.py", line 12, in transform',
    "    raise ValueError('unique-boom-7731')",
    "ValueError: unique-boom-7731",
]


def body(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def reads_of(mage: FakeMage, path_part: str) -> int:
    return len([r for r in mage.recorder.requests if r.method == "GET" and path_part in r.path])


def calls_to_mage(mage: FakeMage) -> list[str]:
    """The requests that reached the fake, the status probe and the login excluded."""
    return [f"{r.method} {r.path}" for r in mage.recorder.requests if not r.path.endswith(("/sessions", "/statuses"))]


def new_run(mage: FakeMage, status: str = "initial", variables: dict[str, Any] | None = None) -> dict[str, Any]:
    trigger = next(iter(mage.pipeline_schedules.values()), None) or mage.add_trigger(
        "example_pipeline", status="active"
    )
    run = mage.trigger_run(trigger["id"], variables or {})
    if status != "initial":
        mage.complete_run(run["id"], status)
    return run


def failed_run(mage: FakeMage, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run whose second block failed with a traceback in its log, and whose third was skipped."""
    run = new_run(mage, variables=variables)
    for block in run["block_runs"]:
        block["status"] = "initial"
    mage.complete_run(run["id"], "failed")
    run["block_runs"][0]["status"] = "completed"
    run["block_runs"][1]["status"] = "failed"
    run["block_runs"][2]["status"] = "upstream_failed"
    mage.add_log(run["id"], "load_titanic", "INFO", "loaded 891 rows")
    mage.add_log(run["id"], "fill_in_missing_values", "INFO", "filling")
    mage.add_log(
        run["id"],
        "fill_in_missing_values",
        "EXCEPTION",
        "Failed to execute block fill_in_missing_values",
        error="unique-boom-7731",
        stacktrace="\n".join(TRACEBACK),
    )
    return run


# -- list_runs --------------------------------------------------------------------------------


async def test_list_runs_pages_newest_first_with_one_request_per_page(client: Client, mage: FakeMage) -> None:
    runs = [new_run(mage, "completed") for _ in range(5)]
    mage.recorder.clear()
    first = body(await client.call_tool("list_runs", {"pipeline_uuid": "example_pipeline", "limit": 3}))
    second = body(
        await client.call_tool(
            "list_runs", {"pipeline_uuid": "example_pipeline", "limit": 3, "cursor": first["next_cursor"]}
        )
    )
    ids = [r["id"] for r in first["runs"] + second["runs"]]
    assert ids == sorted((r["id"] for r in runs), reverse=True)
    assert first["total"] == 5 and "next_cursor" not in second
    assert reads_of(mage, "/pipeline_runs") == 2
    item = first["runs"][0]
    assert set(item) == {"id", "pipeline_uuid", "status", "trigger_id", "started_at", "completed_at", "duration_s"}


async def test_list_runs_filters_by_status_and_since(client: Client, mage: FakeMage) -> None:
    failed = new_run(mage, "failed")
    new_run(mage, "completed")
    result = body(await client.call_tool("list_runs", {"status": "failed", "since": "1h"}))
    assert [r["id"] for r in result["runs"]] == [failed["id"]]
    assert all(r["status"] == "failed" for r in result["runs"])
    (request,) = [r for r in mage.recorder.requests if r.path == "/api/pipeline_runs"]
    assert request.query["status"] == "failed" and int(request.query["start_timestamp"]) > time.time() - 3700


async def test_list_runs_with_5000_runs_stays_small(client: Client, mage: FakeMage) -> None:
    for _ in range(5000):
        new_run(mage, "completed")
    result = await client.call_tool("list_runs", {"limit": 100})
    assert len(body(result)["runs"]) == 100 and body(result)["total"] == 5000
    assert len(result.content[0].text) < 30_000  # type: ignore[union-attr]


def test_since_takes_iso_times_and_durations() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now=now) == now - timedelta(hours=24)
    assert parse_since("1d 12h", now=now) == now - timedelta(hours=36)
    assert parse_since("2026-12-01T08:00:00") == datetime(2026, 12, 1, 8, tzinfo=UTC)
    assert parse_since("2026-12-01T08:00:00+01:00") == datetime(2026, 12, 1, 7, tzinfo=UTC)


async def test_a_bad_since_is_refused_before_any_request(client: Client, mage: FakeMage) -> None:
    result = await client.call_tool("list_runs", {"since": "yesterday-ish"})
    assert result.is_error and "24h" in result.content[0].text  # type: ignore[union-attr]
    assert [r for r in mage.recorder.requests if "pipeline_runs" in r.path] == []


# -- get_run_logs -----------------------------------------------------------------------------


async def test_logs_filter_by_exact_block_and_level_and_keep_the_traceback(client: Client, mage: FakeMage) -> None:
    run = failed_run(mage)
    mage.add_log(run["id"], "fill_in_missing_values_2", "ERROR", "a block whose uuid only starts the same")
    mage.recorder.clear()
    result = body(
        await client.call_tool(
            "get_run_logs", {"run_id": run["id"], "block_uuid": "fill_in_missing_values", "level": "error"}
        )
    )
    messages = [line["message"] for line in result["lines"]]
    assert messages[-1] == "ValueError: unique-boom-7731" and TRACEBACK[0] in messages
    assert all(line["block_uuid"] == "fill_in_missing_values" for line in result["lines"])
    assert all(line["level"] == "error" for line in result["lines"])
    assert "filling" not in messages and "a block whose uuid only starts the same" not in messages
    assert result["truncated"] is False and result["matched"] == result["returned"]
    logs = [r for r in mage.recorder.requests if r.path.endswith("/logs")]
    assert len(logs) == 1 and "pipeline_run_id[]" in logs[0].query and "pipeline_run_id" not in logs[0].query
    assert len(calls_to_mage(mage)) == 2  # the run (for its pipeline), then its logs


async def test_logs_contains_and_tail_say_how_many_were_left_out(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "completed")
    for i in range(50):
        mage.add_log(run["id"], "load_titanic", "INFO", f"row batch {i}")
    result = body(await client.call_tool("get_run_logs", {"run_id": run["id"], "contains": "batch", "tail": 10}))
    assert [line["message"] for line in result["lines"]] == [f"row batch {i}" for i in range(40, 50)]
    assert result["matched"] == 50 and result["returned"] == 10
    assert result["truncated"] is True and result["left_out"] == 40


async def test_logs_of_another_run_of_the_pipeline_never_show(client: Client, mage: FakeMage) -> None:
    mine, other = new_run(mage, "completed"), new_run(mage, "completed")
    mage.add_log(mine["id"], "load_titanic", "INFO", "mine")
    mage.add_log(other["id"], "load_titanic", "INFO", "not mine")
    result = body(await client.call_tool("get_run_logs", {"run_id": mine["id"]}))
    messages = [line["message"] for line in result["lines"]]
    assert "mine" in messages and "not mine" not in messages


async def test_a_50_mb_log_gives_a_small_result(client: Client, mage: FakeMage) -> None:
    run = failed_run(mage)
    line = json.dumps({"level": "INFO", "message": "x" * 5000, "block_uuid": "load_titanic"})
    mage.add_raw_log(run["id"], "load_titanic.log", "\n".join(f"2026-12-03T08:00:00 {line}" for _ in range(10_000)))
    default = await client.call_tool("get_run_logs", {"run_id": run["id"]})
    largest = await client.call_tool("get_run_logs", {"run_id": run["id"], "tail": 2000})
    diagnosis = await client.call_tool("diagnose_run", {"run_id": run["id"]})
    for result in (default, largest):
        assert len(result.content[0].text.encode()) < 100_000  # type: ignore[union-attr]
        assert body(result)["truncated"] is True and all(len(x["message"]) <= 2100 for x in body(result)["lines"])
    assert len(diagnosis.content[0].text.encode()) < 20_000  # type: ignore[union-attr]
    assert body(diagnosis)["failed_blocks"][0]["error_lines"][-1] == "ValueError: unique-boom-7731"


# -- wait_for_run -----------------------------------------------------------------------------


async def test_wait_for_a_done_run_returns_at_once(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "completed")
    result = body(await client.call_tool("wait_for_run", {"run_id": run["id"]}))
    assert result["status"] == "completed" and result["timed_out"] is False and result["waited_s"] == 0
    assert reads_of(mage, f"/pipeline_runs/{run['id']}") == 1


async def test_wait_for_run_polls_with_progress_until_done(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "running")
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async def finish_later() -> None:
        await anyio.sleep(2.5)
        mage.complete_run(run["id"], "completed")

    async with anyio.create_task_group() as tg:
        tg.start_soon(finish_later)
        result = body(await client.call_tool("wait_for_run", {"run_id": run["id"]}, progress_callback=on_progress))
    assert result["status"] == "completed" and result["timed_out"] is False
    assert len(progress) >= 3 and "running" in (progress[0] or "") and "blocks" in (progress[0] or "")
    assert reads_of(mage, f"/pipeline_runs/{run['id']}") == len(progress)  # one request per poll


async def test_wait_for_run_times_out_with_the_current_state(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "running")
    with anyio.fail_after(10):
        result = body(await client.call_tool("wait_for_run", {"run_id": run["id"], "timeout_s": 2}))
    assert result["status"] == "running" and result["timed_out"] is True and result["id"] == run["id"]
    assert "cancel_run" in result["hint"]  # every block still initial: the scheduler never picked it up


async def test_a_wait_on_a_run_that_is_moving_gives_no_hint(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "running")
    run["block_runs"][0]["status"] = "running"
    result = body(await client.call_tool("wait_for_run", {"run_id": run["id"], "timeout_s": 1}))
    assert result["timed_out"] is True and "hint" not in result


async def test_other_calls_are_answered_while_a_wait_runs(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "running")
    latencies: list[float] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.call_tool, "wait_for_run", {"run_id": run["id"], "timeout_s": 4})
        await anyio.sleep(0.5)
        for _ in range(3):
            started = time.monotonic()
            assert not (await client.call_tool("list_pipelines", {})).is_error
            latencies.append(time.monotonic() - started)
            await anyio.sleep(0.5)
    assert max(latencies) < 1.0


async def test_an_unknown_run_suggests_list_runs(client: Client) -> None:
    result = await client.call_tool("wait_for_run", {"run_id": 4242})
    assert result.is_error and "list_runs" in result.content[0].text  # type: ignore[union-attr]


# -- diagnose_run -----------------------------------------------------------------------------


async def test_diagnose_run_explains_a_failure_in_at_most_four_requests(client: Client, mage: FakeMage) -> None:
    good = new_run(mage, "completed", {"day": "mon", "same": 1})
    run = failed_run(mage, {"day": "tue", "same": 1})
    mage.recorder.clear()
    result = body(await client.call_tool("diagnose_run", {"pipeline_uuid": "example_pipeline"}))
    assert len(calls_to_mage(mage)) <= 4
    assert result["run_id"] == run["id"] and result["status"] == "failed"
    (failed,) = result["failed_blocks"]
    assert failed["block_uuid"] == "fill_in_missing_values"
    assert failed["error_lines"][-1] == "ValueError: unique-boom-7731" and len(failed["error_lines"]) <= 40
    assert result["skipped_blocks"] == ["export_titanic_clean"]
    assert result["last_success"]["id"] == good["id"]
    assert result["last_success"]["variables_that_differ"] == {"day": {"this_run": "tue", "last_success": "mon"}}
    assert {"tool": "get_run_logs"}.items() <= result["next"][0].items()
    assert result["next"][0]["arguments"]["block_uuid"] == "fill_in_missing_values"


async def test_diagnose_a_pipeline_without_failures_says_so(client: Client, mage: FakeMage) -> None:
    new_run(mage, "completed")
    result = await client.call_tool("diagnose_run", {"pipeline_uuid": "example_pipeline"})
    assert result.is_error and "no failed run" in result.content[0].text  # type: ignore[union-attr]


# -- get_block_output -------------------------------------------------------------------------


async def test_block_output_shows_columns_and_first_rows(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "completed")
    block_run = run["block_runs"][0]
    rows = [[i, "x" * 3000] for i in range(500)]
    mage.set_block_output(
        block_run["id"],
        {
            "sample_data": {"columns": ["id", "text"], "rows": rows},
            "shape": [500, 2],
            "type": "table",
            "variable_uuid": "output_0",
        },
    )
    result = body(
        await client.call_tool("get_block_output", {"run_id": run["id"], "block_uuid": "load_titanic", "rows": 5})
    )
    (output,) = result["outputs"]
    assert output["columns"] == ["id", "text"] and output["total_rows"] == 500
    assert [row[0] for row in output["rows"]] == [0, 1, 2, 3, 4]
    assert len(output["rows"][0][1]) < 2100


async def test_a_block_that_returned_a_long_list_gives_its_first_outputs_and_a_count(
    client: Client, mage: FakeMage
) -> None:
    run = new_run(mage, "completed")
    mage.set_block_output(run["block_runs"][0]["id"], [text_output("t" * 5000) for _ in range(500)])
    result = await client.call_tool("get_block_output", {"run_id": run["id"], "block_uuid": "load_titanic"})
    shown = body(result)
    assert len(shown["outputs"]) == 20 and shown["outputs_left_out"] == 480
    assert all(len(o["text"]) < 2100 and o["truncated"] for o in shown["outputs"])
    assert len(result.content[0].text.encode()) < 100_000  # type: ignore[union-attr]


async def test_block_output_of_a_block_not_in_the_run_names_its_blocks(client: Client, mage: FakeMage) -> None:
    run = new_run(mage, "completed")
    result = await client.call_tool("get_block_output", {"run_id": run["id"], "block_uuid": "nope"})
    assert result.is_error and "load_titanic" in result.content[0].text  # type: ignore[union-attr]


# -- cancel / retry / delete ------------------------------------------------------------------


async def test_cancel_stops_a_running_run(make_server: ServerFactory, mage: FakeMage) -> None:
    run = new_run(mage, "running")
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = body(await c.call_tool("cancel_run", {"run_id": run["id"]}))
    assert result["status"] == "cancelled" and result["run_id"] == run["id"]
    (put,) = [r for r in mage.recorder.requests if r.method == "PUT"]
    assert put.json == {"pipeline_run": {"status": "cancelled"}}


async def test_cancel_of_a_done_run_is_a_no_op_that_says_so(make_server: ServerFactory, mage: FakeMage) -> None:
    run = new_run(mage, "completed")
    async with Client(make_server()) as c:
        result = body(await c.call_tool("cancel_run", {"run_id": run["id"]}))
    assert result["status"] == "completed" and "already done" in result["message"]
    assert [r for r in mage.recorder.requests if r.method == "PUT"] == []


async def test_retry_reruns_the_failed_blocks(make_server: ServerFactory, mage: FakeMage) -> None:
    run = failed_run(mage)
    prompts: list[str] = []
    from tests.unit.conftest import answer

    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = body(await c.call_tool("retry_run", {"run_id": run["id"]}))
    assert "fill_in_missing_values, export_titanic_clean" in prompts[0] and "load_titanic" not in prompts[0]
    assert result["status"] == "running"
    (put,) = [r for r in mage.recorder.requests if r.method == "PUT"]
    assert put.json == {"pipeline_run": {"pipeline_run_action": "retry_blocks"}}


async def test_retry_from_a_block_names_it_and_its_downstream(make_server: ServerFactory, mage: FakeMage) -> None:
    run = new_run(mage, "completed")
    prompts: list[str] = []
    from tests.unit.conftest import answer

    async with Client(make_server(), elicitation_callback=answer("decline", seen=prompts)) as c:
        await c.call_tool("retry_run", {"run_id": run["id"], "from_block_uuid": "fill_in_missing_values"})
    assert "fill_in_missing_values, export_titanic_clean" in prompts[0] and "load_titanic" not in prompts[0]


async def test_retry_of_a_running_run_points_to_wait_or_cancel(make_server: ServerFactory, mage: FakeMage) -> None:
    run = new_run(mage, "running")
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("retry_run", {"run_id": run["id"]})
    assert result.is_error and "wait_for_run" in result.content[0].text and "cancel_run" in result.content[0].text  # type: ignore[union-attr]


async def test_delete_plan_names_the_run_and_delete_removes_it(make_server: ServerFactory, mage: FakeMage) -> None:
    run = new_run(mage, "failed")
    async with Client(make_server()) as c:
        first = body(await c.call_tool("delete_run", {"run_id": run["id"]}))
        assert f"run {run['id']} of pipeline 'example_pipeline' (failed" in first["plan"]["summary"]
        body(await c.call_tool("delete_run", {"run_id": run["id"], "confirmation_token": first["confirmation_token"]}))
    assert run["id"] not in mage.pipeline_runs


# -- trigger_pipeline idempotency -------------------------------------------------------------


async def test_the_same_idempotency_key_returns_the_first_run(make_server: ServerFactory, mage: FakeMage) -> None:
    call = {"pipeline_uuid": "example_pipeline", "variables": {"n": 1}, "idempotency_key": "nightly-2026-12-03"}
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        first = body(await c.call_tool("trigger_pipeline", call))
        again = body(await c.call_tool("trigger_pipeline", call))
        other = await c.call_tool("trigger_pipeline", {**call, "variables": {"n": 2}})
    assert again["run_id"] == first["run_id"] and len(mage.pipeline_runs) == 1
    assert other.is_error and "other arguments" in other.content[0].text  # type: ignore[union-attr]


async def test_concurrent_calls_with_one_key_start_one_run(make_server: ServerFactory, mage: FakeMage) -> None:
    call = {"pipeline_uuid": "example_pipeline", "idempotency_key": "k1"}
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c, anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(c.call_tool, "trigger_pipeline", call)
    assert len(mage.pipeline_runs) == 1


async def test_a_run_hidden_by_its_deleted_trigger_says_so_and_can_still_be_deleted(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    trigger = mage.add_trigger("example_pipeline", status="active")
    run = mage.trigger_run(trigger["id"])
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        body(await c.call_tool("delete_trigger", {"trigger_id": trigger["id"]}))
        shown = await c.call_tool("get_run", {"run_id": run["id"]})
        assert shown.is_error
        message = shown.content[0].text  # type: ignore[union-attr]
        assert "its trigger was deleted" in message and "Hint: delete_run still deletes it" in message
        deleted = await c.call_tool("delete_run", {"run_id": run["id"]})
    assert not deleted.is_error and body(deleted)["status"] == "deleted" and body(deleted)["run_id"] == run["id"]
    assert "no longer shows" in prompts[1]
    assert mage.orphaned_runs == {} and mage.pipeline_runs == {}
