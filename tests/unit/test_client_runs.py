"""Pipeline runs through the cluster client: paging, filters, cancel, retry, delete, not-found names."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mage_mcp.clients import HIDDEN_RUN, ClusterClient, MageNotFoundError, PipelineRun
from tests.fakes import FakeMage

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cluster(cluster: ClusterClient, mage: FakeMage) -> ClusterClient:
    """The client, logged in: the requests the tests count are their own."""
    await cluster.list_pipelines(limit=1)
    mage.recorder.clear()
    return cluster


@pytest.fixture
def trigger(mage: FakeMage) -> dict[str, Any]:
    return mage.add_trigger("example_pipeline", status="active")


def run_requests(mage: FakeMage) -> list[dict[str, str]]:
    return [r.query for r in mage.recorder.requests if r.path == "/api/pipeline_runs"]


async def test_list_runs_is_one_request_per_page_newest_first(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    runs = mage.add_runs(trigger["id"], 5)
    first = await cluster.list_runs(pipeline_uuid="example_pipeline", limit=3)
    second = await cluster.list_runs(pipeline_uuid="example_pipeline", limit=3, offset=3)
    assert [r.id for r in first.items + second.items] == sorted((r["id"] for r in runs), reverse=True)
    assert (first.total, first.has_more, second.has_more) == (5, True, False)
    assert run_requests(mage)[0] == {
        "_limit": "3",
        "_offset": "0",
        "disable_retries_grouping": "true",
        "order_by[]": "id desc",
        "pipeline_uuid": "example_pipeline",
    }


async def test_list_runs_pages_stay_exact_when_runs_share_an_execution_date(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    runs = mage.add_runs(trigger["id"], 6)
    for run in runs[1:4]:  # retries of one execution date, as Mage makes them
        run["execution_date"] = runs[1]["execution_date"]
    pages = [await cluster.list_runs(pipeline_uuid="example_pipeline", limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p.items) for p in pages] == [2, 2, 2]
    assert [r.id for p in pages for r in p.items] == [r["id"] for r in reversed(runs)]


async def test_list_runs_filters_by_status_and_creation_time(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    old = mage.add_runs(trigger["id"], 3, status="failed", first_created_at=datetime(2026, 1, 1))
    new = mage.add_runs(trigger["id"], 2, status="failed")
    mage.add_runs(trigger["id"], 2, status="completed")
    since = datetime.now(UTC) - timedelta(hours=1)
    page = await cluster.list_runs(status="failed", created_after=since, limit=10)
    assert sorted(r.id for r in page.items) == sorted(r["id"] for r in new) and page.total == 2
    query = run_requests(mage)[-1]
    assert query["status"] == "failed" and query["start_timestamp"] == str(int(since.timestamp()))
    assert "pipeline_uuid" not in query
    naive = await cluster.list_runs(status="failed", created_after=datetime(2025, 12, 31), limit=10)
    assert naive.total == len(old) + len(new)  # a naive time is taken as UTC


async def test_list_runs_pages_through_5000_runs_one_request_each(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    started = time.perf_counter()
    mage.add_runs(trigger["id"], 5000)
    assert time.perf_counter() - started < 5
    seen: list[int] = []
    offset = 0
    mage.recorder.clear()
    while True:
        page = await cluster.list_runs(limit=100, offset=offset)
        seen += [r.id for r in page.items]
        offset += len(page.items)
        if not page.has_more:
            break
    assert len(seen) == 5000 == len(set(seen)) and seen == sorted(seen, reverse=True)
    assert len(mage.recorder.requests) == 50


async def test_runs_carry_their_trigger_creation_time_and_variables_but_never_the_trigger_token(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    mage.trigger_run(trigger["id"], {"day": "mon"})
    (run,) = (await cluster.list_runs(limit=5)).items
    assert run.pipeline_schedule_id == trigger["id"] and run.variables and run.variables["day"] == "mon"
    assert run.created_at is not None and run.created_at.tzinfo is not None
    assert trigger["token"] not in repr(run) and trigger["token"] not in run.model_dump_json()  # Mage sent it
    assert not any("token" in name for name in PipelineRun.model_fields)


async def test_cancel_acts_on_a_running_run_and_leaves_a_done_one(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    running, done = mage.trigger_run(trigger["id"]), mage.trigger_run(trigger["id"])
    mage.complete_run(running["id"], "running")
    mage.complete_run(done["id"], "completed")
    cancelled = await cluster.cancel_run(running["id"])
    unchanged = await cluster.cancel_run(done["id"])
    assert (cancelled.status, unchanged.status) == ("cancelled", "completed")
    assert {b["status"] for b in mage.pipeline_runs[running["id"]]["block_runs"]} == {"cancelled"}
    puts = [r.json for r in mage.recorder.requests if r.method == "PUT"]
    assert puts == [{"pipeline_run": {"status": "cancelled"}}] * 2


async def test_retry_sends_the_block_inside_the_run_and_resets_it_and_its_downstream(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"], "completed")
    retried = await cluster.retry_run(run["id"], "fill_in_missing_values")
    assert retried.status == "running" and retried.id == run["id"]
    assert [(b["block_uuid"], b["status"]) for b in mage.pipeline_runs[run["id"]]["block_runs"]] == [
        ("load_titanic", "completed"),
        ("fill_in_missing_values", "initial"),
        ("export_titanic_clean", "initial"),
    ]
    (put,) = [r for r in mage.recorder.requests if r.method == "PUT"]
    assert put.json == {
        "pipeline_run": {"pipeline_run_action": "retry_blocks", "from_block_uuid": "fill_in_missing_values"}
    }


async def test_retry_without_a_block_reruns_what_did_not_complete(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"], "failed")
    run["block_runs"][0]["status"] = "completed"
    assert (await cluster.retry_run(run["id"])).status == "running"
    assert [b["status"] for b in run["block_runs"]] == ["completed", "initial", "initial"]
    (put,) = [r for r in mage.recorder.requests if r.method == "PUT"]
    assert put.json == {"pipeline_run": {"pipeline_run_action": "retry_blocks"}}


async def test_delete_removes_the_run(cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]) -> None:
    run = mage.trigger_run(trigger["id"])
    await cluster.delete_run(run["id"])
    assert run["id"] not in mage.pipeline_runs


async def test_a_run_whose_trigger_was_deleted_is_hidden_and_still_deletable(
    cluster: ClusterClient, mage: FakeMage, trigger: dict[str, Any]
) -> None:
    run = mage.trigger_run(trigger["id"])
    await cluster.delete_trigger(trigger["id"])
    with pytest.raises(MageNotFoundError) as caught:
        await cluster.get_run(run["id"])
    assert caught.value.kind == HIDDEN_RUN and "its trigger was deleted" in caught.value.message
    await cluster.delete_run(run["id"])
    assert mage.orphaned_runs == {}


@pytest.mark.parametrize("action", ["get_run", "cancel_run", "retry_run", "delete_run"])
async def test_every_missing_run_is_named(cluster: ClusterClient, action: str) -> None:
    with pytest.raises(MageNotFoundError) as caught:
        await getattr(cluster, action)(4242)
    assert str(caught.value).startswith("Pipeline run 4242 was not found.")
