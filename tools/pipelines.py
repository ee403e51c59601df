"""Pipelines on the Mage cluster: list them, and start a run (Mage runs a pipeline only through a trigger)."""

import base64
import binascii
import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mage_mcp.clients import Pipeline, Trigger
from mage_mcp.server.confirmation import Consent, MutationOutcome, Plan, asks_person
from mage_mcp.server.runtime import Runtime

from .base import READ_ONLY, ToolSpec, mutating, runtime

OWNED_TRIGGER_NAME = "mage-mcp"
"""The API trigger this server creates once per pipeline and reuses for every run it starts."""

RunVariables = Annotated[dict[str, Any] | None, Field(description="Block kwargs")]
TriggerId = int | None  # default: the API trigger this server owns for the pipeline
ConfirmationToken = str | None  # explained once, in the server instructions


class PipelineItem(BaseModel):
    uuid: str
    name: str | None
    type: str | None
    description: str | None


class PipelineList(BaseModel):
    pipelines: list[PipelineItem]
    total: int | None
    next_cursor: str | None


class RunStarted(MutationOutcome):
    run_id: int | None = None
    pipeline_uuid: str | None = None
    trigger_id: int | None = None


async def list_pipelines(
    ctx: Context[Runtime, Any],
    search: Annotated[str | None, Field(description="Part of the uuid")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> PipelineList:
    """List the Mage cluster's pipelines by uuid."""
    offset = _offset_from(cursor)
    page = await runtime(ctx).cluster.list_pipelines(search=search, limit=limit, offset=offset)
    return PipelineList(
        pipelines=[_item(p) for p in page.items],
        total=page.total,
        next_cursor=_cursor(offset + len(page.items)) if page.has_more else None,
    )


async def plan_run(
    ctx: Context[Runtime, Any], pipeline_uuid: str, variables: RunVariables, trigger_id: TriggerId
) -> Plan:
    cluster = runtime(ctx).cluster
    pipeline = await cluster.get_pipeline(pipeline_uuid)
    shown = json.dumps(variables or {}, sort_keys=True, default=str)
    if trigger_id is not None:
        chosen = _usable_trigger(await cluster.get_trigger(trigger_id), pipeline.uuid)
        via = f"through its trigger {chosen.id} ({chosen.name!r})"
    elif (owned := await cluster.find_trigger(pipeline.uuid, OWNED_TRIGGER_NAME, "api")) is not None:
        via = f"through the server's API trigger {owned.id}"
    else:
        via = f"through a new API trigger {OWNED_TRIGGER_NAME!r} (created once, reused later)"
    return Plan(
        summary=f"Start a run of pipeline {pipeline.uuid!r} on {cluster.base_url} {via}, with variables {shown}.",
        changes={"pipeline_uuid": pipeline.uuid, "variables": variables or {}, "trigger_id": trigger_id},
    )


async def trigger_pipeline(
    ctx: Context[Runtime, Any],
    plan: Annotated[Plan, Resolve(plan_run)],
    consent: Annotated[Consent, asks_person(plan_run)],
    pipeline_uuid: str,
    variables: RunVariables = None,
    trigger_id: TriggerId = None,
    confirmation_token: ConfirmationToken = None,
) -> RunStarted:
    """Start a pipeline run; returns run_id at once (poll get_run)."""
    rt = runtime(ctx)
    arguments = {"pipeline_uuid": pipeline_uuid, "variables": variables, "trigger_id": trigger_id}
    if halt := rt.gate.settle("trigger_pipeline", arguments, plan, consent, confirmation_token):
        return halt.into(RunStarted)
    if trigger_id is None:
        trigger = await rt.cluster.ensure_api_trigger(pipeline_uuid, OWNED_TRIGGER_NAME)
    else:
        trigger = _usable_trigger(await rt.cluster.get_trigger(trigger_id), pipeline_uuid)
    run = await rt.cluster.create_run(trigger.id, variables or {})
    return RunStarted(
        status=run.status,
        run_id=run.id,
        pipeline_uuid=run.pipeline_uuid,
        trigger_id=trigger.id,
        message=f"Run {run.id} created; poll get_run until its status is completed or failed.",
    )


def _usable_trigger(trigger: Trigger, pipeline_uuid: str) -> Trigger:
    if trigger.pipeline_uuid != pipeline_uuid:
        raise ToolError(f"Trigger {trigger.id} belongs to pipeline {trigger.pipeline_uuid!r}, not {pipeline_uuid!r}.")
    if trigger.status != "active":
        raise ToolError(
            f"Trigger {trigger.id} is {trigger.status}; Mage only runs active triggers. Activate it in Mage, "
            "or omit trigger_id to run through the server's own API trigger."
        )
    return trigger


def _item(pipeline: Pipeline) -> PipelineItem:
    return PipelineItem(
        uuid=pipeline.uuid,
        name=pipeline.name,
        type=pipeline.type,
        description=pipeline.description,
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset_from(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ToolError("Invalid cursor: pass the next_cursor value of a previous list_pipelines result.") from None
    if not isinstance(offset, int) or offset < 0:
        raise ToolError("Invalid cursor: pass the next_cursor value of a previous list_pipelines result.")
    return offset


TOOLS = (
    ToolSpec(list_pipelines, "List pipelines", READ_ONLY, "cluster"),
    ToolSpec(trigger_pipeline, "Run pipeline", mutating(destructive=False, idempotent=False), "cluster"),
)
