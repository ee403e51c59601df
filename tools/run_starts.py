"""Starting a pipeline run (Mage runs a pipeline only through a trigger): through the server's own API trigger,
or a trigger of the pipeline that is active."""

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mage_mcp.clients import Trigger
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, runtime
from .names import ObjectId, PipelineUuid, json_up_to

OWNED_TRIGGER_NAME = "mage-mcp"
"""The API trigger this server creates once per pipeline and reuses for every run it starts."""

RunVariables = Annotated[dict[str, Any] | None, json_up_to(), Field(description="Block kwargs")]
TriggerId = ObjectId | None  # default: the API trigger this server owns for the pipeline
IdempotencyKey = Annotated[str | None, Field(max_length=200, description="Same key and arguments: no second run")]


class RunStarted(MutationOutcome):
    run_id: int | None = None
    pipeline_uuid: str | None = None
    trigger_id: int | None = None


async def plan_run(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid,
    variables: RunVariables,
    trigger_id: TriggerId,
    idempotency_key: IdempotencyKey,
) -> Plan:
    rt = runtime(ctx)
    if idempotency_key is not None:
        arguments = {"pipeline_uuid": pipeline_uuid, "variables": variables, "trigger_id": trigger_id}
        if (first := await rt.idempotency.recall("trigger_pipeline", idempotency_key, arguments)) is not None:
            return Plan.nothing_to_do(f"Run {first['run_id']} was already started with this idempotency_key.", **first)
    pipeline = await rt.cluster.get_pipeline(pipeline_uuid)
    shown = json.dumps(variables or {}, sort_keys=True, default=str)
    if trigger_id is not None:
        chosen = _usable_trigger(await rt.cluster.get_trigger(trigger_id), pipeline.uuid)
        via = f"through its trigger {chosen.id} ({chosen.name!r})"
    elif (owned := await rt.cluster.find_trigger(pipeline.uuid, OWNED_TRIGGER_NAME, "api")) is not None:
        via = f"through the server's API trigger {owned.id}"
    else:
        via = f"through a new API trigger {OWNED_TRIGGER_NAME!r} (created once, reused later)"
    return Plan(
        summary=f"Start a run of pipeline {pipeline.uuid!r} on {rt.cluster.base_url} {via}, with variables {shown}.",
        changes={"pipeline_uuid": pipeline.uuid, "variables": variables or {}, "trigger_id": trigger_id},
    )


async def trigger_pipeline(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    variables: RunVariables = None,
    trigger_id: TriggerId = None,
    idempotency_key: IdempotencyKey = None,
) -> RunStarted:
    """Start a pipeline run; returns run_id at once (then wait_for_run or get_run)."""
    rt = runtime(ctx)
    if idempotency_key is None:
        return await _start_run(rt, pipeline_uuid, variables, trigger_id)
    arguments = {"pipeline_uuid": pipeline_uuid, "variables": variables, "trigger_id": trigger_id}
    async with rt.idempotency.lock("trigger_pipeline", idempotency_key):
        if (first := await rt.idempotency.recall("trigger_pipeline", idempotency_key, arguments)) is not None:
            return RunStarted.model_validate(
                {**first, "message": f"Run {first['run_id']} was already started with this key."}
            )
        started = await _start_run(rt, pipeline_uuid, variables, trigger_id)
        remembered = started.model_dump(include=_REMEMBERED)
        await rt.idempotency.remember("trigger_pipeline", idempotency_key, arguments, remembered)
    return started


_REMEMBERED = {"status", "run_id", "pipeline_uuid", "trigger_id"}


async def _start_run(
    rt: Target, pipeline_uuid: str, variables: dict[str, Any] | None, trigger_id: int | None
) -> RunStarted:
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
        message=f"Run {run.id} created; wait_for_run (or get_run) tells when it is done.",
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


TOOLSET: Toolset = "runs"
TOOLS: tuple[ToolSpec, ...] = (
    changes(trigger_pipeline, "Run pipeline", "cluster", plan=plan_run, destructive=False, idempotent=False),
)
