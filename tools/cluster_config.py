"""A Mage Pro cluster's configuration: change any part of it, keep the rest byte-identical.

The partial config is a JSON Merge Patch (RFC 7386): objects merge key by key, any other value
replaces, `null` removes a key. The whole merged config goes back to the Cloud API, so every
field the patch does not name is sent exactly as it was read. Keys that have their own tools
are refused, and values under keys that name a credential are never shown.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mage_mcp.clients import Cluster, ClusterUpdate
from mage_mcp.server.confirmation import Plan
from mage_mcp.server.redaction import CREDENTIAL, redacted
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes
from .clusters import ACTIVE, ClusterChange, ClusterId, TeamId, read_cluster, where, write_cluster
from .names import json_up_to

ConfigPatch = Annotated[
    dict[str, Any], json_up_to(), Field(description="Partial config, merged in; null removes a key")
]
OWN_TOOLS = {
    "extraEnvs": "set_env_vars / unset_env_vars",
    "replicaCount": "start_cluster / stop_cluster",
}
_SHOWN_CHARS = 80


class ConfigChange(ClusterChange):
    changed: list[str] = Field(default_factory=list)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: the result of applying `patch` to `target` (neither is modified)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def changed_paths(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Each key path whose value differs, with its old and new value (`...` where absent)."""
    if isinstance(before, dict) and after is ...:
        after = {}
    if isinstance(after, dict) and before is ...:
        before = {}
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            change
            for key in sorted(set(before) | set(after), key=str)
            for change in changed_paths(before.get(key, ...), after.get(key, ...), f"{path}.{key}" if path else key)
        ]
    return [] if before == after else [(path, before, after)]


def _shown(path: str, value: Any) -> str:
    if value is ...:
        return "(absent)"
    if any(CREDENTIAL.search(part) for part in path.split(".")):
        return "***"
    text = json.dumps(redacted(value), sort_keys=True, default=str)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}…"


def _patched(config: dict[str, Any]) -> Callable[[Cluster], ClusterUpdate | None]:
    def change(cluster: Cluster) -> ClusterUpdate | None:
        merged = merge_patch(cluster.config, config)
        return None if merged == cluster.config else ClusterUpdate(config=merged)

    return change


async def plan_config(ctx: Context[Runtime, Any], config: ConfigPatch, team_id: TeamId, cluster_id: ClusterId) -> Plan:
    _refuse_own_keys(config)
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    diff = changed_paths(cluster.config, merge_patch(cluster.config, config))
    if not diff:
        return Plan.nothing_to_do(
            f"The {where(target, cluster)} already has this configuration.", cluster_id=target.cluster_id
        )
    lines = "; ".join(f"{path}: {_shown(path, old)} → {_shown(path, new)}" for path, old, new in diff)
    restarts = " The running cluster may restart to apply it." if cluster.status == ACTIVE else ""
    return Plan(
        summary=f"Change the configuration of the {where(target, cluster)}: {lines}. "
        f"Every other field stays as it is.{restarts}",
        changes={"changed": [path for path, _, _ in diff]},
    )


async def update_cluster_config(
    ctx: Context[Runtime, Any],
    plan: Plan,
    config: ConfigPatch,
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
) -> ConfigChange:
    """Change part of a Mage Pro cluster's config (merged in, the rest kept as is); returns the changed key paths."""
    target, before, after = await write_cluster(ctx, team_id, cluster_id, _patched(config))
    return ConfigChange(
        status="applied",
        cluster_id=target.cluster_id,
        changed=[path for path, _, _ in changed_paths(before.config, after.config)],
        message=plan.summary,
    )


def _refuse_own_keys(config: dict[str, Any]) -> None:
    if not config:
        raise ToolError("config is empty: give the part of the cluster configuration to change.")
    if owned := [key for key in config if key in OWN_TOOLS]:
        tools = "; ".join(f"{key}: use {OWN_TOOLS[key]}" for key in owned)
        raise ToolError(f"Not changed here, these keys have their own tools: {tools}. Nothing was sent.")


TOOLSET: Toolset = "clusters"
TOOLS: tuple[ToolSpec, ...] = (
    changes(
        update_cluster_config, "Update cluster config", "cloud", plan=plan_config, destructive=True, idempotent=True
    ),
)
