"""Pipeline variables: the globals every run of a pipeline sees as block kwargs.

They are configuration, not secrets (those are `create_secret`'s), so values are shown: cut to a
few KB each, and as many as fit the result budget. Mage overwrites a few kwargs in every triggered
run (`env` becomes 'prod'); a variable under one of those names would never reach a block, so it
is refused.
"""

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, BeforeValidator, Field

from mage_mcp.clients import MageNotFoundError
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes, reads, runtime
from .names import Cursor, Identifier, PipelineUuid, PlainName, json_up_to
from .paging import CELL_CHARS, RESULT_BUDGET_BYTES, cut, next_cursor, offset_from

VariableName = Annotated[Identifier, Field(description="A Python identifier; blocks read kwargs[name]")]
ExistingName = PlainName


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null (Mage keeps no empty variable; delete_variable removes one)")
    return value


VariableValue = Annotated[
    str | int | float | bool | list[Any] | dict[str, Any],
    BeforeValidator(_not_null),
    json_up_to(),
    Field(description="Any JSON value but null"),
]
MAX_VALUE_CHARS = 50_000
"""A pipeline variable lives in the pipeline's metadata.yaml; bigger data belongs in a block or a file."""

SET_BY_MAGE = {
    "env": "sets env to 'prod'",
    "ds": "sets ds to the execution date",
    "hr": "sets hr to the execution hour",
    "execution_date": "sets execution_date",
    "execution_partition": "sets execution_partition",
    "pipeline_run_id": "sets pipeline_run_id",
    "trigger_name": "sets trigger_name",
}
"""The kwargs Mage writes itself in every triggered run (`PipelineRun.get_variables`), after the globals."""


class VariableItem(BaseModel):
    name: str
    value: Any
    value_truncated: bool | None = None


class VariableList(BaseModel):
    pipeline_uuid: str
    variables: list[VariableItem]
    total: int
    next_cursor: str | None = Field(default=None, description="More variables: pass it as cursor")


class VariableChange(MutationOutcome):
    pipeline_uuid: str | None = None
    name: str | None = None


# -- list -------------------------------------------------------------------------------------


async def list_variables(
    ctx: Context[Runtime, Any], pipeline_uuid: PipelineUuid, cursor: Cursor = None
) -> VariableList:
    """List a pipeline's variables (the globals its runs see as block kwargs) with their values."""
    offset = offset_from(cursor, "list_variables")
    variables = await runtime(ctx).cluster.list_variables(pipeline_uuid)
    rest = list(variables.items())[offset:]
    items = _within_budget([_item(name, value) for name, value in rest])
    more = len(items) < len(rest)
    return VariableList(
        pipeline_uuid=pipeline_uuid,
        variables=items,
        total=len(variables),
        next_cursor=next_cursor(offset, len(items), more),
    )


def _item(name: str, value: Any) -> VariableItem:
    if isinstance(value, str):
        return VariableItem(name=cut(name, 255), value=cut(value), value_truncated=len(value) > CELL_CHARS or None)
    text = _json(value)
    if len(text) > CELL_CHARS:
        return VariableItem(name=cut(name, 255), value=cut(text), value_truncated=True)
    return VariableItem(name=cut(name, 255), value=value)


def _within_budget(items: list[VariableItem]) -> list[VariableItem]:
    kept: list[VariableItem] = []
    used = 0
    for item in items:
        used += len(item.model_dump_json().encode())
        if used > RESULT_BUDGET_BYTES:
            break
        kept.append(item)
    return kept


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _shown(value: Any) -> str:
    return cut(_json(value), 200)


# -- set --------------------------------------------------------------------------------------


async def plan_set(
    ctx: Context[Runtime, Any], pipeline_uuid: PipelineUuid, name: VariableName, value: VariableValue
) -> Plan:
    if name in SET_BY_MAGE:
        raise ToolError(
            f"Mage {SET_BY_MAGE[name]} itself in every triggered run, so a pipeline variable named {name!r} "
            "would never reach the blocks. Choose another name."
        )
    if len(_json(value)) > MAX_VALUE_CHARS:
        raise ToolError(
            f"The value is over {MAX_VALUE_CHARS:,} characters as JSON; a pipeline variable is configuration "
            "kept in the pipeline's metadata.yaml. Keep bigger data in a file or a data loader block."
        )
    current = await runtime(ctx).cluster.list_variables(pipeline_uuid)
    where = f"pipeline {pipeline_uuid!r}"
    if name in current and _json(current[name]) == _json(value):
        return Plan.nothing_to_do(
            f"Variable {name!r} of {where} already holds {_shown(value)}.", pipeline_uuid=pipeline_uuid, name=name
        )
    seen = f"Every run of the pipeline sees it as kwargs[{name!r}], unless its trigger or the run sets that name."
    if name in current:
        summary = f"Change variable {name!r} of {where} from {_shown(current[name])} to {_shown(value)}. {seen}"
        action = "update"
    else:
        summary = f"Add variable {name!r} = {_shown(value)} to {where}. {seen}"
        action = "create"
    return Plan(
        summary=summary,
        changes={"pipeline_uuid": pipeline_uuid, "name": name, "action": action, "value": _shown(value)},
    )


async def set_variable(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, name: VariableName, value: VariableValue
) -> VariableChange:
    """Create or change one variable of a pipeline (a global its runs see as kwargs[name]); says which it did."""
    cluster = runtime(ctx).cluster
    if plan.changes["action"] == "update":
        await cluster.update_variable(pipeline_uuid, name, value)
        status = "updated"
    else:
        await cluster.create_variable(pipeline_uuid, name, value)
        status = "created"
    return _changed(pipeline_uuid, name, status)


# -- delete -----------------------------------------------------------------------------------


async def plan_delete(ctx: Context[Runtime, Any], pipeline_uuid: PipelineUuid, name: ExistingName) -> Plan:
    current = await runtime(ctx).cluster.list_variables(pipeline_uuid)
    if name not in current:
        raise MageNotFoundError(f"Variable {name!r} was not found in pipeline {pipeline_uuid!r}.", kind="variable")
    return Plan(
        summary=f"Delete variable {name!r} (now {_shown(current[name])}) from pipeline {pipeline_uuid!r}. "
        f"Blocks no longer get kwargs[{name!r}] unless a trigger or a run sets it.",
        changes={"pipeline_uuid": pipeline_uuid, "name": name},
    )


async def delete_variable(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    name: ExistingName,
) -> VariableChange:
    """Delete one variable of a pipeline."""
    await runtime(ctx).cluster.delete_variable(pipeline_uuid, name)
    return _changed(pipeline_uuid, name, "deleted")


async def settle_set(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, name: VariableName, value: VariableValue
) -> VariableChange | None:
    current = await runtime(ctx).cluster.list_variables(pipeline_uuid)
    if name not in current or current[name] != value:
        return None
    return _changed(pipeline_uuid, name, "updated" if plan.changes["action"] == "update" else "created")


async def settle_delete(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, name: ExistingName
) -> VariableChange | None:
    if name in await runtime(ctx).cluster.list_variables(pipeline_uuid):
        return None
    return _changed(pipeline_uuid, name, "deleted")


def _changed(pipeline_uuid: str, name: str, status: str) -> VariableChange:
    message = f"Variable {name!r} of pipeline {pipeline_uuid!r} {status}."
    return VariableChange(status=status, pipeline_uuid=pipeline_uuid, name=name, message=message)


TOOLSET: Toolset = "variables"
TOOLS: tuple[ToolSpec, ...] = (
    reads(list_variables, "List pipeline variables", "cluster"),
    changes(
        set_variable,
        "Set pipeline variable",
        "cluster",
        plan=plan_set,
        destructive=True,
        idempotent=True,
        settle=settle_set,
    ),
    changes(
        delete_variable,
        "Delete pipeline variable",
        "cluster",
        plan=plan_delete,
        destructive=True,
        idempotent=True,
        settle=settle_delete,
    ),
)
