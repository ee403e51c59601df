"""Pipelines on the Mage cluster: list and read them, create, rename or describe, and delete one with its triggers.

Mage derives a pipeline's uuid from its name, so a rename changes the uuid (Mage moves the
pipeline's triggers and runs to the new one). Mage's own delete keeps the triggers, runs and
block files; `delete_pipeline` (in `pipeline_deletion`) deletes the triggers too.
"""

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, BaseModel, Field

from mage_mcp.clients import Block, MageNotFoundError, Pipeline
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, reads, runtime
from .block_views import BlockView, block_view, execution_order
from .names import Cursor, PipelineUuid, PlainName, SearchText, uuid_from_name
from .paging import RESULT_BUDGET_BYTES, cut, next_cursor, offset_from
from .settling import Undecided, applied_or_not

CODE_LIMIT = 20_000
"""Characters of one block's code `get_pipeline` shows; `get_block` shows more."""
NAME_CHARS, DESCRIPTION_CHARS, LISTED_DESCRIPTION_CHARS = 1_000, 5_000, 500
TAG_CHARS, MAX_TAGS = 100, 50
VARIABLE_NAMES_SHOWN = 100


def _tag(value: str) -> str:
    if not value.strip():
        raise ValueError("a tag must not be empty or blank")
    return value.strip()


PipelineName = Annotated[PlainName, Field(description="Mage derives the pipeline_uuid from it")]
Description = Annotated[str | None, Field(max_length=DESCRIPTION_CHARS)]
Tags = Annotated[
    list[Annotated[str, Field(max_length=TAG_CHARS), AfterValidator(_tag)]] | None, Field(max_length=MAX_TAGS)
]


class PipelineItem(BaseModel):
    uuid: str
    name: str | None
    type: str | None
    description: str | None


class PipelineList(BaseModel):
    pipelines: list[PipelineItem]
    total: int | None
    next_cursor: str | None


class PipelineDetail(BaseModel):
    uuid: str
    name: str | None
    type: str | None
    description: str | None
    tags: list[str]
    blocks: list[BlockView]
    """In execution order: every block after its upstream blocks."""
    block_count: int
    variable_names: list[str]
    trigger_count: int | None
    code_left_out: list[str] | None = None
    """Blocks whose code did not fit in this result (get_block reads one block's code)."""
    note: str | None = None


class PipelineCreated(MutationOutcome):
    pipeline_uuid: str | None = None


class PipelineUpdated(MutationOutcome):
    pipeline_uuid: str | None = None
    previous_pipeline_uuid: str | None = None
    changed: list[str] | None = None


# -- reading ----------------------------------------------------------------------------------


async def list_pipelines(
    ctx: Context[Runtime, Any],
    search: Annotated[SearchText | None, Field(description="Part of the uuid")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> PipelineList:
    """List the Mage cluster's pipelines by uuid."""
    offset = offset_from(cursor, "list_pipelines")
    page = await runtime(ctx).cluster.list_pipelines(search=search, limit=limit, offset=offset)
    items = _while_they_fit([_item(p) for p in page.items])
    more = page.has_more or len(items) < len(page.items)
    return PipelineList(
        pipelines=items,
        total=page.total,
        next_cursor=next_cursor(offset, len(items), more),
    )


def _item(pipeline: Pipeline) -> PipelineItem:
    return PipelineItem(
        uuid=pipeline.uuid,
        name=cut(pipeline.name, NAME_CHARS) if pipeline.name else pipeline.name,
        type=pipeline.type,
        description=cut(pipeline.description, LISTED_DESCRIPTION_CHARS) if pipeline.description else None,
    )


def _while_they_fit(items: list[PipelineItem]) -> list[PipelineItem]:
    """The first items whose sizes fit the result budget (at least one); the cursor then continues after them."""
    kept: list[PipelineItem] = []
    budget = RESULT_BUDGET_BYTES - _NOTE_BYTES
    for item in items:
        budget -= _size(item) + 1
        if budget < 0 and kept:
            break
        kept.append(item)
    return kept


async def get_pipeline(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid,
    include_code: Annotated[bool, Field(description="Each block's code, cut at 20,000 chars")] = False,
) -> PipelineDetail:
    """Show a pipeline: its blocks in execution order (code only with include_code), variable names, trigger count."""
    cluster = runtime(ctx).cluster
    pipeline = await cluster.get_pipeline(pipeline_uuid, with_code=include_code)
    triggers = await cluster.list_triggers(pipeline_uuid=pipeline.uuid, limit=1)
    return pipeline_detail(pipeline, triggers.total, include_code=include_code)


def pipeline_detail(pipeline: Pipeline, trigger_count: int | None, *, include_code: bool) -> PipelineDetail:
    """The pipeline as shown, within the result budget whatever Mage holds: blocks while they fit, then
    each block's code in execution order until one does not fit (that one's and all later code left out)."""
    ordered = execution_order(pipeline.blocks)
    detail = PipelineDetail(
        uuid=pipeline.uuid,
        name=cut(pipeline.name, NAME_CHARS) if pipeline.name else pipeline.name,
        type=pipeline.type,
        description=cut(pipeline.description, DESCRIPTION_CHARS) if pipeline.description else pipeline.description,
        tags=[cut(tag, TAG_CHARS) for tag in pipeline.tags[:MAX_TAGS]],
        blocks=[],
        block_count=len(ordered),
        variable_names=[cut(name, TAG_CHARS) for name in list(pipeline.variables or {})[:VARIABLE_NAMES_SHOWN]],
        trigger_count=trigger_count,
    )
    budget = RESULT_BUDGET_BYTES - _size(detail) - _NOTE_BYTES
    views: list[BlockView] = []
    for block in ordered:
        view = block_view(block, code_limit=None)
        cost = _size(view) + _size(block.uuid) + 1  # the uuid may go in code_left_out too
        if cost > budget:
            break
        views.append(view)
        budget -= cost
    left_out = _add_code(views, ordered, budget) if include_code else []
    notes = []
    if len(views) < len(ordered):
        notes.append(f"Only the first {len(views)} of {len(ordered)} blocks (in execution order) fit in one result.")
    if left_out:
        notes.append(
            f"The code of {len(left_out)} blocks, from {left_out[0]!r} on (code_left_out), was left out to keep "
            "this result under 90 KB; get_block reads one block's code."
        )
    return detail.model_copy(
        update={"blocks": views, "code_left_out": left_out or None, "note": " ".join(notes) or None}
    )


def _add_code(views: list[BlockView], ordered: list[Block], budget: int) -> list[str]:
    """Put each listed block's code in its view while the budget lasts; the uuids of those left out."""
    left_out: list[str] = []
    for index, block in enumerate(ordered[: len(views)]):
        if block.content is None:
            continue
        with_code = block_view(block, code_limit=CODE_LIMIT)
        extra = _size(with_code) - _size(views[index])
        if left_out or extra > budget:
            left_out.append(block.uuid)
            continue
        views[index] = with_code
        budget -= extra
    return left_out


_NOTE_BYTES = 1_000  # room for the note (which names one block) and the code_left_out key


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _size(value: BaseModel | str) -> int:
    """Bytes of `value` as the result's JSON holds it (nulls left out, as the server sends it)."""
    data = value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value
    return len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


# -- create -----------------------------------------------------------------------------------


async def plan_create(
    ctx: Context[Runtime, Any],
    name: PipelineName,
    type: Literal["python", "streaming", "integration"],
    description: Description,
    tags: Tags,
) -> Plan:
    rt = runtime(ctx)
    uuid = _uuid_for(name)
    if await rt.cluster.pipeline_exists(uuid):
        raise ToolError(
            f"A pipeline with uuid {uuid!r} exists already (Mage derives the uuid {uuid!r} from the name {name!r}). "
            "Choose another name, or get_pipeline / update_pipeline that one."
        )
    extras = "".join(
        [
            f", described in {len(description)} characters" if description else "",
            f", tagged {', '.join(tags)}" if tags else "",
        ]
    )
    return Plan(
        summary=f"Create an empty {type} pipeline named {name!r} on {rt.cluster.base_url}{extras}. Mage derives its "
        f"uuid from the name: it will be {uuid!r}.",
        changes={"pipeline_uuid": uuid, "name": name, "type": type, "description": description, "tags": tags or []},
    )


async def create_pipeline(
    ctx: Context[Runtime, Any],
    plan: Plan,
    name: PipelineName,
    type: Literal["python", "streaming", "integration"] = "python",
    description: Description = None,
    tags: Tags = None,
) -> PipelineCreated:
    """Create an empty pipeline (then create_block); returns its pipeline_uuid, which Mage derives from the name."""
    pipeline = await runtime(ctx).cluster.create_pipeline(name, type=type, description=description, tags=tags or [])
    return _created(pipeline.uuid, name)


async def settle_create(ctx: Context[Runtime, Any], plan: Plan, name: PipelineName, **_: Any) -> PipelineCreated | None:
    """Created when a pipeline of the planned uuid exists now (the plan saw none) with the planned fields."""
    uuid = plan.changes["pipeline_uuid"]
    try:
        pipeline = await runtime(ctx).cluster.get_pipeline(uuid)
    except MageNotFoundError:
        return None
    planned = {key: plan.changes[key] for key in ("name", "description", "tags") if plan.changes[key]}
    if pipeline.type != plan.changes["type"] or not _shows(pipeline, planned):
        raise Undecided(f"Pipeline {uuid!r} exists, but not with all the fields it was to be created with.")
    return _created(uuid, name)


def _created(uuid: str, name: str) -> PipelineCreated:
    return PipelineCreated(
        status="created",
        pipeline_uuid=uuid,
        message=f"Created pipeline {uuid!r}: Mage derived this uuid from the name {name!r}.",
    )


def _uuid_for(name: str) -> str:
    uuid = uuid_from_name(name)
    if not uuid.strip("_"):
        raise ToolError(f"The name {name!r} has no letter or digit; Mage derives the pipeline's uuid from it.")
    return uuid


# -- update -----------------------------------------------------------------------------------


async def plan_update(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid,
    name: PipelineName | None,
    description: Description,
    tags: Tags,
) -> Plan:
    cluster = runtime(ctx).cluster
    pipeline = await cluster.get_pipeline(pipeline_uuid)
    sent: dict[str, Any] = {}
    said: list[str] = []
    if name is not None and name != pipeline.name:
        new_uuid = await _rename_target(runtime(ctx), pipeline, name)
        sent["name"] = name
        said.append(await _rename_said(runtime(ctx), pipeline, name, new_uuid))
    if description is not None and description != (pipeline.description or ""):
        sent["description"] = description
        said.append(f"Set its description ({len(description)} characters).")
    if tags is not None and sorted(tags) != sorted(pipeline.tags):
        sent["tags"] = tags
        said.append(f"Set its tags to {', '.join(tags) or 'none'}.")
    if not sent:
        return Plan.nothing_to_do(
            f"Pipeline {pipeline.uuid!r} already has this name, description and tags.", pipeline_uuid=pipeline.uuid
        )
    new_uuid = uuid_from_name(sent["name"]) if "name" in sent else pipeline.uuid
    return Plan(
        summary=f"Update pipeline {pipeline.uuid!r} on {cluster.base_url}: {' '.join(said)}",
        changes={"pipeline_uuid": pipeline.uuid, "new_pipeline_uuid": new_uuid, "set": sent},
    )


async def _rename_target(rt: Target, pipeline: Pipeline, name: str) -> str:
    """The uuid the rename gives, refused before asking when Mage would refuse it."""
    new_uuid = _uuid_for(name)
    if not pipeline.name:
        raise ToolError(f"Pipeline {pipeline.uuid!r} has no name in its metadata; Mage does not rename it.")
    if new_uuid == pipeline.uuid:
        raise ToolError(
            f"The name {name!r} gives the same uuid {new_uuid!r}; Mage refuses a rename that keeps the uuid "
            "(it says the pipeline exists already). Choose a name that differs in letters or digits."
        )
    if await rt.cluster.pipeline_exists(new_uuid):
        raise ToolError(
            f"The name {name!r} gives the uuid {new_uuid!r}, and a pipeline with that uuid exists already. "
            "Choose another name."
        )
    return new_uuid


async def _rename_said(rt: Target, pipeline: Pipeline, name: str, new_uuid: str) -> str:
    triggers = (await rt.cluster.list_triggers(pipeline_uuid=pipeline.uuid, limit=1)).total or 0
    runs = (await rt.cluster.list_runs(pipeline_uuid=pipeline.uuid, limit=1)).total or 0
    return (
        f"Rename it to {name!r}: this changes its uuid from {pipeline.uuid!r} to {new_uuid!r} (Mage derives the uuid "
        f"from the name). Mage moves its folder, its {counted(triggers, 'trigger')} and its {counted(runs, 'run')} "
        "to the new uuid, but "
        "not the block outputs of those runs (get_block_output then finds none); block files stay where they are. "
        f"Calls that name {pipeline.uuid!r} must use {new_uuid!r} afterwards."
    )


async def update_pipeline(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    name: PipelineName | None = None,
    description: Description = None,
    tags: Tags = None,
) -> PipelineUpdated:
    """Rename a pipeline or set its description or tags; returns its pipeline_uuid (a new one after a rename)."""
    sent: dict[str, Any] = plan.changes["set"]
    updated = await runtime(ctx).cluster.update_pipeline(pipeline_uuid, sent)
    return _updated(pipeline_uuid, updated.uuid, sent)


async def settle_update(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, **_: Any
) -> PipelineUpdated | None:
    """The pipeline read back, under its new uuid after a rename: every planned field set, or none."""
    sent: dict[str, Any] = plan.changes["set"]
    new_uuid: str = plan.changes["new_pipeline_uuid"]
    pipeline = await _renamed_or_not(runtime(ctx), pipeline_uuid, new_uuid)
    if not applied_or_not((_shows(pipeline, {key: value}) for key, value in sent.items()), "the update"):
        return None
    return _updated(pipeline_uuid, pipeline.uuid, sent)


async def _renamed_or_not(rt: Target, uuid: str, new_uuid: str) -> Pipeline:
    """The pipeline under its new uuid if Mage has one (the plan saw none), else under its own."""
    if new_uuid != uuid:
        try:
            return await rt.cluster.get_pipeline(new_uuid)
        except MageNotFoundError:
            pass
    return await rt.cluster.get_pipeline(uuid)


def _shows(pipeline: Pipeline, fields: dict[str, Any]) -> bool:
    """Whether the pipeline has each of `fields` (name, description, tags) at the given value."""
    now = {"name": pipeline.name, "description": pipeline.description or "", "tags": sorted(pipeline.tags)}
    return all(now[key] == (sorted(value) if key == "tags" else value) for key, value in fields.items())


def _updated(uuid: str, now_uuid: str, sent: dict[str, Any]) -> PipelineUpdated:
    renamed = now_uuid != uuid
    return PipelineUpdated(
        status="updated",
        pipeline_uuid=now_uuid,
        previous_pipeline_uuid=uuid if renamed else None,
        changed=sorted(sent),
        message=f"Pipeline {uuid!r} is now {now_uuid!r}." if renamed else None,
    )


TOOLSET: Toolset = "pipelines"
TOOLS: tuple[ToolSpec, ...] = (
    reads(list_pipelines, "List pipelines", "cluster"),
    reads(get_pipeline, "Get pipeline", "cluster"),
    changes(
        create_pipeline,
        "Create pipeline",
        "cluster",
        plan=plan_create,
        destructive=False,
        idempotent=True,
        settle=settle_create,
    ),
    changes(
        update_pipeline,
        "Update pipeline",
        "cluster",
        plan=plan_update,
        destructive=True,
        idempotent=True,
        settle=settle_update,
    ),
)
