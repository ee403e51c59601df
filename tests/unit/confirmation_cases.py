"""The mutating calls `test_confirmation` tries on every path: one `Case` per mutating tool.

A case is a call that is a real change on the fakes once its `prepare` ran, and the request
that is that change. Cases are grouped per resource, like the tools.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mage_mcp.tools import TOOLS
from tests.fakes import FakeCloud, FakeMage
from tests.unit.conftest import CLUSTER, TEAM

OTHER_CLUSTER = "cluster-2"
PLANES = {spec.name: spec.plane for spec in TOOLS}
Prepare = Callable[[FakeMage, FakeCloud], None]


def mutations(tool: str, mage: FakeMage, cloud: FakeCloud) -> list[tuple[str, str]]:
    """Requests that change state (logins excluded) on the plane this tool acts on."""
    recorder = cloud.recorder if PLANES[tool] == "cloud" else mage.recorder
    return [(r.method, r.path) for r in recorder.mutations() if not r.path.endswith("/sessions")]


def _set_power(status: str, replicas: int) -> Prepare:
    def prepare(mage: FakeMage, cloud: FakeCloud) -> None:
        for cluster in cloud.clusters.values():
            cluster["status"], cluster["config"]["replicaCount"] = status, replicas

    return prepare


def _without_greeting(mage: FakeMage, cloud: FakeCloud) -> None:
    for cluster in cloud.clusters.values():
        cluster["config"]["extraEnvs"] = [e for e in cluster["config"]["extraEnvs"] if e["name"] != "GREETING"]


def _with_greeting(mage: FakeMage, cloud: FakeCloud) -> None:
    _without_greeting(mage, cloud)
    for cluster in cloud.clusters.values():
        cluster["config"]["extraEnvs"].append({"name": "GREETING", "value": "hello-secret"})


def _cpu_one(mage: FakeMage, cloud: FakeCloud) -> None:
    for cluster in cloud.clusters.values():
        cluster["config"]["resources"] = {"cpu": "1"}


def _second_pipeline_and_trigger(mage: FakeMage, cloud: FakeCloud) -> None:
    if "other_pipeline" not in mage.pipelines:
        mage.add_pipeline("other_pipeline", blocks=["load_other"])
        mage.add_trigger("example_pipeline", name="nightly", schedule_type="api", status="active")


def _two_runs(status: str) -> Prepare:
    """Runs 1 and 2 of example_pipeline, both `status` (re-made when a test deleted one)."""

    def prepare(mage: FakeMage, cloud: FakeCloud) -> None:
        if not mage.pipeline_runs:
            trigger = mage.add_trigger("example_pipeline", status="active")
            mage.trigger_run(trigger["id"])
            mage.trigger_run(trigger["id"])
        for run_id in (1, 2):
            if run_id not in mage.pipeline_runs:
                mage.pipeline_runs[run_id] = copy.deepcopy(mage.pipeline_runs[3 - run_id]) | {"id": run_id}
            mage.complete_run(run_id, status)

    return prepare


@dataclass(frozen=True)
class Case:
    """One call of a mutating tool that is a real change on the fakes, once `prepare` ran."""

    arguments: dict[str, Any]
    effect: tuple[str, str]  # the request that is the change: method, end of the path
    prepare: Prepare = lambda mage, cloud: None
    variants: dict[str, Any] = field(default_factory=dict)  # other values that still plan, where the schema can't say

    def applied(self, tool: str, mage: FakeMage, cloud: FakeCloud) -> bool:
        method, path_end = self.effect
        return any(m == method and p.endswith(path_end) for m, p in mutations(tool, mage, cloud))


CLOUD_VARIANTS = {"team_id": TEAM, "cluster_id": OTHER_CLUSTER}
CLUSTER_PUT = ("PUT", f"/clusters/{CLUSTER}")
RUN_1 = "/api/pipeline_runs/1"
RUN_CASES: dict[str, Case] = {
    "cancel_run": Case({"run_id": 1}, ("PUT", RUN_1), _two_runs("running"), {"run_id": 2}),
    "retry_run": Case(
        {"run_id": 1}, ("PUT", RUN_1), _two_runs("failed"), {"run_id": 2, "from_block_uuid": "load_titanic"}
    ),
    "delete_run": Case({"run_id": 1}, ("DELETE", RUN_1), _two_runs("completed"), {"run_id": 2}),
    "trigger_pipeline": Case(
        {"pipeline_uuid": "example_pipeline", "variables": {"x": 1}},
        ("POST", "/pipeline_runs"),
        _second_pipeline_and_trigger,
        {"pipeline_uuid": "other_pipeline", "trigger_id": 1},
    ),
}
CLOUD_CASES: dict[str, Case] = {
    "start_cluster": Case({}, CLUSTER_PUT, _set_power("Stopped", 0), CLOUD_VARIANTS),
    "stop_cluster": Case({}, CLUSTER_PUT, _set_power("Active", 1), CLOUD_VARIANTS),
    "restart_cluster": Case({}, CLUSTER_PUT, _set_power("Active", 1), CLOUD_VARIANTS),
    "set_env_vars": Case({"env_vars": {"GREETING": "hello-secret"}}, CLUSTER_PUT, _without_greeting, CLOUD_VARIANTS),
    "unset_env_vars": Case({"names": ["GREETING"]}, CLUSTER_PUT, _with_greeting, CLOUD_VARIANTS),
    "update_cluster_config": Case({"config": {"resources": {"cpu": "2"}}}, CLUSTER_PUT, _cpu_one, CLOUD_VARIANTS),
}


# ---------------------------------------------------------------- pipelines
def _without_daily_sales(mage: FakeMage, cloud: FakeCloud) -> None:
    mage.pipelines.pop("daily_sales", None)


def _undescribed_pipelines(mage: FakeMage, cloud: FakeCloud) -> None:
    if "other_pipeline" not in mage.pipelines:
        mage.add_pipeline("other_pipeline", blocks=["load_other"])
    mage.pipelines["example_pipeline"]["description"] = None


def _doomed_pipelines(mage: FakeMage, cloud: FakeCloud) -> None:
    for uuid in ("doomed", "other_pipeline"):
        if uuid not in mage.pipelines:
            mage.add_pipeline(uuid, blocks=[f"load_{uuid}"])
            mage.add_trigger(uuid, name=f"{uuid}_hourly", schedule_type="time", schedule_interval="@hourly")


PIPELINE_CASES: dict[str, Case] = {
    "create_pipeline": Case(
        {"name": "Daily Sales", "description": "sales by day", "tags": ["sales"]},
        ("POST", "/api/pipelines"),
        _without_daily_sales,
        {"type": "streaming"},  # the schema's first choice is the default
    ),
    "update_pipeline": Case(
        {"pipeline_uuid": "example_pipeline", "description": "new words"},
        ("PUT", "/api/pipelines/example_pipeline"),
        _undescribed_pipelines,
        {"pipeline_uuid": "other_pipeline"},
    ),
    "delete_pipeline": Case(
        {"pipeline_uuid": "doomed"},
        ("DELETE", "/api/pipelines/doomed"),
        _doomed_pipelines,
        {"pipeline_uuid": "other_pipeline"},
    ),
}


# ---------------------------------------------------------------- blocks
def _block_pipelines(mage: FakeMage, cloud: FakeCloud) -> None:
    """blocks_pipeline: load_rows -> shape_rows -> save_rows, and load_rows -> side_rows; blocks_pipeline_2:
    custom blocks shape_rows and save_rows (files of their own). Made afresh, with no new_block file."""
    for path in [p for p in mage.block_files if "_rows." in p or "/new_block" in p]:
        del mage.block_files[path]
    chain = ["load_rows", "shape_rows", {"uuid": "save_rows", "type": "transformer"}]
    mage.add_pipeline("blocks_pipeline", blocks=[*chain, {"uuid": "side_rows", "upstream_blocks": ["load_rows"]}])
    customs = [{"uuid": uuid, "type": "custom", "upstream_blocks": []} for uuid in ("shape_rows", "save_rows")]
    mage.add_pipeline("blocks_pipeline_2", blocks=customs)


BLOCKS_PIPELINE = "/api/pipelines/blocks_pipeline/blocks"
BLOCK_CASES: dict[str, Case] = {
    "create_block": Case(
        {"pipeline_uuid": "blocks_pipeline", "name": "new_block", "type": "transformer", "code": "x = 1\n"},
        ("POST", BLOCKS_PIPELINE),
        _block_pipelines,
        {"pipeline_uuid": "blocks_pipeline_2", "upstream": ["load_rows"], "language": "sql"},
    ),
    "update_block": Case(
        {"pipeline_uuid": "blocks_pipeline", "block_uuid": "shape_rows", "code": "rows = 2\n"},
        ("PUT", "/api/file_contents/transformers/shape_rows.py"),
        _block_pipelines,
        {"pipeline_uuid": "blocks_pipeline_2", "block_uuid": "save_rows", "upstream": ["load_rows"], "name": "rows"},
    ),
    "delete_block": Case(
        {"pipeline_uuid": "blocks_pipeline", "block_uuid": "save_rows"},
        ("DELETE", f"{BLOCKS_PIPELINE}/save_rows"),
        _block_pipelines,
        {"pipeline_uuid": "blocks_pipeline_2", "block_uuid": "side_rows"},
    ),
}


# ---------------------------------------------------------------- triggers
def _no_hourly_trigger(mage: FakeMage, cloud: FakeCloud) -> None:
    """A second pipeline, and no trigger called "hourly" (a test may have made one)."""
    if "other_pipeline" not in mage.pipelines:
        mage.add_pipeline("other_pipeline", blocks=["load_other"])
    for trigger_id in [i for i, t in mage.pipeline_schedules.items() if t["name"] == "hourly"]:
        del mage.pipeline_schedules[trigger_id]


def _hourly_triggers(mage: FakeMage, cloud: FakeCloud) -> None:
    """Triggers 1 and 2 of example_pipeline: time, @hourly, inactive, no variables (re-made when changed or deleted)."""
    for trigger_id in (1, 2):
        if trigger_id not in mage.pipeline_schedules:
            made = mage.add_trigger("example_pipeline", schedule_type="time", schedule_interval="@hourly")
            mage.pipeline_schedules[trigger_id] = mage.pipeline_schedules.pop(made["id"]) | {"id": trigger_id}
        mage.pipeline_schedules[trigger_id].update(
            name=f"hourly_{trigger_id}",
            pipeline_uuid="example_pipeline",
            schedule_type="time",
            schedule_interval="@hourly",
            status="inactive",
            start_time=None,
            variables=None,
        )


TRIGGER_VARIANTS = {"schedule": "@daily", "start_time": "2030-01-01T00:00:00Z", "variables": {"x": 1}}
TRIGGER_1 = "/api/pipeline_schedules/1"
TRIGGER_CASES: dict[str, Case] = {
    "create_trigger": Case(
        {"pipeline_uuid": "example_pipeline", "name": "hourly", "type": "time", "schedule": "@hourly"},
        ("POST", "/pipeline_schedules"),
        _no_hourly_trigger,
        {"pipeline_uuid": "other_pipeline", **TRIGGER_VARIANTS},
    ),
    "update_trigger": Case(
        {"trigger_id": 1, "schedule": "@weekly"},
        ("PUT", TRIGGER_1),
        _hourly_triggers,
        {"trigger_id": 2, **TRIGGER_VARIANTS, "active": True},
    ),
    "delete_trigger": Case({"trigger_id": 1}, ("DELETE", TRIGGER_1), _hourly_triggers, {"trigger_id": 2}),
}


# ---------------------------------------------------------------- variables and secrets
def _variables(**by_pipeline: dict[str, Any]) -> Prepare:
    """These pipelines (made when missing) hold exactly these variables."""

    def prepare(mage: FakeMage, cloud: FakeCloud) -> None:
        for uuid, variables in by_pipeline.items():
            pipeline = mage.pipelines.get(uuid) or mage.add_pipeline(uuid, blocks=[f"load_{uuid}"])
            pipeline["variables"] = dict(variables)

    return prepare


def _secrets(*names: str) -> Prepare:
    """The fake holds exactly these secrets."""

    def prepare(mage: FakeMage, cloud: FakeCloud) -> None:
        mage.secrets.clear()
        for name in names:
            mage.add_secret(name, f"{name}-v4lue")

    return prepare


VARIABLE_CASES: dict[str, Case] = {
    "set_variable": Case(
        {"pipeline_uuid": "example_pipeline", "name": "region", "value": "eu"},
        ("POST", "/api/pipelines/example_pipeline/variables"),
        _variables(example_pipeline={"zone": "a"}, other_pipeline={}),
        {"pipeline_uuid": "other_pipeline", "name": "zone"},
    ),
    "delete_variable": Case(
        {"pipeline_uuid": "example_pipeline", "name": "region"},
        ("DELETE", "/api/pipelines/example_pipeline/variables/region"),
        _variables(example_pipeline={"region": "eu", "zone": "a"}, other_pipeline={"region": "us"}),
        {"pipeline_uuid": "other_pipeline", "name": "zone"},
    ),
}
SECRET_CASES: dict[str, Case] = {
    "create_secret": Case({"name": "API_KEY", "value": "s3cr3t-v4lue"}, ("POST", "/api/secrets"), _secrets("OTHER")),
    "delete_secret": Case(
        {"name": "API_KEY"}, ("DELETE", "/api/secrets/API_KEY"), _secrets("API_KEY", "OTHER"), {"name": "OTHER"}
    ),
}


# ---------------------------------------------------------------- workspaces and git
def _pro_workspaces(mage: FakeMage, cloud: FakeCloud) -> None:
    """Mage Pro with `dev` and `staging` running an old image, and no `new-ws`."""
    mage.pro = True
    for name in ("dev", "staging"):
        mage.add_workspace(name, container_config="image_tag: 2026.01.01")
    mage.workspaces.pop("new-ws", None)


def _synced_repo(mage: FakeMage, cloud: FakeCloud) -> None:
    mage.init_repo("main")
    mage.push_to_remote("main", "remote change")
    mage.configure_sync("https://github.com/acme/etl.git", branch="main")


def _pro_deployments(mage: FakeMage, cloud: FakeCloud) -> None:
    mage.pro = True
    if not mage.deployment_settings:
        mage.add_deployment_setting("prod", "production", "deploy-main")
        mage.add_deployment_setting("stage", "staging", "deploy-staging")


WORKSPACE_CASES: dict[str, Case] = {
    "create_workspace": Case(
        {"name": "new-ws", "cluster_type": "k8s"},
        ("POST", "/api/workspaces"),
        _pro_workspaces,
        {"config": {"namespace": "other"}},
    ),
    "update_workspace": Case(
        {"name": "dev", "action": "patch", "container_config": "image_tag: 2026.06.16"},
        ("PUT", "/api/workspaces/dev"),
        _pro_workspaces,
        {"name": "staging", "lifecycle_config": {"termination_policy": {"enable_auto_termination": True}}},
    ),
    "delete_workspace": Case({"name": "dev"}, ("DELETE", "/api/workspaces/dev"), _pro_workspaces, {"name": "staging"}),
}
GIT_CASES: dict[str, Case] = {
    "git_pull": Case({}, ("PUT", "/api/syncs/git"), _synced_repo),
    "deploy_git_commit": Case(
        {"branch": "main", "commit": "0123456789abcdef", "environment": "production"},
        ("POST", "/deployments"),
        _pro_deployments,
        {"commit": "fedcba9876543210", "environment": "staging"},
    ),
}

CASES: dict[str, Case] = {
    **RUN_CASES,
    **CLOUD_CASES,
    **PIPELINE_CASES,
    **BLOCK_CASES,
    **TRIGGER_CASES,
    **VARIABLE_CASES,
    **SECRET_CASES,
    **WORKSPACE_CASES,
    **GIT_CASES,
}
