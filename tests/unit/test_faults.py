"""Faults between mage-mcp and Mage: reads are retried with backoff, then fail clearly; changes are never
retried, and a change whose answer was lost is settled by reading Mage back, or reported as unknown with
the tool that reads it back. The audit log says which.

`FaultyTransport` sits between the server and the fakes; what reached Mage is read from the fakes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.runtime import Runtime
from tests.fakes import FakeCloud, FakeMage
from tests.fakes.faults import FaultyTransport
from tests.unit.conftest import CLUSTER, TEAM

pytestmark = pytest.mark.anyio

CLUSTER_PATH = f"/api/v1/teams/{TEAM}/clusters/{CLUSTER}"


class Faulty:
    def __init__(self, mage: FakeMage, cloud: FakeCloud) -> None:
        self.mage, self.cloud = mage, cloud
        self.cluster = FaultyTransport(httpx.ASGITransport(app=mage.app))
        self.cloud_api = FaultyTransport(httpx.ASGITransport(app=cloud.app))

    def server(self) -> MageMCPServer:
        settings = Settings(
            _env_file=None,
            mage_cluster_url="http://mage.test",
            mage_email=self.mage.email,
            mage_password=self.mage.password,
            mage_cloud_url="http://cloud.test/api/v1",
            mage_cloud_api_key=self.cloud.api_key,
            mage_cloud_email=self.cloud.email,
            mage_cloud_password=self.cloud.password,
            mage_team_id=TEAM,
            mage_cluster_id=CLUSTER,
            mage_mcp_confirm_fallback="allow",
        )
        return build_server(runtime=Runtime(settings, cluster_transport=self.cluster, cloud_transport=self.cloud_api))


@pytest.fixture
def faulty(mage: FakeMage, cloud: FakeCloud) -> Faulty:
    return Faulty(mage, cloud)


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


def audited() -> list[dict[str, Any]]:
    path = Path(os.environ["MAGE_MCP_AUDIT_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()]


def posts(mage: FakeMage, path: str) -> int:
    return len(mage.recorder.filter("POST", path))


def env_names(cloud: FakeCloud) -> set[str]:
    return {env["name"] for env in cloud.cluster(CLUSTER)["config"].get("extraEnvs", [])}


# ------------------------------------------------------------------------------------ reads
@pytest.mark.parametrize("kind", ["refuse", "drop", "cut", "status"])
async def test_a_read_that_fails_twice_is_retried_and_answers(faulty: Faulty, kind: Any) -> None:
    faulty.cluster.inject("GET", "/api/pipelines", kind, times=2)
    async with Client(faulty.server()) as c:
        result = await c.call_tool("list_pipelines", {})
    assert not result.is_error, text(result)
    assert faulty.cluster.tried("GET", "/api/pipelines") == 3


async def test_a_read_that_keeps_failing_stops_after_three_tries_and_the_server_serves_on(
    faulty: Faulty,
) -> None:
    faulty.cluster.inject("GET", "/api/pipelines", "refuse", times=100)
    async with Client(faulty.server()) as c:
        failed = await c.call_tool("list_pipelines", {})
        other = await c.call_tool("get_cluster", {})
    assert failed.is_error and "not reachable (ConnectError)" in text(failed) and "get_cluster" in text(failed)
    assert faulty.cluster.tried("GET", "/api/pipelines") == 3
    assert not other.is_error, text(other)


async def test_a_read_answered_503_each_time_is_mages_error_after_three_tries(faulty: Faulty) -> None:
    faulty.cluster.inject("GET", "/api/pipelines", "status", times=100, status=503)
    async with Client(faulty.server()) as c:
        failed = await c.call_tool("list_pipelines", {})
    assert failed.is_error and "503" in text(failed)
    assert faulty.cluster.tried("GET", "/api/pipelines") == 3


# ---------------------------------------------------------------------------------- changes
async def test_a_change_is_never_retried(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/secrets", "status", status=503)
    async with Client(faulty.server()) as c:
        result = await c.call_tool("create_secret", {"name": "TOKEN", "value": "v4lue"})
    assert result.is_error and faulty.cluster.tried("POST", "/api/secrets") == 1
    assert posts(mage, "/api/secrets") == 0 and audited()[-1]["outcome"] == "failed"


async def test_a_change_that_could_not_connect_is_known_not_applied(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/secrets", "refuse")
    async with Client(faulty.server()) as c:
        result = await c.call_tool("create_secret", {"name": "TOKEN", "value": "v4lue"})
    assert result.is_error and "not reachable" in text(result)
    assert mage.secret_value("TOKEN") is None
    assert [r["outcome"] for r in audited()] == ["pending", "failed"]


@pytest.mark.parametrize("kind", ["lose_answer", "cut"])
async def test_a_change_whose_answer_was_lost_and_that_cannot_be_settled_is_unknown(
    faulty: Faulty, mage: FakeMage, kind: Any
) -> None:
    mage.pro = True
    mage.add_workspace("dev")
    faulty.cluster.inject("PUT", "/api/workspaces/dev", kind)
    async with Client(faulty.server()) as c:
        result = await c.call_tool("update_workspace", {"name": "dev", "action": "stop"})
    assert result.is_error and "may or may not have been applied" in text(result)
    assert "Read it back with get_workspace" in text(result)
    assert mage.workspaces["dev"]["instance"]["status"] == "STOPPED"  # it was, in fact
    pending, unknown = audited()
    assert (pending["outcome"], unknown["outcome"]) == ("pending", "unknown")
    assert unknown["upstream"] is None and "may or may not" in unknown["message"]


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_change_a_gateway_answered_5xx_after_mage_applied_it_is_settled_as_applied(
    faulty: Faulty, mage: FakeMage, cloud: FakeCloud, status: int
) -> None:
    faulty.cluster.inject("POST", "/api/secrets", "gateway", status=status)
    faulty.cloud_api.inject("PUT", "/api/v1/teams/", "gateway", status=status)
    async with Client(faulty.server()) as c:
        secret = await c.call_tool("create_secret", {"name": "TOKEN", "value": "v4lue"})
        env = await c.call_tool("set_env_vars", {"env_vars": {"GATEWAY_VAR": "v"}})
    assert not secret.is_error and not env.is_error, (text(secret), text(env))
    assert posts(mage, "/api/secrets") == 1 and mage.secret_value("TOKEN") == "v4lue"
    assert "GATEWAY_VAR" in env_names(cloud) and faulty.cloud_api.tried("PUT", "/api/v1/teams/") == 1


async def test_a_run_start_a_gateway_answered_502_is_unknown_and_never_repeated(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/pipeline_schedules/", "gateway", status=502)
    async with Client(faulty.server()) as c:
        result = await c.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline"})
    assert (
        result.is_error and "answered HTTP 502" in text(result) and "may or may not have been applied" in text(result)
    )
    assert "Read it back with list_runs" in text(result)
    assert faulty.cluster.tried("POST", "/api/pipeline_schedules/") == 1 and len(mage.pipeline_runs) == 1
    assert audited()[-1]["outcome"] == "unknown"


@pytest.mark.parametrize("kind", ["lose_answer", "cut"])
async def test_a_secret_whose_answer_was_lost_is_settled_by_reading_it_back(
    faulty: Faulty, mage: FakeMage, kind: Any
) -> None:
    faulty.cluster.inject("POST", "/api/secrets", kind)
    async with Client(faulty.server()) as c:
        result = await c.call_tool("create_secret", {"name": "TOKEN", "value": "v4lue"})
    assert not result.is_error, text(result)
    assert result.structured_content is not None and result.structured_content["status"] == "created"
    assert posts(mage, "/api/secrets") == 1 and mage.secret_value("TOKEN") == "v4lue"
    assert audited()[-1]["outcome"] == "applied" and "settled by reading Mage back" in audited()[-1]["message"]


async def test_a_lost_answer_stays_unknown_when_mage_cannot_be_read_back(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/secrets", "lose_answer")
    faulty.cluster.inject("GET", "/api/secrets", "refuse", times=100, after=1)  # the plan's read goes through
    async with Client(faulty.server()) as c:
        result = await c.call_tool("create_secret", {"name": "TOKEN", "value": "v4lue"})
    assert result.is_error and "may or may not have been applied" in text(result), text(result)
    assert "Read it back with list_secrets" in text(result)
    assert audited()[-1]["outcome"] == "unknown"


async def test_a_variable_whose_request_was_lost_is_settled_as_not_applied(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/pipelines/example_pipeline/variables", "drop")
    async with Client(faulty.server()) as c:
        result = await c.call_tool("set_variable", {"pipeline_uuid": "example_pipeline", "name": "day", "value": 3})
        variables = await c.call_tool("list_variables", {"pipeline_uuid": "example_pipeline"})
    assert result.is_error and "was not applied: nothing changed" in text(result), text(result)
    assert variables.structured_content is not None and "day" not in json.dumps(variables.structured_content)
    assert audited()[-1]["outcome"] == "failed" and "settled by reading Mage back" in audited()[-1]["message"]


async def test_a_trigger_whose_answer_was_lost_is_settled_by_its_name(faulty: Faulty, mage: FakeMage) -> None:
    faulty.cluster.inject("POST", "/api/pipelines/example_pipeline/pipeline_schedules", "lose_answer")
    arguments = {"pipeline_uuid": "example_pipeline", "name": "hourly", "type": "time", "schedule": "@hourly"}
    async with Client(faulty.server()) as c:
        result = await c.call_tool("create_trigger", arguments)
    assert not result.is_error, text(result)
    assert result.structured_content is not None and result.structured_content["status"] == "created"
    created = [t for t in mage.pipeline_schedules.values() if t["name"] == "hourly"]
    assert len(created) == 1 and result.structured_content["trigger_id"] == created[0]["id"]


async def test_a_trigger_delete_that_never_arrived_is_settled_as_not_applied(faulty: Faulty, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", name="old")
    faulty.cluster.inject("DELETE", f"/api/pipeline_schedules/{trigger['id']}", "drop")
    async with Client(faulty.server()) as c:
        result = await c.call_tool("delete_trigger", {"trigger_id": trigger["id"]})
    assert result.is_error and "was not applied: nothing changed" in text(result), text(result)
    assert trigger["id"] in mage.pipeline_schedules


async def test_set_env_vars_whose_answer_was_lost_but_applied_says_applied(faulty: Faulty, cloud: FakeCloud) -> None:
    faulty.cloud_api.inject("PUT", CLUSTER_PATH, "lose_answer")
    async with Client(faulty.server()) as c:
        result = await c.call_tool("set_env_vars", {"env_vars": {"GREETING": "hello"}})
    assert not result.is_error, text(result)
    assert result.structured_content is not None and result.structured_content["added"] == ["GREETING"]
    assert "GREETING" in env_names(cloud) and faulty.cloud_api.tried("PUT", CLUSTER_PATH) == 1
    pending, applied = audited()
    assert (pending["outcome"], applied["outcome"]) == ("pending", "applied")
    assert "answer to PUT was lost" in applied["message"]
    assert "settled by reading Mage back" in applied["message"]


async def test_set_env_vars_whose_request_was_lost_says_nothing_changed(faulty: Faulty, cloud: FakeCloud) -> None:
    faulty.cloud_api.inject("PUT", CLUSTER_PATH, "drop")
    async with Client(faulty.server()) as c:
        result = await c.call_tool("set_env_vars", {"env_vars": {"GREETING": "hello"}})
    assert result.is_error and "was not applied: nothing changed" in text(result)
    assert "The call can be repeated" in text(result) and "on its own side" not in text(result)
    assert "GREETING" not in env_names(cloud) and faulty.cloud_api.tried("PUT", CLUSTER_PATH) == 1
    pending, failed = audited()
    assert (pending["outcome"], failed["outcome"]) == ("pending", "failed")
    assert "settled by reading Mage back" in failed["message"]


# ------------------------------------------------------------------------------------ waits
async def test_a_wait_outlasts_mage_not_answering_for_a_while(faulty: Faulty, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", status="active")
    run = mage.trigger_run(trigger["id"], {})
    mage.complete_run(run["id"], "running")
    # After the wait's first read, Mage refuses two whole polls (three tries each), as while it restarts.
    faulty.cluster.inject("GET", f"/api/pipeline_runs/{run['id']}", "refuse", times=6, after=1)
    notes: list[str] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        notes.append(message or "")
        if sum("Mage did not answer" in note for note in notes) == 2:
            mage.complete_run(run["id"], "completed")  # back, and the run is done

    arguments = {"run_id": run["id"], "timeout_s": 60}
    async with Client(faulty.server()) as c:
        result = await c.call_tool("wait_for_run", arguments, progress_callback=on_progress)
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    assert (result.structured_content["status"], result.structured_content["timed_out"]) == ("completed", False)
    assert "not reachable" in next(note for note in notes if "Mage did not answer" in note)


async def test_a_run_deleted_during_the_wait_is_a_clean_not_found(faulty: Faulty, mage: FakeMage) -> None:
    trigger = mage.add_trigger("example_pipeline", status="active")
    run = mage.trigger_run(trigger["id"], {})
    mage.complete_run(run["id"], "running")

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        mage.pipeline_runs.pop(run["id"], None)

    async with Client(faulty.server()) as c:
        result = await c.call_tool("wait_for_run", {"run_id": run["id"]}, progress_callback=on_progress)
    assert result.is_error and "was not found" in text(result) and "list_runs" in text(result), text(result)
