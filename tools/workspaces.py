"""Workspaces (Mage Pro, or a Mage project in multi-workspace mode): list, read, create, update, delete.

On a Mage that does not serve workspaces every tool answers with one error that says so (the
client turns Mage's two answers into it); a changing tool says it from its plan, before anyone is
asked. A container config is YAML whose env values can be credentials: they are never shown.
"""

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from mage_mcp.clients import MageNotFoundError
from mage_mcp.clients.models import Workspace
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.redaction import Sensitive
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes, reads, runtime
from .names import TEXT_CHARS, Cursor, PlainName
from .paging import cut, next_cursor, offset_from
from .settling import Undecided

if TYPE_CHECKING:
    from mage_mcp.clients import ClusterClient

WorkspaceName = Annotated[PlainName, Field(description="The workspace's name (list_workspaces)")]
ClusterType = Literal["k8s", "ecs", "cloud_run"]
Action = Annotated[Literal["stop", "resume", "patch"], Field(description="Patch fields apply first")]
ContainerConfig = Annotated[
    str | None,
    Field(max_length=20_000, description="YAML, e.g. 'image_tag: 2026.06.16' and env entries"),
    Sensitive(),  # its env entries may hold credentials
]
CONFIG_CHARS = 4_000
_STOPPED, _RUNNING = "STOPPED", "RUNNING"
_SECRET_LINE = re.compile(
    r"^(\s*(?:-\s*)?(?:value|[\w.-]*(?:password|secret|token|key|credential)[\w.-]*)\s*:\s*)\S.*$",
    re.IGNORECASE | re.MULTILINE,
)


Setting = Annotated[str, Field(max_length=TEXT_CHARS)]
MAX_IDLE_SECONDS = 31_536_000  # a year


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TerminationPolicy(Strict):
    enable_auto_termination: bool = False
    max_idle_seconds: int = Field(0, ge=0, le=MAX_IDLE_SECONDS)


class PostStart(Strict):
    command: list[Setting] | None = Field(None, max_length=50)
    hook_path: Setting | None = None


class LifecycleConfig(Strict):
    """When Mage stops an idle workspace, and what runs before and after it starts."""

    termination_policy: TerminationPolicy | None = None
    pre_start_script_path: Setting | None = None
    post_start: PostStart | None = None


class WorkspaceConfig(Strict):
    """What Mage takes when it creates a workspace; which fields apply depends on cluster_type."""

    namespace: str | None = Field(None, max_length=TEXT_CHARS, description="k8s")
    service_account_name: str | None = Field(None, max_length=TEXT_CHARS, description="k8s")
    storage_class_name: str | None = Field(None, max_length=TEXT_CHARS, description="k8s")
    storage_access_mode: str | None = Field(None, max_length=TEXT_CHARS, description="k8s")
    storage_request_size: str | None = Field(None, max_length=TEXT_CHARS, description="k8s, e.g. 2Gi")
    project_id: str | None = Field(None, max_length=TEXT_CHARS, description="cloud_run")
    path_to_credentials: str | None = Field(None, max_length=TEXT_CHARS, description="cloud_run")
    region: str | None = Field(None, max_length=TEXT_CHARS, description="cloud_run")
    cluster_name: str | None = Field(None, max_length=TEXT_CHARS, description="ecs")
    task_definition: str | None = Field(None, max_length=TEXT_CHARS, description="ecs")
    container_name: str | None = Field(None, max_length=TEXT_CHARS, description="ecs")
    container_config: ContainerConfig = None
    lifecycle_config: LifecycleConfig | None = None


class WorkspaceItem(BaseModel):
    name: str
    status: str | None
    instance_type: str | None


class WorkspaceList(BaseModel):
    workspaces: list[WorkspaceItem]
    total: int
    next_cursor: str | None


class WorkspaceDetail(WorkspaceItem):
    cluster_type: str | None
    project_uuid: str | None
    url: str | None
    ip: str | None
    container_config: str | None = Field(description="Env values and credential-like values shown as ***")
    lifecycle_config: dict[str, Any] | None
    settings: dict[str, str]


class WorkspaceChange(MutationOutcome):
    name: str | None = None
    workspace_status: str | None = None
    """The instance status Mage reports after the change (it may still be on its way)."""


async def list_workspaces(
    ctx: Context[Runtime, Any],
    limit: Annotated[int, Field(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> WorkspaceList:
    """List the workspaces with their instance status (needs Mage Pro or a multi-workspace project)."""
    offset = offset_from(cursor, "list_workspaces")
    workspaces = await runtime(ctx).cluster.list_workspaces()
    page = workspaces[offset : offset + limit]
    more = offset + len(page) < len(workspaces)
    return WorkspaceList(
        workspaces=[_item(w) for w in page],
        total=len(workspaces),
        next_cursor=next_cursor(offset, len(page), more),
    )


async def get_workspace(ctx: Context[Runtime, Any], name: WorkspaceName) -> WorkspaceDetail:
    """Get a workspace: instance status, cluster settings, container and lifecycle config (secrets hidden)."""
    workspace = await runtime(ctx).cluster.get_workspace(name)
    instance = workspace.instance
    return WorkspaceDetail(
        **_item(workspace).model_dump(),
        cluster_type=workspace.cluster_type,
        project_uuid=workspace.project_uuid,
        url=cut(workspace.url, 500) if workspace.url else None,
        ip=instance.ip if instance else None,
        container_config=_shown_config(workspace.container_config),
        lifecycle_config=_bounded(workspace.lifecycle_config),
        settings={cut(k, 100): cut(v, 500) for k, v in workspace.settings.items()},
    )


# -- create -----------------------------------------------------------------------------------


async def plan_create(
    ctx: Context[Runtime, Any], name: WorkspaceName, cluster_type: ClusterType, config: WorkspaceConfig | None
) -> Plan:
    rt = runtime(ctx)
    if any(w.name == name for w in await rt.cluster.list_workspaces()):
        raise ToolError(f"Workspace {name!r} exists already: update_workspace changes it, delete_workspace removes it.")
    fields = _fields(config)
    with_config = f" with {_described(fields)}" if fields else ""
    return Plan(
        summary=f"Create workspace {name!r} ({cluster_type}) on {rt.cluster.base_url}{with_config}. "
        "Mage starts a new instance for it.",
        changes={"name": name, "cluster_type": cluster_type, "config": sorted(fields)},
    )


async def create_workspace(
    ctx: Context[Runtime, Any],
    plan: Plan,
    name: WorkspaceName,
    cluster_type: ClusterType,
    config: WorkspaceConfig | None = None,
) -> WorkspaceChange:
    """Create a workspace with its own Mage instance (Mage Pro or a multi-workspace project); returns its status."""
    cluster = runtime(ctx).cluster
    await cluster.create_workspace(name, cluster_type, _fields(config))
    return await _read_back(cluster, name, "created", plan)


async def settle_create(
    ctx: Context[Runtime, Any], plan: Plan, name: WorkspaceName, **_: Any
) -> WorkspaceChange | None:
    """Created when Mage shows the workspace now (the plan saw none); not applied while Mage has no such
    workspace (its own failed create removes the workspace's config again)."""
    try:
        workspace = await runtime(ctx).cluster.get_workspace(name)
    except MageNotFoundError:
        return None
    return _status(name, workspace, "created", plan)


# -- update -----------------------------------------------------------------------------------


async def plan_update(
    ctx: Context[Runtime, Any],
    name: WorkspaceName,
    action: Action,
    container_config: ContainerConfig,
    lifecycle_config: LifecycleConfig | None,
    update_workspace_settings: bool | None,
) -> Plan:
    patch = _patch(container_config, lifecycle_config, update_workspace_settings)
    if action == "patch" and not patch:
        raise ToolError("action 'patch' needs container_config, lifecycle_config or update_workspace_settings=true.")
    rt = runtime(ctx)
    workspace = await rt.cluster.get_workspace(name)
    status = workspace.instance.status if workspace.instance else None
    if "container_config" in patch and patch["container_config"] == workspace.container_config:
        del patch["container_config"]
    run_action = action != "patch" and (action, status) not in (("stop", _STOPPED), ("resume", _RUNNING))
    if not patch and not run_action:
        state = "has this configuration" if action == "patch" else f"is {status}"
        return Plan.nothing_to_do(f"Workspace {name!r} already {state}.", name=name, workspace_status=status)
    steps = [f"patch its {_described(patch)}"] if patch else []
    if run_action:
        steps.append(f"{action} it (Mage {'scales its instance down' if action == 'stop' else 'restarts it'})")
    return Plan(
        summary=f"Workspace {name!r} ({status or 'status unknown'}) on {rt.cluster.base_url}: {', then '.join(steps)}.",
        changes={"name": name, "patch": sorted(patch), "action": action if run_action else None},
    )


async def update_workspace(
    ctx: Context[Runtime, Any],
    plan: Plan,
    name: WorkspaceName,
    action: Action,
    container_config: ContainerConfig = None,
    lifecycle_config: LifecycleConfig | None = None,
    update_workspace_settings: Annotated[
        bool | None, Field(description="Sync its settings with the cluster's env vars")
    ] = None,
) -> WorkspaceChange:
    """Stop, resume or patch a workspace (patch fields are applied first, with any action); returns its status."""
    cluster = runtime(ctx).cluster
    patch = _patch(container_config, lifecycle_config, update_workspace_settings)
    if fields := {key: value for key, value in patch.items() if key in plan.changes["patch"]}:
        await cluster.update_workspace(name, "patch", fields)
    if plan.changes["action"]:
        await cluster.update_workspace(name, action)
    return await _read_back(cluster, name, {"stop": "stopped", "resume": "resumed"}.get(action, "patched"), plan)


# -- delete -----------------------------------------------------------------------------------


async def plan_delete(ctx: Context[Runtime, Any], name: WorkspaceName) -> Plan:
    rt = runtime(ctx)
    workspace = await rt.cluster.get_workspace(name)
    status = workspace.instance.status if workspace.instance else "no instance"
    return Plan(
        summary=f"Delete workspace {name!r} ({status}) on {rt.cluster.base_url}: Mage removes its instance and its "
        "configuration. This cannot be undone.",
        changes={"name": name},
    )


async def delete_workspace(ctx: Context[Runtime, Any], plan: Plan, name: WorkspaceName) -> WorkspaceChange:
    """Delete a workspace and its instance; returns its name."""
    await runtime(ctx).cluster.delete_workspace(name)
    return WorkspaceChange(status="deleted", name=name, message=plan.summary)


async def settle_delete(ctx: Context[Runtime, Any], plan: Plan, name: WorkspaceName) -> WorkspaceChange | None:
    """Deleted when Mage no longer has the workspace. One still shown settles nothing: Mage removes its
    instance before its config, so it may be half deleted, and a cloud instance goes away in the background."""
    try:
        await runtime(ctx).cluster.get_workspace(name)
    except MageNotFoundError:
        return WorkspaceChange(status="deleted", name=name, message=plan.summary)
    raise Undecided(f"Workspace {name!r} is still shown.")


# -- shared -----------------------------------------------------------------------------------


def _item(workspace: Workspace) -> WorkspaceItem:
    instance = workspace.instance
    return WorkspaceItem(
        name=cut(workspace.name, 255),
        status=instance.status if instance else None,
        instance_type=instance.type if instance else None,
    )


def _fields(config: BaseModel | None) -> dict[str, Any]:
    return config.model_dump(exclude_none=True) if config else {}


def _patch(
    container_config: str | None, lifecycle_config: LifecycleConfig | None, update_workspace_settings: bool | None
) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    if container_config is not None:
        patch["container_config"] = container_config
    if lifecycle_config is not None:
        patch["lifecycle_config"] = lifecycle_config.model_dump(exclude_none=True)
    if update_workspace_settings:
        patch["update_workspace_settings"] = True
    return patch


def _described(fields: dict[str, Any]) -> str:
    """Fields as a plan shows them: the container config with its env values and credentials hidden."""
    shown = {k: _shown_config(v) if k == "container_config" else v for k, v in sorted(fields.items())}
    return "; ".join(f"{key}: {json.dumps(value, default=str)}" for key, value in shown.items())


def _shown_config(container_config: str | None) -> str | None:
    return None if container_config is None else cut(_SECRET_LINE.sub(r"\1***", container_config), CONFIG_CHARS)


def _bounded(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = json.dumps(value, default=str)
    return value if len(text) <= CONFIG_CHARS else {"truncated": cut(text, CONFIG_CHARS)}


async def _read_back(cluster: "ClusterClient", name: str, done: str, plan: Plan) -> WorkspaceChange:
    return _status(name, await cluster.get_workspace(name), done, plan)


def _status(name: str, workspace: Workspace, done: str, plan: Plan) -> WorkspaceChange:
    status = workspace.instance.status if workspace.instance else None
    return WorkspaceChange(status=done, name=name, workspace_status=status, message=plan.summary)


TOOLSET: Toolset = "workspaces"
TOOLS: tuple[ToolSpec, ...] = (
    reads(list_workspaces, "List workspaces", "cluster"),
    reads(get_workspace, "Get workspace", "cluster"),
    changes(
        create_workspace,
        "Create workspace",
        "cluster",
        plan=plan_create,
        destructive=False,
        idempotent=False,
        settle=settle_create,
    ),
    # No settle: stop and resume take effect in the background (Mage shows the instance on its way for a
    # while), and update_workspace_settings leaves nothing to read back; a lost answer stays unknown.
    changes(update_workspace, "Update workspace", "cluster", plan=plan_update, destructive=True, idempotent=True),
    changes(
        delete_workspace,
        "Delete workspace",
        "cluster",
        plan=plan_delete,
        destructive=True,
        idempotent=True,
        settle=settle_delete,
    ),
)
