"""Mage Pro clusters, through the Mage Cloud API: read, start, stop and restart them.

Start and stop are edits of the cluster's `status` and `config.replicaCount`; a restart is a
stop and then a start (the Cloud API has no restart request). With `wait`, a tool returns once
the cluster's own API answers, which the server can see only for the configured cluster.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from mage_mcp.clients import Cluster, ClusterUpdate, MageError
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import ClusterTarget, Runtime, Target

from .base import Toolset, ToolSpec, changes, reads, runtime
from .names import PlainName
from .waiting import Observation, wait_for

if TYPE_CHECKING:
    from mage_mcp.clients import ClusterClient  # loads httpx: at run time only once a tool uses a client

TeamId = PlainName | None  # defaults to MAGE_TEAM_ID (said once, in the server instructions)
ClusterId = PlainName | None  # defaults to MAGE_CLUSTER_ID
Wait = Annotated[bool, Field(description="Return once the cluster API answers")]
TimeoutS = Annotated[int, Field(ge=1, le=900, description="Longest wait, seconds")]
ApiState = Literal["ready", "not_answering", "unknown"]

ACTIVE, STOPPED = "Active", "Stopped"
Change = TypeVar("Change", bound="ClusterChange")
STATUS_TIMEOUT_S = 3.0


class ClusterInfo(BaseModel):
    cluster_id: str
    name: str | None
    status: str | None
    replica_count: int | None
    env_var_names: list[str]
    api: ApiState


class ClusterChange(MutationOutcome):
    """A change to a cluster. The fields of a wait are the same for every cluster tool that waits, so
    the server instructions describe them once instead of four output schemas (they are still sent)."""

    cluster_id: str | None = None
    action: str | None = None
    ready: SkipJsonSchema[bool | None] = None
    timed_out: SkipJsonSchema[bool | None] = None
    api: SkipJsonSchema[ApiState | None] = None
    waited_s: SkipJsonSchema[float | None] = None


# -- reading ----------------------------------------------------------------------------------


async def get_cluster(ctx: Context[Runtime, Any], team_id: TeamId = None, cluster_id: ClusterId = None) -> ClusterInfo:
    """Show a Mage Pro cluster: status, replicas, env var names (not values), and whether its API answers now."""
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    return ClusterInfo(
        cluster_id=target.cluster_id,
        name=cluster.name,
        status=cluster.status,
        replica_count=cluster.replica_count,
        env_var_names=sorted(cluster.env_vars),
        api=await api_state(runtime(ctx).cluster_api_of(target)),
    )


async def api_state(api: "ClusterClient | None") -> ApiState:
    """Whether the cluster's API answers `GET /api/status` right now (a short timeout)."""
    if api is None:
        return "unknown"
    return "ready" if await api.is_answering(timeout_s=STATUS_TIMEOUT_S) else "not_answering"


async def read_cluster(
    ctx: Context[Runtime, Any], team_id: TeamId, cluster_id: ClusterId
) -> tuple[ClusterTarget, Cluster]:
    """The cluster a tool acts on (its arguments, else the configured one) and how the Cloud API has it now."""
    rt = runtime(ctx)
    target = rt.cluster_target(team_id, cluster_id)
    return target, await rt.cloud.get_cluster(target.team_id, target.cluster_id)


async def write_cluster(
    ctx: Context[Runtime, Any],
    team_id: TeamId,
    cluster_id: ClusterId,
    change: Callable[[Cluster], ClusterUpdate | None],
) -> tuple[ClusterTarget, Cluster, Cluster]:
    """Apply `change` to a fresh read of the cluster (one writer per cluster): the target, before and after."""
    rt = runtime(ctx)
    target = rt.cluster_target(team_id, cluster_id)
    before, after = await rt.cloud.update_cluster(target.team_id, target.cluster_id, change)
    return target, before, after


def where(target: ClusterTarget, cluster: Cluster) -> str:
    return f"cluster {target.cluster_id!r} ({cluster.name or 'unnamed'}) of team {target.team_id!r}"


# -- waiting until the cluster API answers --------------------------------------------------


async def settle_after_change(
    ctx: Context[Runtime, Any], target: ClusterTarget, result: Change, wait: bool, timeout_s: int
) -> Change:
    """`result`, and with `wait` what the wait for the cluster API saw (never an error, never a hang)."""
    if not wait:
        return result
    api = runtime(ctx).cluster_api_of(target)
    if api is None:
        note = " The server does not know this cluster's URL (only MAGE_CLUSTER_URL's), so it did not wait."
        return result.model_copy(update={"api": "unknown", "message": f"{result.message or ''}{note}".strip()})
    before: Observation[ApiState] = Observation("not_answering", False, _WAITING)
    waited = await wait_for(ctx, lambda: _probe(api), before, timeout_s)
    ready = waited.last.finished
    note = " The cluster API answers." if ready else f" Still waiting after {timeout_s} s: {waited.last.note}."
    hint = "" if ready else " Call get_cluster later to see whether it answers."
    return result.model_copy(
        update={
            "ready": ready,
            "timed_out": waited.timed_out,
            "api": waited.last.value,
            "waited_s": waited.waited_s,
            "message": f"{result.message or ''}{note}{hint}".strip(),
        }
    )


_WAITING = "waiting for the cluster API to answer GET /api/status"


async def _probe(api: "ClusterClient") -> Observation[ApiState]:
    if not await api.is_answering(timeout_s=STATUS_TIMEOUT_S):
        return Observation("not_answering", False, _WAITING)
    try:
        await api.list_pipelines(limit=1)
    except MageError as exc:
        return Observation(
            "not_answering", False, f"/api/status answers, an authenticated read not yet ({exc.message})"
        )
    return Observation("ready", True, "the cluster API answers /api/status and an authenticated read")


# -- start / stop / restart -------------------------------------------------------------------


def power_update(replicas: int, status: str) -> Callable[[Cluster], ClusterUpdate | None]:
    def change(cluster: Cluster) -> ClusterUpdate | None:
        if cluster.status == status and cluster.replica_count == replicas:
            return None
        return ClusterUpdate(config={**cluster.config, "replicaCount": replicas}, status=status)

    return change


def _is_running(cluster: Cluster) -> bool:
    return power_update(0, STOPPED)(cluster) is not None


async def _running_runs(rt: Target, target: ClusterTarget) -> tuple[str, list[int]]:
    """The runs a stop would interrupt, when the cluster API answers: a sentence and their ids."""
    api = rt.cluster_api_of(target)
    if api is None or not await api.is_answering(timeout_s=STATUS_TIMEOUT_S):
        return "", []
    try:
        page = await api.list_runs(status="running", limit=20)
    except MageError:
        return "", []
    if not page.items:
        return " No pipeline run is running on it.", []
    runs = ", ".join(f"{run.id} ({run.pipeline_uuid})" for run in page.items)
    more = f" and {page.total - len(page.items)} more" if page.total and page.total > len(page.items) else ""
    return f" It interrupts the running pipeline runs {runs}{more}.", [run.id for run in page.items]


async def plan_start(ctx: Context[Runtime, Any], team_id: TeamId, cluster_id: ClusterId) -> Plan:
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    if power_update(1, ACTIVE)(cluster) is None:
        return Plan.nothing_to_do(
            f"The {where(target, cluster)} is already {ACTIVE}.", status=ACTIVE, cluster_id=target.cluster_id
        )
    return Plan(
        summary=f"Start the Mage Pro {where(target, cluster)}: status {cluster.status} → {ACTIVE}, replicas "
        f"{cluster.replica_count} → 1.",
        changes={"status": ACTIVE, "replicaCount": 1},
    )


async def start_cluster(
    ctx: Context[Runtime, Any],
    plan: Plan,
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    wait: Wait = False,
    timeout_s: TimeoutS = 300,
) -> ClusterChange:
    """Start a Mage Pro cluster; its API answers minutes later (wait=true returns once it does)."""
    target, _, after = await write_cluster(ctx, team_id, cluster_id, power_update(1, ACTIVE))
    done = ClusterChange(
        status=after.status or ACTIVE, cluster_id=target.cluster_id, action="started", message=plan.summary
    )
    return await settle_after_change(ctx, target, done, wait, timeout_s)


async def plan_stop(ctx: Context[Runtime, Any], team_id: TeamId, cluster_id: ClusterId) -> Plan:
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    if not _is_running(cluster):
        return Plan.nothing_to_do(
            f"The {where(target, cluster)} is already {STOPPED}.", status=STOPPED, cluster_id=target.cluster_id
        )
    interrupted, run_ids = await _running_runs(runtime(ctx), target)
    return Plan(
        summary=f"Stop the Mage Pro {where(target, cluster)}: status {cluster.status} → {STOPPED}, replicas "
        f"{cluster.replica_count} → 0.{interrupted}",
        changes={"status": STOPPED, "replicaCount": 0, "interrupted_runs": run_ids},
    )


async def stop_cluster(
    ctx: Context[Runtime, Any], plan: Plan, team_id: TeamId = None, cluster_id: ClusterId = None
) -> ClusterChange:
    """Stop a Mage Pro cluster; its running pipeline runs stop."""
    target, _, after = await write_cluster(ctx, team_id, cluster_id, power_update(0, STOPPED))
    return ClusterChange(
        status=after.status or STOPPED, cluster_id=target.cluster_id, action="stopped", message=plan.summary
    )


async def plan_restart(ctx: Context[Runtime, Any], team_id: TeamId, cluster_id: ClusterId) -> Plan:
    target, cluster = await read_cluster(ctx, team_id, cluster_id)
    if not _is_running(cluster):
        return Plan(
            summary=f"The Mage Pro {where(target, cluster)} is {cluster.status}, so it is started (not restarted): "
            f"status → {ACTIVE}, replicas → 1.",
            changes={"action": "start", "status": ACTIVE, "replicaCount": 1},
        )
    interrupted, run_ids = await _running_runs(runtime(ctx), target)
    return Plan(
        summary=f"Restart the Mage Pro {where(target, cluster)}: stop it (replicas → 0), then start it again "
        f"(replicas → 1).{interrupted}",
        changes={"action": "restart", "status": ACTIVE, "replicaCount": 1, "interrupted_runs": run_ids},
    )


async def restart_cluster(
    ctx: Context[Runtime, Any],
    plan: Plan,
    team_id: TeamId = None,
    cluster_id: ClusterId = None,
    wait: Wait = False,
    timeout_s: TimeoutS = 300,
) -> ClusterChange:
    """Restart a Mage Pro cluster: stop, then start (a stopped one just starts); wait=true returns once it answers."""
    target, stopped, _ = await write_cluster(ctx, team_id, cluster_id, power_update(0, STOPPED))
    _, _, after = await write_cluster(ctx, team_id, cluster_id, power_update(1, ACTIVE))
    action = "restarted" if _is_running(stopped) else "started"
    message = "Stopped and started again." if action == "restarted" else "It was not running, so it was started."
    done = ClusterChange(status=after.status or ACTIVE, cluster_id=target.cluster_id, action=action, message=message)
    return await settle_after_change(ctx, target, done, wait, timeout_s)


TOOLSET: Toolset = "clusters"
TOOLS: tuple[ToolSpec, ...] = (
    reads(get_cluster, "Get cluster", "cloud"),
    changes(start_cluster, "Start cluster", "cloud", plan=plan_start, destructive=False, idempotent=True),
    changes(stop_cluster, "Stop cluster", "cloud", plan=plan_stop, destructive=True, idempotent=True),
    changes(restart_cluster, "Restart cluster", "cloud", plan=plan_restart, destructive=True, idempotent=False),
)
