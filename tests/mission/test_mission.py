"""The whole mission, end to end: a real MCP client, a real `mage-mcp` over stdio, a real local Mage
Cloud and the real Mage OSS cluster it runs.

Test 1 confirms every change and follows it through: start the cluster, run a pipeline with run
variables, set an environment variable (which restarts the cluster), see the block read it, stop
the cluster. Test 2 declines every change and checks, from the Cloud API's state and Mage's own API
(never from the tool's answer), that nothing changed.

The two tests share one local cloud, one cluster and one `mage-mcp` session (see conftest.py);
each creates its own uniquely named pipeline.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.support.processes import processes_under

from .conftest import GREETING, Mission
from .steps import (
    call,
    confirmed,
    confirmed_wait,
    declined,
    ok,
    power,
    server_pid,
    text_of,
    wait_for_run,
    wait_until_mage_answers,
)

GREETING_2 = "hola-lifecycle"  # differs from GREETING, which the first test leaves set

pytestmark = [pytest.mark.anyio, pytest.mark.mage]


# GREETING is an environment variable of the Mage process; `who` is a run variable (a block kwarg).
LOADER_CODE = """\
import os

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def load_mission(*args, **kwargs):
    return {"greeting": os.environ.get("GREETING"), "who": kwargs.get("who")}
"""


# ------------------------------------------------------------------------------------ helpers
async def run_and_read_output(mission: Mission, pipeline: str, block: str, who: str) -> dict[str, Any]:
    """Trigger the pipeline through MCP (confirmed), wait for the run, and read the block's output from Mage."""
    started = await confirmed(
        mission, "trigger_pipeline", {"pipeline_uuid": pipeline, "variables": {"who": who}}, mentions=pipeline
    )
    assert isinstance(started.get("run_id"), int), started
    assert started["pipeline_uuid"] == pipeline, started
    run = await wait_for_run(mission, started["run_id"])
    assert run["status"] == "completed", f"{run}{mission.local.diagnostics()}"
    assert run["pipeline_uuid"] == pipeline, run
    assert run["block_runs"] == [{"block_uuid": block, "status": "completed"}], run
    mage_run = await mission.mage.run(started["run_id"])
    (block_run,) = mage_run["block_runs"]
    output = await mission.mage.block_output(int(block_run["id"]))
    return dict(zip(output["columns"], output["rows"][0], strict=True))


async def new_pipeline(mission: Mission) -> tuple[str, str]:
    """A uniquely named pipeline with one data_loader block, made through Mage's own API."""
    tag = secrets.token_hex(4)
    pipeline = await mission.mage.create_pipeline(f"mission_{tag}")
    block = await mission.mage.add_loader_block(pipeline, f"mission_load_{tag}", LOADER_CODE)
    return pipeline, block


# -------------------------------------------------------------------------------------- tests
async def test_mission_confirmed_at_every_step(mission: Mission) -> None:
    env = mission.local.env
    cluster_id = env["MAGE_CLUSTER_ID"]
    asked = len(mission.answers.seen)
    assert power(await mission.cloud.cluster()) == ("Stopped", 0), "a new local cloud's cluster starts Stopped"
    assert await mission.mage.status() is None, "the stopped cluster's Mage answers"

    # Start the cluster.
    started = await confirmed(mission, "start_cluster", {}, mentions=cluster_id)
    assert started["status"] == "Active", started
    assert started["cluster_id"] == cluster_id, started
    assert power(await mission.cloud.cluster()) == ("Active", 1)
    listed, errors = await wait_until_mage_answers(mission)
    assert errors, "list_pipelines answered at once, though the cluster's Mage was only just started"
    first_pid = await server_pid(mission)
    assert processes_under(mission.local.state_dir, besides=mission.local.proc.pid), (
        "no Mage process found for the running cluster: the checks that none remain would prove nothing"
    )

    # A pipeline of our own, made through Mage's API, shows up in list_pipelines.
    await mission.mage.login(env["MAGE_EMAIL"], env["MAGE_PASSWORD"])
    pipeline, block = await new_pipeline(mission)
    listed = ok(await call(mission, "list_pipelines", {"limit": 100}), "list_pipelines")
    assert pipeline in [p["uuid"] for p in listed["pipelines"]], listed

    # Run it with a run variable: the block sees `who`, and no GREETING yet.
    output = await run_and_read_output(mission, pipeline, block, who="mcp")
    assert output == {"greeting": None, "who": "mcp"}, output

    # Set GREETING: the value goes to the Cloud API, never back out through the tool or its prompt.
    mission.answers.action = "accept"
    result = await call(mission, "set_env_vars", {"env_vars": {"GREETING": GREETING}})
    assert len(mission.answers.seen) == asked + 3, mission.answers.seen
    assert "GREETING" in mission.answers.seen[-1], mission.answers.seen[-1]
    assert GREETING not in mission.answers.seen[-1], "the confirmation prompt shows the variable's value"
    changed = ok(result, "set_env_vars")
    assert changed["status"] == "applied", changed
    assert changed["added"] == ["GREETING"], changed
    assert GREETING not in text_of(result), f"set_env_vars returned the value: {text_of(result)}"
    assert GREETING not in json.dumps(changed), changed
    cluster = await mission.cloud.cluster()
    assert power(cluster) == ("Active", 1), cluster
    assert {"name": "GREETING", "value": GREETING} in cluster["config"]["extraEnvs"], cluster["config"]

    # The cluster restarts to apply it; once it answers again, a new run sees GREETING.
    await wait_until_mage_answers(mission)
    assert await server_pid(mission) != first_pid, "the cluster's Mage was not restarted by set_env_vars"
    output = await run_and_read_output(mission, pipeline, block, who="mcp again")
    assert output == {"greeting": GREETING, "who": "mcp again"}, output

    # Stop the cluster: the Cloud API says so, Mage is gone, and list_pipelines says what to do.
    stopped = await confirmed(mission, "stop_cluster", {}, mentions=cluster_id)
    assert stopped["status"] == "Stopped", stopped
    assert power(await mission.cloud.cluster()) == ("Stopped", 0)
    assert await mission.mage.status() is None, "the stopped cluster's Mage still answers"
    result = await call(mission, "list_pipelines")
    assert result.is_error, f"list_pipelines answered on a stopped cluster: {text_of(result)}"
    assert "not reachable" in text_of(result), text_of(result)
    assert "start_cluster" in text_of(result), text_of(result)
    assert len(mission.answers.seen) == asked + 5, mission.answers.seen


async def test_declined_changes_change_nothing(mission: Mission) -> None:
    env = mission.local.env
    cluster_id = env["MAGE_CLUSTER_ID"]
    cluster = await mission.cloud.cluster()
    if cluster["status"] != "Stopped":  # only when the first test failed half-way: set-up, not under test
        cluster = await mission.cloud.put_cluster(
            {"status": "Stopped", "config": {**cluster["config"], "replicaCount": 0}}
        )
    assert power(cluster) == ("Stopped", 0), cluster

    # A declined start: the Cloud API still says Stopped, no Mage process runs, nothing answers.
    await declined(mission, "start_cluster", {}, mentions=cluster_id)
    assert await mission.cloud.cluster() == cluster
    running = processes_under(mission.local.state_dir, besides=mission.local.proc.pid)
    assert not running, "a declined start_cluster started Mage:\n" + "\n".join(running)
    assert await mission.mage.status() is None, f"{env['MAGE_CLUSTER_URL']} answers after a declined start"

    # Start it for real, and give it a pipeline of our own.
    await confirmed(mission, "start_cluster", {}, mentions=cluster_id)
    await wait_until_mage_answers(mission)
    await mission.mage.login(env["MAGE_EMAIL"], env["MAGE_PASSWORD"])
    pipeline, _ = await new_pipeline(mission)

    # A declined run: no run and no trigger reach Mage.
    runs, schedules = await mission.mage.runs(pipeline), await mission.mage.schedules(pipeline)
    await declined(
        mission, "trigger_pipeline", {"pipeline_uuid": pipeline, "variables": {"who": "declined"}}, mentions=pipeline
    )
    assert await mission.mage.runs(pipeline) == runs == []
    assert await mission.mage.schedules(pipeline) == schedules == []

    # A declined env var change: the Cloud API's config is the same, and Mage was not restarted.
    before = await mission.cloud.cluster()
    pid = await server_pid(mission)
    result = await declined(mission, "set_env_vars", {"env_vars": {"GREETING": "declined"}}, mentions="GREETING")
    assert "declined" not in mission.answers.seen[-1], "the confirmation prompt shows the variable's value"
    assert result.get("added", []) == [] and result.get("updated", []) == [], result
    after = await mission.cloud.cluster()
    assert after == before, f"a declined set_env_vars changed the cluster: {before} -> {after}"
    assert after["config"].get("extraEnvs") == before["config"].get("extraEnvs")
    assert await server_pid(mission) == pid, "a declined set_env_vars restarted the cluster's Mage"

    # A declined stop: still Active, and Mage still answers (the same process).
    await declined(mission, "stop_cluster", {}, mentions=cluster_id)
    assert power(await mission.cloud.cluster()) == ("Active", 1)
    assert await server_pid(mission) == pid, "a declined stop_cluster stopped or restarted the cluster's Mage"

    # Stop it for real.
    await confirmed(mission, "stop_cluster", {}, mentions=cluster_id)
    assert power(await mission.cloud.cluster()) == ("Stopped", 0)
    assert await mission.mage.status() is None, "the stopped cluster's Mage still answers"
    running = processes_under(mission.local.state_dir, besides=mission.local.proc.pid)
    assert not running, "Mage processes remain after stop_cluster:\n" + "\n".join(running)


async def test_the_cluster_lifecycle_tools(mission: Mission) -> None:
    env = mission.local.env
    cluster = await mission.cloud.cluster()
    if cluster["status"] != "Stopped":  # only when an earlier test failed half-way: set-up, not under test
        await mission.cloud.put_cluster({"status": "Stopped", "config": {**cluster["config"], "replicaCount": 0}})

    # Start with wait: it returns once Mage answers, with progress while it waits.
    started, progress = await confirmed_wait(mission, "start_cluster", {})
    assert started["api"] == "ready" and progress and "cluster API" in progress[0], (started, progress)
    assert not (await call(mission, "list_pipelines")).is_error
    first_pid = await server_pid(mission)

    # Restart with wait: a new Mage process answers when it returns.
    restarted, progress = await confirmed_wait(mission, "restart_cluster", {})
    assert restarted["action"] == "restarted" and progress, restarted
    assert await server_pid(mission) != first_pid, "restart_cluster did not restart the cluster's Mage"

    # A config change keeps every other field as it was.
    before = await mission.cloud.cluster()
    changed = await confirmed(mission, "update_cluster_config", {"config": {"resources": {"cpu": "2"}}}, mentions="cpu")
    assert changed["changed"] == ["resources.cpu"], changed
    after = await mission.cloud.cluster()
    assert after["config"] == {**before["config"], "resources": {**before["config"].get("resources", {}), "cpu": "2"}}

    # Set, then unset, GREETING; after the restart the unset reaches Mage's environment.
    await mission.mage.login(env["MAGE_EMAIL"], env["MAGE_PASSWORD"])
    pipeline, block = await new_pipeline(mission)
    await confirmed_wait(mission, "set_env_vars", {"env_vars": {"GREETING": GREETING_2}})
    assert (await run_and_read_output(mission, pipeline, block, who="set"))["greeting"] == GREETING_2
    removed, _ = await confirmed_wait(mission, "unset_env_vars", {"names": ["GREETING", "NEVER_SET"]})
    assert removed["removed"] == ["GREETING"] and removed["absent"] == ["NEVER_SET"], removed
    assert "GREETING" not in {e["name"] for e in (await mission.cloud.cluster())["config"].get("extraEnvs", [])}
    assert (await run_and_read_output(mission, pipeline, block, who="unset"))["greeting"] is None

    stopped = await confirmed(mission, "stop_cluster", {}, mentions=env["MAGE_CLUSTER_ID"])
    assert stopped["status"] == "Stopped" and await mission.mage.status() is None
