"""Pin the Mage fake's triggers (pipeline schedules): create validation, list order, and runs started
through them, by trigger token without auth or with a session."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.fakes import FakeMage
from tests.unit.fake_clients import assert_shape3, auth_headers

pytestmark = pytest.mark.anyio


async def test_trigger_create_validation(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await auth_headers(mc, mage)
    url = "/api/pipelines/example_pipeline/pipeline_schedules"
    r = await mc.post(url, headers=headers, json={"pipeline_schedule": {"name": "hook", "schedule_type": "api"}})
    created = r.json()["pipeline_schedule"]
    assert re.fullmatch(r"[0-9a-f]{32}", created["token"])
    assert created["status"] == "inactive"
    r = await mc.post(url, headers=headers, json={"pipeline_schedule": {"schedule_type": "api"}})
    err = r.json()["error"]
    assert (r.status_code, err["code"], err["type"]) == (200, 200, "record_invalid")
    r = await mc.post(url, headers=headers, json={"pipeline_schedule": {"name": "x", "tags": ["a"]}})
    assert_shape3(r.json(), "'tags' is an invalid keyword argument for PipelineSchedule")
    r = await mc.post(url, headers=headers, json={"pipeline_schedule": {"name": "second", "schedule_type": "api"}})
    r = await mc.get(url, headers=headers)
    assert [s["name"] for s in r.json()["pipeline_schedules"]] == ["second", "hook"]  # id desc


async def test_token_trigger_needs_no_auth_and_activates_trigger(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline")
    assert trigger["status"] == "inactive"
    r = await mc.post(
        f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs/{trigger['token']}",
        json={"pipeline_run": {"variables": {"x": 1}}, "source": "test"},
    )
    body = r.json()
    assert set(body) == {"pipeline_run"}  # no metadata key on this route
    run = body["pipeline_run"]
    assert run["status"] == "initial"
    assert run["variables"]["x"] == 1
    assert re.fullmatch(rf"{trigger['id']}/\d{{8}}T\d{{6}}_\d{{6}}", run["variables"]["execution_partition"])
    assert run["event_variables"] == {"source": "test"}
    assert mage.pipeline_schedules[trigger["id"]]["status"] == "active"
    # the Bearer form
    r = await mc.post(
        f"/api/pipeline_schedules/{trigger['id']}/api_trigger",
        headers={"Authorization": f"Bearer {trigger['token']}"},
        json={"pipeline_run": {"variables": {}}},
    )
    assert r.json()["pipeline_run"]["status"] == "initial"
    # bad token / missing trigger: shape 3
    r = await mc.post(f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs/wrongtoken", json={})
    assert_shape3(r.json(), f"Invalid token for pipeline schedule ID {trigger['id']}.")
    r = await mc.post("/api/pipeline_schedules/999999/pipeline_runs/abc", json={"pipeline_run": {}})
    assert r.json()["error"]["code"] == 500 and "record_not_found" in r.json()["error"]["exception"]


async def test_authenticated_run_and_polling(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await auth_headers(mc, mage)
    trigger = mage.add_trigger("example_pipeline")
    r = await mc.post(
        f"/api/pipeline_schedules/{trigger['id']}/pipeline_runs",
        headers=headers,
        json={"pipeline_run": {"variables": {"y": 2}}},
    )
    body = r.json()
    assert body["metadata"] is None
    run_id = body["pipeline_run"]["id"]
    assert body["pipeline_run"]["status"] == "initial"
    mage.complete_run(run_id)
    r = await mc.get(f"/api/pipeline_runs/{run_id}", headers=headers)
    run = r.json()["pipeline_run"]
    assert run["status"] == "completed"
    assert {br["status"] for br in run["block_runs"]} == {"completed"}
    assert " " in run["completed_at"] and "T" not in run["completed_at"]
    r = await mc.get(f"/api/pipeline_runs/{run_id}/block_runs", headers=headers)
    assert "T" in r.json()["block_runs"][0]["completed_at"]  # block-run routes use ISO with a T
