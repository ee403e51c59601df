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
PIPELINE_CASES: dict[str, Case] = {}

# ---------------------------------------------------------------- blocks
BLOCK_CASES: dict[str, Case] = {}

# ---------------------------------------------------------------- triggers
TRIGGER_CASES: dict[str, Case] = {}

# ---------------------------------------------------------------- variables and secrets
VARIABLE_CASES: dict[str, Case] = {}
SECRET_CASES: dict[str, Case] = {}

# ---------------------------------------------------------------- workspaces and git
WORKSPACE_CASES: dict[str, Case] = {}
GIT_CASES: dict[str, Case] = {}

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
