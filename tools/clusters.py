"""Mage Pro clusters, through the Mage Cloud API: read, start, stop, set environment variables.

Environment variable values are write-only here: plans, results and errors name variables,
never their values.
"""

import re
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mage_mcp.clients import Cluster, ClusterUpdate
from mage_mcp.server.confirmation import Consent, MutationOutcome, Plan, asks_person
from mage_mcp.server.runtime import ClusterTarget, Runtime

from .base import READ_ONLY, ToolSpec, mutating, runtime

TeamId = str | None  # defaults to MAGE_TEAM_ID (said once, in the server instructions)
ClusterId = str | None  # defaults to MAGE_CLUSTER_ID
ConfirmationToken = str | None  # explained once, in the server instructions
EnvVars = dict[str, str]
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ACTIVE, STOPPED = "Active", "Stopped"


class ClusterInfo(BaseModel):
    cluster_id: str
    name: str | None
    status: str | None
    replica_count: int | None
    env_var_names: list[str]


class ClusterChange(MutationOutcome):
    cluster_id: str | None = None


class EnvVarsChange(MutationOutcome):
    cluster_id: str | None = None
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


async def get_cluster(
    ctx: Context[Runtime, Any], team_id: TeamId = None, cluster_id: ClusterId = None
) -> ClusterInfo:
    """Show a Mage Pro cluster: status, replicas, env var names (not values)."""
    rt = runtime(ctx)
    target = rt.cluster_target(team_id, cluster_id)
    cluster = await rt.cloud.get_cluster(target.team_id, target.cluster_id)
    return ClusterInfo(
        cluster_id=target.cluster_id,
        name=cluster.name,
        status=cluster.status,
        replica_count=cluster.replica_count,
        env_var_names=sorted(cluster.env_vars),
    )


# -- start / stop ---------------------------------------------------------------------------


def _power_update(replicas: int, status: str) -> Callable[[Cluster], ClusterUpdate | None]:
    def change(cluster: Cluster) -> ClusterUpdate | None:
        if cluster.status == status and cluster.replica_count == replicas:
            return None
        return ClusterUpdate(config={**cluster.config, "replicaCount": replicas}, status=status)

    return change


async def _power_plan(rt: Runtime, target: ClusterTarget, replicas: int, status: str, verb: str) -> Plan:
    cluster = await rt.cloud.get_cluster(target.team_id, target.cluster_id)
    where = f"cluster {target.cluster_id!r} ({cluster.name or 'unnamed'}) of team {target.team_id!r}"
    if _power_update(replicas, status)(cluster) is None:
        return Plan(summary=f"The {where} is already {status}; nothing to do.")
    return Plan(
        summary=f"{verb} the Mage Pro {where}: status {cluster.status} → {status}, replicas "
        f"{cluster.replica_count} → {replicas}.",
        changes={"status": status, "replicaCount": replicas},
    )


async def _switch(
    ctx: Context[Runtime, Any],
    tool: str,
    replicas: int,
    status: str,
    plan: Plan,
    consent: Consent,
    arguments: tuple[TeamId, ClusterId, ConfirmationToken],
) -> ClusterChange:
    """Start or stop, once confirmed: what `start_cluster` and `stop_cluster` share."""
    team_id, cluster_id, confirmation_token = arguments
    rt = runtime(ctx)
    target = rt.cluster_target(team_id, cluster_id)
    if not plan.changes:
        return ClusterChange(status=status, cluster_id=target.cluster_id, message=f"{plan.summary} No request sent.")
    if halt := rt.gate.settle(tool, _args(target), plan, consent, confirmation_token):
        return halt.into(ClusterChange)
    _, after = await rt.cloud.update_cluster(target.team_id, target.cluster_id, _power_update(replicas, status))
    return ClusterChange(status=after.status or status, cluster_id=target.cluster_id, message=plan.summary)


async def plan_start(ctx: Context[Runtime, Any], team_id: TeamId, cluster_id: ClusterId) -> Plan:
    rt = runtime(ctx)
    return await _power_plan(rt, rt.cluster_target(team_id, cluster_id), 1, ACTIVE, "Start")


async def start_cluster(
    ctx: Context[Runtime, Any],
    plan: Annotated[Plan, Resolve(plan_start)],
    consent: Annotated[Consent, asks_person(plan_start)],
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    confirmation_token: ConfirmationToken = None,
) -> ClusterChange:
    """Start a Mage Pro cluster; its API answers a few minutes later."""
    return await _switch(ctx, "start_cluster", 1, ACTIVE, plan, consent, (team_id, cluster_id, confirmation_token))


async def plan_stop(ctx: Context[Runtime, Any], team_id: TeamId, cluster_id: ClusterId) -> Plan:
    rt = runtime(ctx)
    return await _power_plan(rt, rt.cluster_target(team_id, cluster_id), 0, STOPPED, "Stop")


async def stop_cluster(
    ctx: Context[Runtime, Any],
    plan: Annotated[Plan, Resolve(plan_stop)],
    consent: Annotated[Consent, asks_person(plan_stop)],
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    confirmation_token: ConfirmationToken = None,
) -> ClusterChange:
    """Stop a Mage Pro cluster; its running pipelines stop."""
    return await _switch(ctx, "stop_cluster", 0, STOPPED, plan, consent, (team_id, cluster_id, confirmation_token))


# -- environment variables ------------------------------------------------------------------


def _sort_names(current: dict[str, str], wanted: dict[str, str]) -> dict[str, list[str]]:
    """Which of the wanted names are new, which change value, which already hold that value."""
    return {
        "added": sorted(n for n in wanted if n not in current),
        "updated": sorted(n for n in wanted if n in current and current[n] != wanted[n]),
        "unchanged": sorted(n for n in wanted if current.get(n) == wanted[n]),
    }


def _merge_env_vars(wanted: dict[str, str]) -> Callable[[Cluster], ClusterUpdate | None]:
    def change(cluster: Cluster) -> ClusterUpdate | None:
        current = cluster.env_vars
        if all(current.get(name) == value for name, value in wanted.items()):
            return None
        merged = {**current, **wanted}
        envs = [{"name": name, "value": value} for name, value in merged.items()]
        return ClusterUpdate(config={**cluster.config, "extraEnvs": envs})

    return change


async def plan_env_vars(
    ctx: Context[Runtime, Any], env_vars: EnvVars, team_id: TeamId, cluster_id: ClusterId
) -> Plan:
    _check_names(env_vars)
    rt = runtime(ctx)
    target = rt.cluster_target(team_id, cluster_id)
    cluster = await rt.cloud.get_cluster(target.team_id, target.cluster_id)
    names = _sort_names(cluster.env_vars, env_vars)
    where = f"cluster {target.cluster_id!r} ({cluster.name or 'unnamed'}) of team {target.team_id!r}"
    if not (names["added"] or names["updated"]):
        return Plan(summary=f"Every given variable already has that value on the {where}; nothing to do.")
    words = [f"{verb} {', '.join(names[key])}" for key, verb in (("added", "add"), ("updated", "change")) if names[key]]
    restart = " The running cluster restarts to apply them." if cluster.status == ACTIVE else ""
    return Plan(
        summary=f"Set environment variables on the {where}: {'; '.join(words)}. "
        f"Values are not shown.{restart}",
        changes={"added": names["added"], "updated": names["updated"]},
    )


async def set_env_vars(
    ctx: Context[Runtime, Any],
    plan: Annotated[Plan, Resolve(plan_env_vars)],
    consent: Annotated[Consent, asks_person(plan_env_vars)],
    env_vars: EnvVars,
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    confirmation_token: ConfirmationToken = None,
) -> EnvVarsChange:
    """Set env vars on a Mage Pro cluster, merged by name; values are never shown."""
    rt = runtime(ctx)
    target = rt.cluster_target(team_id, cluster_id)
    arguments = {**_args(target), "env_vars": env_vars}
    if not plan.changes:
        return EnvVarsChange(status="unchanged", cluster_id=target.cluster_id, unchanged=sorted(env_vars))
    if halt := rt.gate.settle("set_env_vars", arguments, plan, consent, confirmation_token):
        return halt.into(EnvVarsChange)
    before, after = await rt.cloud.update_cluster(target.team_id, target.cluster_id, _merge_env_vars(env_vars))
    return EnvVarsChange(
        status="applied",
        cluster_id=target.cluster_id,
        message="Variables saved." + (" The running cluster restarts to apply them." if after.status == ACTIVE else ""),
        **_sort_names(before.env_vars, env_vars),
    )


def _check_names(env_vars: dict[str, str]) -> None:
    if not env_vars:
        raise ToolError("env_vars is empty: give at least one variable name and its value.")
    if bad := sorted(name for name in env_vars if not _ENV_VAR_NAME.fullmatch(name)):
        raise ToolError(
            f"Invalid environment variable names: {', '.join(map(repr, bad))}. "
            "Use letters, digits and underscores, not starting with a digit."
        )


def _args(target: ClusterTarget) -> dict[str, Any]:
    return {"team_id": target.team_id, "cluster_id": target.cluster_id}


TOOLS = (
    ToolSpec(get_cluster, "Get cluster", READ_ONLY, "cloud"),
    ToolSpec(start_cluster, "Start cluster", mutating(destructive=False, idempotent=True), "cloud"),
    ToolSpec(stop_cluster, "Stop cluster", mutating(destructive=True, idempotent=True), "cloud"),
    ToolSpec(set_env_vars, "Set env vars", mutating(destructive=True, idempotent=True), "cloud"),
)

