"""Environment variables of a Mage Pro cluster (`config.extraEnvs`): set and remove them by name.

Values are write-only here: plans, results and errors name variables, never their values.
A change rewrites the whole `config` with every other field as it was; on a running cluster it
makes the cluster restart, which `wait` waits for.
"""

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mage_mcp.clients import Cluster, ClusterUpdate
from mage_mcp.server.confirmation import Plan
from mage_mcp.server.redaction import SensitiveValues
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes
from .clusters import (
    ACTIVE,
    ClusterChange,
    ClusterId,
    TeamId,
    TimeoutS,
    Wait,
    read_cluster,
    settle_after_change,
    where,
    write_cluster,
)
from .names import NAME_CHARS

ENV_VALUE_CHARS = 32_768
MAX_ENV_VARS = 200
EnvVarName = Annotated[str, Field(max_length=NAME_CHARS)]
EnvVarValue = Annotated[str, Field(max_length=ENV_VALUE_CHARS)]
EnvVars = Annotated[dict[EnvVarName, EnvVarValue], Field(max_length=MAX_ENV_VARS), SensitiveValues()]
Names = Annotated[list[EnvVarName], Field(min_length=1, max_length=MAX_ENV_VARS, description="Variable names")]
_ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESTARTS = " The running cluster restarts to apply it."
Change = TypeVar("Change", bound="ClusterChange")


class EnvVarsChange(ClusterChange):
    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


class EnvVarsRemoval(ClusterChange):
    removed: list[str] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)


# -- set ------------------------------------------------------------------------------------


def _sort_names(current: dict[str, str], wanted: dict[str, str]) -> dict[str, list[str]]:
    """Which of the wanted names are new, which change value, which already hold that value."""
    return {
        "added": sorted(n for n in wanted if n not in current),
        "updated": sorted(n for n in wanted if n in current and current[n] != wanted[n]),
        "unchanged": sorted(n for n in wanted if current.get(n) == wanted[n]),
    }


def _with_env(cluster: Cluster, env: dict[str, str]) -> ClusterUpdate:
    return ClusterUpdate(config={**cluster.config, "extraEnvs": [{"name": n, "value": v} for n, v in env.items()]})


def _merge(wanted: dict[str, str]) -> Callable[[Cluster], ClusterUpdate | None]:
    def change(cluster: Cluster) -> ClusterUpdate | None:
        current = cluster.env_vars
        if all(current.get(name) == value for name, value in wanted.items()):
            return None
        return _with_env(cluster, {**current, **wanted})

    return change


async def plan_set(ctx: Context[Runtime, Any], env_vars: EnvVars, team_id: TeamId, cluster_id: ClusterId) -> Plan:
    _check_names(env_vars)
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    names = _sort_names(cluster.env_vars, env_vars)
    if not (names["added"] or names["updated"]):
        return Plan.nothing_to_do(
            f"Every given variable already has that value on the {where(target, cluster)}.",
            cluster_id=target.cluster_id,
            unchanged=sorted(env_vars),
        )
    words = [f"{verb} {', '.join(names[key])}" for key, verb in (("added", "add"), ("updated", "change")) if names[key]]
    return Plan(
        summary=f"Set environment variables on the {where(target, cluster)}: {'; '.join(words)}. "
        f"Values are not shown.{_RESTARTS if cluster.status == ACTIVE else ''}",
        changes={"added": names["added"], "updated": names["updated"]},
    )


async def set_env_vars(
    ctx: Context[Runtime, Any],
    plan: Plan,
    env_vars: EnvVars,
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    wait: Wait = False,
    timeout_s: TimeoutS = 300,
) -> EnvVarsChange:
    """Set env vars on a Mage Pro cluster, merged by name; values are never shown. A running cluster restarts."""

    def outcome(before: Cluster, after: Cluster) -> EnvVarsChange:
        return EnvVarsChange(
            status="applied",
            message="Variables saved." + (_RESTARTS if after.status == ACTIVE else ""),
            **_sort_names(before.env_vars, env_vars),
        )

    return await _change(ctx, _merge(env_vars), outcome, (team_id, cluster_id), wait, timeout_s)


# -- unset ----------------------------------------------------------------------------------


def _remove(names: list[str]) -> Callable[[Cluster], ClusterUpdate | None]:
    def change(cluster: Cluster) -> ClusterUpdate | None:
        current = cluster.env_vars
        if not set(names) & set(current):
            return None
        return _with_env(cluster, {n: v for n, v in current.items() if n not in names})

    return change


async def plan_unset(ctx: Context[Runtime, Any], names: Names, team_id: TeamId, cluster_id: ClusterId) -> Plan:
    _check_names(dict.fromkeys(names, ""))
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    present = sorted(set(names) & set(cluster.env_vars))
    absent = sorted(set(names) - set(cluster.env_vars))
    if not present:
        return Plan.nothing_to_do(
            f"None of the given variables is set on the {where(target, cluster)}.",
            cluster_id=target.cluster_id,
            absent=absent,
        )
    missing = f" Not set, so left alone: {', '.join(absent)}." if absent else ""
    return Plan(
        summary=f"Remove environment variables from the {where(target, cluster)}: {', '.join(present)}.{missing}"
        f"{_RESTARTS if cluster.status == ACTIVE else ''}",
        changes={"removed": present},
    )


async def unset_env_vars(
    ctx: Context[Runtime, Any],
    plan: Plan,
    names: Names,
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    wait: Wait = False,
    timeout_s: TimeoutS = 300,
) -> EnvVarsRemoval:
    """Remove env vars from a Mage Pro cluster by name; returns the names removed and those that were absent."""

    def outcome(before: Cluster, after: Cluster) -> EnvVarsRemoval:
        return EnvVarsRemoval(
            status="applied",
            message="Variables removed." + (_RESTARTS if after.status == ACTIVE else ""),
            removed=sorted(set(names) & set(before.env_vars)),
            absent=sorted(set(names) - set(before.env_vars)),
        )

    return await _change(ctx, _remove(names), outcome, (team_id, cluster_id), wait, timeout_s)


async def _change(
    ctx: Context[Runtime, Any],
    change: Callable[[Cluster], ClusterUpdate | None],
    outcome: Callable[[Cluster, Cluster], Change],
    where_to: tuple[TeamId, ClusterId],
    wait: bool,
    timeout_s: int,
) -> Change:
    """Write the env var change; a running cluster restarts with it, which `wait` waits for."""
    target, before, after = await write_cluster(ctx, *where_to, change)
    done = outcome(before, after).model_copy(update={"cluster_id": target.cluster_id})
    return await settle_after_change(ctx, target, done, wait and after.status == ACTIVE, timeout_s)


def _check_names(env_vars: dict[str, str]) -> None:
    if not env_vars:
        raise ToolError("No variable given: name at least one environment variable.")
    if bad := sorted(name for name in env_vars if not _ENV_VAR_NAME.fullmatch(name)):
        raise ToolError(
            f"Invalid environment variable names: {', '.join(map(repr, bad))}. "
            "Use letters, digits and underscores, not starting with a digit."
        )


TOOLSET: Toolset = "clusters"
TOOLS: tuple[ToolSpec, ...] = (
    changes(set_env_vars, "Set env vars", "cloud", plan=plan_set, destructive=True, idempotent=True),
    changes(unset_env_vars, "Unset env vars", "cloud", plan=plan_unset, destructive=True, idempotent=True),
)
