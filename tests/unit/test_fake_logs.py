"""Pin the logs and outputs routes of the Mage fake, as a real Mage 0.9.80 showed them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.fakes import FakeMage
from tests.fakes.cluster import table_output

pytestmark = pytest.mark.anyio

LOGS = "/api/pipelines/example_pipeline/logs"
RECORD_KEYS = ["block_type", "block_uuid", "pipeline_uuid", "block_run_id", "pipeline_run_id"]
RECORD_KEYS += ["level", "message", "timestamp", "uuid"]


@pytest.fixture
def mage() -> FakeMage:
    return FakeMage(require_auth=False)


@pytest.fixture
def runs(mage: FakeMage) -> list[dict[str, Any]]:
    trigger = mage.add_trigger("example_pipeline", status="active")
    made = [mage.trigger_run(trigger["id"]) for _ in range(3)]
    for run in made:
        mage.add_log(run["id"], "load_titanic", "INFO", f"run {run['id']} loads")
    return made


async def logs_of(mc: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    body = (await mc.get(LOGS, params=params)).json()
    assert set(body) == {"logs", "metadata"} and body["metadata"] == {} and len(body["logs"]) == 1
    found: dict[str, Any] = body["logs"][0]
    return found


def names(files: list[dict[str, Any]]) -> list[str]:
    return [f"{f['path'].split('/.logs/')[1]}" for f in files]


async def test_only_the_array_form_filters_by_run(mc: httpx.AsyncClient, runs: list[dict[str, Any]]) -> None:
    everything = await logs_of(mc)
    singular = await logs_of(mc, pipeline_run_id=runs[0]["id"])
    assert singular == everything and everything["total_pipeline_run_log_count"] == 3  # silently ignored
    one = await logs_of(mc, **{"pipeline_run_id[]": runs[0]["id"]})
    partition = runs[0]["variables"]["execution_partition"]
    assert names(one["pipeline_run_logs"]) == [f"{partition}/pipeline.log", f"{partition}/scheduler.log"]
    assert {n.split("/")[-1] for n in names(one["block_run_logs"])} == {
        "load_titanic.log",
        "fill_in_missing_values.log",
        "export_titanic_clean.log",
    }
    two = await logs_of(mc, **{"pipeline_run_id[]": f"{runs[0]['id']},{runs[2]['id']}"})
    assert two["total_pipeline_run_log_count"] == 2 and len(two["pipeline_run_logs"]) == 4
    assert (one["total_pipeline_run_log_count"], one["total_block_run_log_count"]) == (1, 3)


async def test_files_as_mage_lists_them(mc: httpx.AsyncClient, runs: list[dict[str, Any]]) -> None:
    found = await logs_of(mc, **{"pipeline_run_id[]": runs[0]["id"]})
    assert list(found) == [
        "block_run_logs",
        "pipeline_run_logs",
        "total_block_run_log_count",
        "total_pipeline_run_log_count",
    ]
    written = next(f for f in found["block_run_logs"] if f["name"] == "load_titanic.log")
    assert list(written) == ["name", "path", "size", "modified_timestamp", "content"]
    assert written["size"] == len(written["content"]) and isinstance(written["modified_timestamp"], float)
    never = next(f for f in found["pipeline_run_logs"] if f["name"] == "pipeline.log")
    assert (never["content"], never["size"], never["modified_timestamp"]) == ("", None, None)


async def test_a_block_filter_is_a_like_prefix_and_drops_the_pipeline_files(
    mc: httpx.AsyncClient, runs: list[dict[str, Any]]
) -> None:
    run_id = runs[0]["id"]
    for prefix in ("fill", "FILL_IN", "fill_in_missing_values", "fill%values", "f_ll"):
        found = await logs_of(mc, **{"pipeline_run_id[]": run_id, "block_uuid[]": prefix})
        assert [f["name"] for f in found["block_run_logs"]] == ["fill_in_missing_values.log"], prefix
        assert (found["pipeline_run_logs"], found["total_pipeline_run_log_count"]) == ([], 0)
    both = await logs_of(mc, **{"pipeline_run_id[]": run_id, "block_uuid[]": "load,export"})
    assert sorted(f["name"] for f in both["block_run_logs"]) == ["export_titanic_clean.log", "load_titanic.log"]
    block_run = runs[1]["block_runs"][0]
    by_id = await logs_of(mc, **{"block_run_id[]": block_run["id"]})
    (file,) = by_id["block_run_logs"]
    assert f"run {runs[1]['id']} loads" in file["content"] and by_id["pipeline_run_logs"] == []


async def test_at_most_20_files_of_each_kind(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", status="active")
    for _ in range(12):
        mage.trigger_run(trigger["id"])
    found = await logs_of(mc)
    assert len(found["pipeline_run_logs"]) == 20 and len(found["block_run_logs"]) == 20
    assert (found["total_pipeline_run_log_count"], found["total_block_run_log_count"]) == (12, 36)


async def test_editor_logs_are_appended_whatever_the_filter(
    mc: httpx.AsyncClient, mage: FakeMage, runs: list[dict[str, Any]]
) -> None:
    mage.add_editor_log("example_pipeline", "load_titanic", "2026-12-03T09:00:00 notebook run\n")
    found = await logs_of(mc, **{"pipeline_run_id[]": runs[0]["id"], "block_uuid[]": "export"})
    assert found["block_run_logs"][0]["name"] == "export_titanic_clean.log"
    editor = found["block_run_logs"][-1]
    assert "/.logs/edit_pipeline/load_titanic/" in editor["path"] and editor["content"].endswith("notebook run\n")


async def test_add_log_writes_records_as_mage_does(mage: FakeMage, runs: list[dict[str, Any]]) -> None:
    run = runs[0]
    text = mage.add_log(
        run["id"], "fill_in_missing_values", "EXCEPTION", "Failed", error="boom", stacktrace="Tb\nX: boom"
    )
    head, plain = text.split("\n", 1)
    stamp, payload = head.split(" ", 1)
    record = json.loads(payload)
    assert len(stamp) == 19 and stamp[10] == "T"
    assert list(record)[: len(RECORD_KEYS)] == RECORD_KEYS
    assert (record["error_stacktrace"], record["error"], record["level"]) == ("boom", "Tb\nX: boom", "EXCEPTION")
    assert isinstance(record["error_stack"], list) and plain == "Tb\nX: boom\n"  # logging.exception's lines
    assert record["block_run_id"] == run["block_runs"][1]["id"] and record["block_type"] == "transformer"
    written = mage.add_log(run["id"], None, "INFO", "alive")
    scheduler = json.loads(written.split(" ", 1)[1])
    assert list(scheduler) == [
        "pipeline_run_id", "pipeline_schedule_id", "pipeline_uuid", "level", "message", "timestamp", "uuid"
    ]
    assert mage.log_text(run["id"], "scheduler.log").endswith(written)


async def test_a_50_mb_log_is_served_whole_and_appends_stay_linear(
    mc: httpx.AsyncClient, mage: FakeMage, runs: list[dict[str, Any]]
) -> None:
    run_id = runs[0]["id"]
    chunk = "x" * 9_999
    started = time.perf_counter()
    for _ in range(5_000):
        mage.add_raw_log(run_id, "load_titanic.log", chunk)
    assert time.perf_counter() - started < 1
    started = time.perf_counter()
    for _ in range(2):
        found = await logs_of(mc, **{"pipeline_run_id[]": run_id, "block_uuid[]": "load"})
    assert time.perf_counter() - started < 10
    (file,) = found["block_run_logs"]
    assert file["size"] == len(file["content"]) > 50_000_000


async def test_logs_of_a_missing_pipeline_are_an_unhandled_error(mc: httpx.AsyncClient) -> None:
    body = (await mc.get("/api/pipelines/nope/logs")).json()
    assert body["error"]["exception"] == "Pipeline nope does not exist."


# -- outputs ------------------------------------------------------------------------------------


async def test_outputs_of_a_block_run(mc: httpx.AsyncClient, mage: FakeMage, runs: list[dict[str, Any]]) -> None:
    block_run = runs[0]["block_runs"][0]
    assert (await mc.get(f"/api/block_runs/{block_run['id']}/outputs")).json() == {"outputs": [], "metadata": {}}
    mage.set_block_output(block_run["id"], table_output(["a"], [[1], [2]]))
    (output,) = (await mc.get(f"/api/block_runs/{block_run['id']}/outputs")).json()["outputs"]
    assert output["sample_data"] == {"columns": ["a"], "rows": [[1], [2]]} and output["shape"] == [2, 1]
    assert set(output) == {"outputs", "sample_data", "shape", "text_data", "type", "variable_uuid"}


async def test_outputs_of_an_unknown_or_deleted_block_run_are_empty(
    mc: httpx.AsyncClient, mage: FakeMage, runs: list[dict[str, Any]]
) -> None:
    block_run = runs[0]["block_runs"][0]
    mage.set_block_output(block_run["id"], table_output(["a"], [[1]]))
    await mc.delete(f"/api/pipeline_runs/{runs[0]['id']}")
    for pk in (block_run["id"], 99999, "abc"):
        assert (await mc.get(f"/api/block_runs/{pk}/outputs")).json() == {"outputs": [], "metadata": {}}


async def test_outputs_need_a_session_when_auth_is_on() -> None:
    mage = FakeMage()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mage.app), base_url="http://mage.test") as mc:
        body = (await mc.get("/api/block_runs/1/outputs", headers={"X-API-KEY": mage.api_key})).json()
    assert body["error"]["type"] == "unauthorized_access"
