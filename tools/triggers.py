"""Triggers (Mage's pipeline schedules): list, read, create, update (deletion: `trigger_deletion`). Their tokens
never leave the server.

Every trigger has a token (a credential that starts runs without a login), time triggers too; the
client's `Trigger` model drops it, so no result, plan or message can carry it.
"""

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, BaseModel, Field

from mage_mcp.clients import Trigger
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, reads, runtime
from .names import Cursor, Identifier, ObjectId, PipelineUuid, json_up_to
from .paging import cut, next_cursor, offset_from
from .schedules import MAGE_TIME_FORMAT, Schedule, StartTime, next_fire
from .settling import applied_or_not

TriggerId = ObjectId
TriggerType = Literal["time", "api", "event"]
TriggerStatus = Literal["active", "inactive"]
TriggerVariables = Annotated[
    dict[Identifier, Any] | None, json_up_to(), Field(description="Runtime variables (block kwargs)")
]
NewVariables = Annotated[dict[Identifier, Any] | None, json_up_to(), Field(description="Replace all its variables")]
Switch = Annotated[bool | None, Field(description="Turn on (true) or off (false)")]
NAME_CHARS = 255
SCHEDULE_CHARS = 100
VARIABLES_BUDGET = 20_000
"""Characters of a trigger's variables (as JSON) a result shows at most."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or blank")
    return value.strip()


TriggerName = Annotated[str, Field(max_length=NAME_CHARS), AfterValidator(_not_blank)]


class TriggerItem(BaseModel):
    id: int
    name: str
    pipeline_uuid: str
    type: str | None
    schedule: str | None = Field(description="Cron (UTC) or @once, @hourly, …; None for api and event triggers")
    status: str | None
    next_run_at: datetime | None = Field(description="When an active repeating schedule fires next")


class TriggerList(BaseModel):
    triggers: list[TriggerItem]
    total: int | None
    next_cursor: str | None


class TriggerDetail(TriggerItem):
    description: str | None
    start_time: datetime | None
    variables: dict[str, Any]
    variables_truncated: bool
    sla: int | None = Field(description="Seconds")
    last_run_id: int | None
    last_run_status: str | None


class TriggerCreated(MutationOutcome):
    trigger_id: int | None = None
    pipeline_uuid: str | None = None
    active: bool | None = None


class TriggerUpdated(MutationOutcome):
    trigger_id: int | None = None
    changed: list[str] = Field(default_factory=list)
    trigger: TriggerItem | None = None


# -- reading ----------------------------------------------------------------------------------


async def list_triggers(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid | None = None,
    status: TriggerStatus | None = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> TriggerList:
    """List triggers (pipeline schedules) of one pipeline (newest first) or all (oldest first): ids, schedules."""
    offset = offset_from(cursor, "list_triggers")
    page = await runtime(ctx).cluster.list_triggers(
        pipeline_uuid=pipeline_uuid, status=status, limit=limit, offset=offset
    )
    return TriggerList(
        triggers=[_item(t) for t in page.items],
        total=page.total,
        next_cursor=next_cursor(offset, len(page.items), page.has_more),
    )


async def get_trigger(ctx: Context[Runtime, Any], trigger_id: TriggerId) -> TriggerDetail:
    """Show a trigger: schedule, status, next run, start_time, variables, SLA and its last run."""
    cluster = runtime(ctx).cluster
    trigger = await cluster.get_trigger(trigger_id)
    last = next(iter((await cluster.trigger_runs(trigger.id, limit=1)).items), None)
    variables, truncated = _bounded(trigger.variables or {})
    return TriggerDetail(
        **_item(trigger).model_dump(),
        description=cut(trigger.description) if trigger.description is not None else None,
        start_time=trigger.start_time,
        variables=variables,
        variables_truncated=truncated,
        sla=trigger.sla,
        last_run_id=last.id if last else None,
        last_run_status=last.status if last else None,
    )


def _item(trigger: Trigger) -> TriggerItem:
    repeating = trigger.status == "active" and trigger.schedule_type == "time"
    return TriggerItem(
        id=trigger.id,
        name=cut(trigger.name, NAME_CHARS),
        pipeline_uuid=cut(trigger.pipeline_uuid, NAME_CHARS),
        type=trigger.schedule_type,
        schedule=cut(trigger.schedule_interval, SCHEDULE_CHARS) if trigger.schedule_interval else None,
        status=trigger.status,
        next_run_at=trigger.next_pipeline_run_date if repeating else None,
    )


def _bounded(variables: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The variables in their order while their JSON fits the budget, each value cut; and whether some were left out."""
    kept: dict[str, Any] = {}
    used = 0
    for name, value in variables.items():
        shown = cut(value) if isinstance(value, str) else value
        if not isinstance(value, str) and len(text := json.dumps(value, default=str)) > 2_000:
            shown = cut(text)
        used += len(name) + len(json.dumps(shown, default=str))
        if used > VARIABLES_BUDGET:
            return kept, True
        kept[cut(name, NAME_CHARS)] = shown
    return kept, False


# -- creating ---------------------------------------------------------------------------------


def _refuse_time_fields(trigger: Trigger, schedule: str | None, start_time: str | None) -> None:
    if trigger.schedule_type != "time" and (schedule is not None or start_time is not None):
        raise ToolError(
            f"Trigger {trigger.id} is an {trigger.schedule_type} trigger: schedule and start_time apply only to "
            "time triggers (create_trigger makes one)."
        )


async def _refuse_taken_name(rt: Target, pipeline_uuid: str, name: str) -> None:
    if (same := await rt.cluster.find_trigger(pipeline_uuid, name, None)) is not None:
        raise ToolError(
            f"Pipeline {pipeline_uuid!r} already has a trigger named {name!r} (id {same.id}): "
            "update_trigger changes it, or pick another name."
        )


async def plan_create(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid,
    name: TriggerName,
    type: TriggerType,
    schedule: Schedule,
    start_time: StartTime,
    variables: TriggerVariables,
    active: bool,
) -> Plan:
    if type == "time" and schedule is None:
        raise ToolError("A time trigger needs a schedule: a cron expression (UTC) or @once, @hourly, @daily, …")
    rt = runtime(ctx)
    pipeline = await rt.cluster.get_pipeline(pipeline_uuid)
    await _refuse_taken_name(rt, pipeline.uuid, name)
    left_out = ""
    if type != "time" and (schedule or start_time):
        left_out = f" schedule and start_time apply only to time triggers: this {type} trigger is made without them."
        schedule = start_time = None
    when = f" on the schedule {schedule!r}" if schedule else ""
    since = f", not before {start_time} UTC" if start_time else ""
    shown = json.dumps(variables or {}, sort_keys=True, default=str)
    return Plan(
        summary=f"Create the {type} trigger {name!r} of pipeline {pipeline.uuid!r}{when}{since}, with variables "
        f"{cut(shown)}.{left_out} {_activation(type, schedule, _moment(start_time), active)}",
        changes={
            "pipeline_uuid": pipeline.uuid,
            "name": name,
            "type": type,
            "schedule": schedule,
            "start_time": start_time,
            "variables": variables or {},
            "active": active,
        },
    )


async def create_trigger(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    name: TriggerName,
    type: TriggerType,
    schedule: Schedule = None,
    start_time: StartTime = None,
    variables: TriggerVariables = None,
    active: Annotated[bool, Field(description="Fire from now on; off by default")] = False,
) -> TriggerCreated:
    """Create a trigger for a pipeline: a schedule (time), an api or an event trigger; inactive unless active=true."""
    if type != "time":
        schedule = start_time = None  # the plan said so
    trigger = await runtime(ctx).cluster.create_trigger(
        pipeline_uuid,
        name=name,
        schedule_type=type,
        status="active" if active else "inactive",
        schedule_interval=schedule,
        start_time=start_time,
        variables=variables,
    )
    return _created(trigger, plan)


def _activation(kind: str, schedule: str | None, start_time: datetime | None, active: bool | None) -> str:
    """What turning the trigger on (or off, or leaving it off) means, in words."""
    if active is False:
        return "It stays inactive: it does not fire until update_trigger turns it on."
    if active is None:
        return ""
    if kind == "api":
        return "It is active: trigger_pipeline with its trigger_id starts runs."
    if kind == "event":
        return "It is active: it fires on the events its matchers name (set them in Mage)."
    if schedule == "@once":
        return "It is active: Mage runs the pipeline once, as soon as its scheduler sees it (and start_time allows)."
    fire = next_fire(schedule, start_time, datetime.now(UTC))
    at = f"{fire:%Y-%m-%d %H:%M} UTC" if fire else "its next scheduled time"
    return f"It is active: Mage fires it on its schedule, first at {at}."


def _moment(start_time: str | None) -> datetime | None:
    return datetime.strptime(start_time, MAGE_TIME_FORMAT).replace(tzinfo=UTC) if start_time else None


async def settle_create(ctx: Context[Runtime, Any], plan: Plan, **_: Any) -> TriggerCreated | None:
    """The trigger of the planned name, if it exists now: the plan saw none."""
    changes = plan.changes
    trigger = await runtime(ctx).cluster.find_trigger(changes["pipeline_uuid"], changes["name"], None)
    if trigger is None:
        return None
    return _created(trigger, plan)


def _created(trigger: Trigger, plan: Plan) -> TriggerCreated:
    return TriggerCreated(
        status="created",
        trigger_id=trigger.id,
        pipeline_uuid=trigger.pipeline_uuid,
        active=trigger.status == "active",
        message=f"Trigger {trigger.id} created. {plan.summary}",
    )


# -- updating ---------------------------------------------------------------------------------

_MAGE_FIELD = {"name": "name", "schedule": "schedule_interval", "start_time": "start_time", "variables": "variables"}


def _current(trigger: Trigger) -> dict[str, Any]:
    return {
        "name": trigger.name,
        "schedule": trigger.schedule_interval,
        "start_time": trigger.start_time.strftime(MAGE_TIME_FORMAT) if trigger.start_time else None,
        "variables": trigger.variables or {},
        "active": trigger.status == "active",
    }


async def plan_update(
    ctx: Context[Runtime, Any],
    trigger_id: TriggerId,
    name: TriggerName | None,
    schedule: Schedule,
    start_time: StartTime,
    variables: NewVariables,
    active: Switch,
) -> Plan:
    rt = runtime(ctx)
    trigger = await rt.cluster.get_trigger(trigger_id)
    _refuse_time_fields(trigger, schedule, start_time)
    now = _current(trigger)
    wanted: dict[str, Any] = {
        "name": name,
        "schedule": schedule,
        "start_time": start_time,
        "variables": variables,
        "active": active,
    }
    different = {field: value for field, value in wanted.items() if value is not None and value != now[field]}
    described = f"trigger {trigger.id} of pipeline {trigger.pipeline_uuid!r}"  # its name is Mage's data: in changes
    if not different:
        return Plan.nothing_to_do(f"The {described} already has these settings.", trigger_id=trigger.id, changed=[])
    if "name" in different:
        await _refuse_taken_name(rt, trigger.pipeline_uuid, different["name"])
    steps = [_step(field, now[field], value) for field, value in different.items() if field != "active"]
    after = {**now, **different}
    turning = different.get("active")
    if turning is None and after["active"] and {"schedule", "start_time"} & different.keys():
        turning = True  # still active, on a new schedule: say when it fires next
    activation = _activation(trigger.schedule_type or "", after["schedule"], _moment(after["start_time"]), turning)
    return Plan(
        summary=f"Update the {described}: {'; '.join(steps) or 'no field but its status'}. {activation}".strip(),
        changes={
            "trigger_id": trigger.id,
            **{field: {"from": _shown(now[field]), "to": v} for field, v in different.items()},
        },
    )


def _step(field: str, old: Any, new: Any) -> str:
    if field == "variables":
        return f"variables replaced by {cut(json.dumps(new, sort_keys=True, default=str))}"
    if field == "name":  # the old name is Mage's data (in changes), the new one the caller's
        return f"renamed to {new!r}"
    return f"{field} {_shown(old)!r} → {new!r}"


def _shown(value: Any) -> Any:
    """A current value as a plan shows it: text cut, variables within the result budget."""
    if isinstance(value, str):
        return cut(value, NAME_CHARS)
    if isinstance(value, dict):
        return _bounded(value)[0]
    return value


async def update_trigger(
    ctx: Context[Runtime, Any],
    plan: Plan,
    trigger_id: TriggerId,
    name: TriggerName | None = None,
    schedule: Schedule = None,
    start_time: StartTime = None,
    variables: NewVariables = None,
    active: Switch = None,
) -> TriggerUpdated:
    """Change a trigger's name, schedule, start_time or variables, or turn it on or off; returns what changed."""
    changed = [field for field in plan.changes if field != "trigger_id"]
    given = {"name": name, "schedule": schedule, "start_time": start_time, "variables": variables}
    sent: dict[str, Any] = {_MAGE_FIELD[f]: given[f] for f in changed if f in _MAGE_FIELD}
    if "active" in changed:
        sent["status"] = "active" if active else "inactive"
    trigger = await runtime(ctx).cluster.update_trigger(trigger_id, sent)
    return TriggerUpdated(
        status="updated", trigger_id=trigger.id, changed=changed, trigger=_item(trigger), message=plan.summary
    )


async def settle_update(
    ctx: Context[Runtime, Any], plan: Plan, trigger_id: TriggerId, **_: Any
) -> TriggerUpdated | None:
    """The trigger read back shows every planned field at its new value, or none of them."""
    trigger = await runtime(ctx).cluster.get_trigger(trigger_id)
    now = _current(trigger)
    changed = [field for field in plan.changes if field != "trigger_id"]
    if not applied_or_not(
        (now[field] == plan.changes[field]["to"] for field in changed), f"trigger {trigger_id}'s update"
    ):
        return None
    return TriggerUpdated(
        status="updated", trigger_id=trigger.id, changed=changed, trigger=_item(trigger), message=plan.summary
    )


TOOLSET: Toolset = "triggers"
TOOLS: tuple[ToolSpec, ...] = (
    reads(list_triggers, "List triggers", "cluster"),
    reads(get_trigger, "Get trigger", "cluster"),
    changes(
        create_trigger,
        "Create trigger",
        "cluster",
        plan=plan_create,
        destructive=False,
        idempotent=False,
        settle=settle_create,
    ),
    changes(
        update_trigger,
        "Update trigger",
        "cluster",
        plan=plan_update,
        destructive=True,
        idempotent=True,
        settle=settle_update,
    ),
)
