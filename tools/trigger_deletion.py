"""Deleting a trigger: its schedule stops and its token stops working. The runs made through it stay in Mage's
database, but Mage 0.9.80 shows a run only while its trigger exists, so the plan says how many go out of sight.
"""

from typing import Any

from mcp.server.mcpserver import Context

from mage_mcp.clients import MageNotFoundError
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes, runtime
from .paging import cut
from .triggers import TriggerId


class TriggerDeleted(MutationOutcome):
    trigger_id: int | None = None
    pipeline_uuid: str | None = None


async def plan_delete(ctx: Context[Runtime, Any], trigger_id: TriggerId) -> Plan:
    cluster = runtime(ctx).cluster
    trigger = await cluster.get_trigger(trigger_id)
    runs = (await cluster.trigger_runs(trigger.id, limit=1)).total or 0
    kept = (
        f" The runs made through it ({runs}) stay in Mage's database, but Mage no longer shows them (list_runs "
        "and get_run see only runs of existing triggers)."
        if runs
        else ""
    )
    what = f"{trigger.status} {trigger.schedule_type} trigger {trigger.id}"  # its name is Mage's data: in changes
    return Plan(
        summary=f"Delete the {what} of pipeline {trigger.pipeline_uuid!r}.{kept} This cannot be undone.",
        changes={
            "trigger_id": trigger.id,
            "name": cut(trigger.name, 100),
            "pipeline_uuid": trigger.pipeline_uuid,
            "runs_hidden": runs,
        },
    )


async def delete_trigger(ctx: Context[Runtime, Any], plan: Plan, trigger_id: TriggerId) -> TriggerDeleted:
    """Delete a trigger (its schedule stops, its token stops working); returns the deleted trigger's id."""
    await runtime(ctx).cluster.delete_trigger(trigger_id)
    return _deleted(trigger_id, plan)


async def settle_delete(ctx: Context[Runtime, Any], plan: Plan, trigger_id: TriggerId) -> TriggerDeleted | None:
    try:
        await runtime(ctx).cluster.get_trigger(trigger_id)
    except MageNotFoundError:
        return _deleted(trigger_id, plan)
    return None


def _deleted(trigger_id: int, plan: Plan) -> TriggerDeleted:
    pipeline_uuid = plan.changes["pipeline_uuid"]
    hidden = plan.changes["runs_hidden"]
    kept = f" Its {hidden} runs stay in Mage's database, no longer shown." if hidden else ""
    return TriggerDeleted(
        status="deleted",
        trigger_id=trigger_id,
        pipeline_uuid=pipeline_uuid,
        message=f"Deleted trigger {trigger_id} of pipeline {pipeline_uuid!r}.{kept}",
    )


TOOLSET: Toolset = "triggers"
TOOLS: tuple[ToolSpec, ...] = (
    changes(
        delete_trigger,
        "Delete trigger",
        "cluster",
        plan=plan_delete,
        destructive=True,
        idempotent=True,
        settle=settle_delete,
    ),
)
