"""Pin the run-list, cancel, retry and delete quirks of the Mage fake, as a real Mage 0.9.80 showed them,
and its auto-completing runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes import FakeMage
from tests.unit.fake_clients import asgi_client, auth_headers

pytestmark = pytest.mark.anyio


@pytest.fixture
def mage() -> FakeMage:
    return FakeMage(require_auth=False)


@pytest.fixture
def trigger(mage: FakeMage) -> dict[str, Any]:
    return mage.add_trigger("example_pipeline", status="active")


async def ids(mc: httpx.AsyncClient, **params: Any) -> tuple[list[int], dict[str, Any]]:
    body = (await mc.get("/api/pipeline_runs", params=params)).json()
    return [r["id"] for r in body["pipeline_runs"]], body["metadata"]


async def put(mc: httpx.AsyncClient, run_id: int, change: dict[str, Any]) -> dict[str, Any]:
    response = await mc.put(f"/api/pipeline_runs/{run_id}", json={"pipeline_run": change})
    body: dict[str, Any] = response.json()
    return body


def block_statuses(mage: FakeMage, run_id: int) -> list[str]:
    return [b["status"] for b in mage.pipeline_runs[run_id]["block_runs"]]


# -- lists --------------------------------------------------------------------------------------


def test_add_runs_makes_5000_runs_fast_and_spaced(mage: FakeMage, trigger: dict[str, Any]) -> None:
    started = time.perf_counter()
    runs = mage.add_runs(trigger["id"], 5000)
    assert time.perf_counter() - started < 3
    assert len(mage.pipeline_runs) == 5000 and {r["status"] for r in runs} == {"completed"}
    assert runs[1]["created_at"] - runs[0]["created_at"] == timedelta(seconds=1)
    assert runs[-1]["created_at"] <= datetime.now(UTC).replace(tzinfo=None)


async def test_start_timestamp_is_after_that_second_and_end_timestamp_up_to_it(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    runs = mage.add_runs(trigger["id"], 3, first_created_at=datetime(2026, 12, 3, 9, 2, 57))
    second = int(runs[1]["created_at"].replace(tzinfo=UTC).timestamp())
    assert (await ids(mc, start_timestamp=second))[0] == [runs[2]["id"]]  # SQLite compares text
    assert (await ids(mc, start_timestamp=second - 1))[0] == [runs[2]["id"], runs[1]["id"]]
    assert (await ids(mc, end_timestamp=second))[0] == [runs[1]["id"], runs[0]["id"]]
    error = (await mc.get("/api/pipeline_runs", params={"start_timestamp": "1.5"})).json()["error"]
    assert (error["code"], error["type"]) == (400, "record_invalid")
    assert error["message"] == "Value is invalid for start_timestamp."


async def test_order_by_takes_columns_and_directions(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    runs = mage.add_runs(trigger["id"], 3)
    newest_first = [r["id"] for r in reversed(runs)]
    assert (await ids(mc))[0] == newest_first  # execution_date desc, id desc
    assert (await ids(mc, **{"order_by[]": "id desc"}))[0] == newest_first
    assert (await ids(mc, **{"order_by[]": "id"}))[0] == newest_first[::-1]
    assert (await ids(mc, **{"order_by[]": "status asc, id desc"}))[0] == newest_first
    assert (await ids(mc, **{"_order_by[]": "id"}))[0] == newest_first  # a meta key: not an order
    body = (await mc.get("/api/pipeline_runs", params={"order_by[]": "nope desc"})).json()
    assert body["error"]["exception"] == "type object 'PipelineRun' has no attribute 'nope'"
    body = (await mc.get("/api/pipeline_runs", params={"order_by[]": "id sideways"})).json()
    assert "has an attribute 'sideways'" in body["error"]["exception"]


async def test_retries_grouping_reshapes_a_pipelines_pages_unless_disabled(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    runs = mage.add_runs(trigger["id"], 6)
    for run in runs[0:3]:  # three retries of the oldest execution date
        run["execution_date"] = runs[0]["execution_date"]
    newest_first = [r["id"] for r in reversed(runs)]
    grouped, meta = await ids(mc, pipeline_uuid="example_pipeline", _limit=4)
    assert grouped == newest_first[:3] + sorted(newest_first[3:], reverse=True)[:2]  # a page of 5, not 4
    assert meta == {"count": 6, "next": True}
    exact, meta = await ids(mc, pipeline_uuid="example_pipeline", _limit=4, disable_retries_grouping="true")
    assert exact == newest_first[:4] and meta == {"count": 6, "next": True}
    assert (await ids(mc, _limit=4))[0] == newest_first[:4]  # no pipeline, no trigger: no grouping
    past_end = (await mc.get("/api/pipeline_runs", params={"pipeline_uuid": "example_pipeline", "_offset": 50})).json()
    assert past_end["error"]["exception"] == "list index out of range"
    assert (await ids(mc, pipeline_uuid="example_pipeline", _offset=50, disable_retries_grouping="true")) == (
        [],
        {"count": 6, "next": False},
    )


async def test_run_lists_do_not_carry_the_trigger_token_away_from_mage_shape(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    mage.trigger_run(trigger["id"])
    (item,) = (await mc.get("/api/pipeline_runs")).json()["pipeline_runs"]
    assert item["pipeline_schedule_token"] == trigger["token"]  # Mage does send it: clients must drop it


async def test_db_backed_lists_default_limit_40(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline")
    for _ in range(45):
        mage.trigger_run(trigger["id"])
    headers = await auth_headers(mc, mage)
    r = await mc.get("/api/pipeline_runs", params={"pipeline_uuid": "example_pipeline"}, headers=headers)
    body = r.json()
    assert len(body["pipeline_runs"]) == 40
    assert body["metadata"] == {"count": 45, "next": True}
    assert body["pipeline_runs"][0]["id"] == 45  # newest first
    r = await mc.get("/api/pipeline_runs", params={"_limit": 2, "_offset": 44}, headers=headers)
    assert r.json()["metadata"] == {"count": 45, "next": False}
    assert [run["id"] for run in r.json()["pipeline_runs"]] == [1]
    r = await mc.get("/api/pipelines/example_pipeline/pipeline_schedules", headers=headers)
    assert r.json()["metadata"] == {"count": 1, "next": False}


# -- polling ------------------------------------------------------------------------------------


async def test_auto_complete_on_next_get() -> None:
    mage = FakeMage(auto_complete=True)
    trigger = mage.add_trigger("example_pipeline")
    run = mage.trigger_run(trigger["id"])
    async with asgi_client(mage.app, "http://mage.test") as mc:
        headers = await auth_headers(mc, mage)
        r = await mc.get(f"/api/pipeline_runs/{run['id']}", headers=headers)
        assert r.json()["pipeline_run"]["status"] == "completed"


# -- cancel, retry, delete ----------------------------------------------------------------------


async def test_cancel_acts_only_on_initial_or_running_runs(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    running, done = mage.trigger_run(trigger["id"]), mage.trigger_run(trigger["id"])
    mage.complete_run(running["id"], "running")
    running["block_runs"][0]["status"] = "completed"
    running["block_runs"][1]["status"] = "running"
    mage.complete_run(done["id"], "failed")
    body = await put(mc, running["id"], {"status": "cancelled"})
    assert body["pipeline_run"]["status"] == "cancelled" and "block_runs" not in body["pipeline_run"]
    assert block_statuses(mage, running["id"]) == ["completed", "cancelled", "cancelled"]
    assert (await put(mc, done["id"], {"status": "cancelled"}))["pipeline_run"]["status"] == "failed"


async def test_other_statuses_in_a_put_are_silently_ignored(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"], "running")
    for status in ("completed", "failed", "initial"):
        response = await mc.put(f"/api/pipeline_runs/{run['id']}", json={"pipeline_run": {"status": status}})
        assert response.status_code == 200 and response.json()["pipeline_run"]["status"] == "running"


async def test_retry_from_a_block_resets_it_and_its_downstream_even_when_completed(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"])
    retry = {"pipeline_run_action": "retry_blocks", "from_block_uuid": "fill_in_missing_values"}
    body = await put(mc, run["id"], retry)
    assert body["pipeline_run"]["status"] == "running" and "block_runs" not in body["pipeline_run"]
    assert block_statuses(mage, run["id"]) == ["completed", "initial", "initial"]


async def test_retry_from_a_block_outside_the_body_or_unknown_resets_nothing(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"])
    outside = {"pipeline_run": {"pipeline_run_action": "retry_blocks"}, "from_block_uuid": "load_titanic"}
    await mc.put(f"/api/pipeline_runs/{run['id']}", json=outside)
    assert block_statuses(mage, run["id"]) == ["completed"] * 3 and run["status"] == "running"
    await put(mc, run["id"], {"pipeline_run_action": "retry_blocks", "from_block_uuid": "nope"})
    assert block_statuses(mage, run["id"]) == ["completed"] * 3 and run["status"] == "running"


async def test_retry_of_a_failed_run_resets_what_did_not_complete(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    run["block_runs"][0]["status"] = "completed"
    mage.complete_run(run["id"], "failed")
    await put(mc, run["id"], {"pipeline_run_action": "retry_blocks"})
    assert block_statuses(mage, run["id"]) == ["completed", "initial", "initial"] and run["status"] == "running"


async def test_delete_answers_the_run_then_it_is_gone(
    mc: httpx.AsyncClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    body = (await mc.delete(f"/api/pipeline_runs/{run['id']}")).json()
    assert body["pipeline_run"]["id"] == run["id"] and body["metadata"] is None
    assert (await mc.get(f"/api/pipeline_runs/{run['id']}")).json()["error"]["type"] == "record_not_found"
    assert (await mc.delete(f"/api/pipeline_runs/{run['id']}")).json()["error"]["code"] == 404
