"""Blocks of a pipeline: read, create, edit (code verified by reading it back); deletion is `block_deletion`.

A block's code is a file of the project, named after the block's type and uuid, and shared by
every pipeline that has a block of that uuid and type: Mage reuses (and overwrites) an existing
file for a new block of that name, moves it on a rename, and keeps it when the block is deleted.
The tools refuse what would touch another pipeline's code unseen, and say when a change does.
"""

import difflib
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mage_mcp.clients import Block, Pipeline
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, reads, runtime
from .block_views import BlockView, block_view
from .names import BlockUuid, PipelineUuid, PlainName, uuid_from_name
from .paging import RESULT_BUDGET_BYTES, cut
from .settling import Undecided, applied_or_not

CODE_LIMIT = 60_000
"""Characters of code `get_block` shows at most."""
DIFF_LINES, DIFF_LINE_CHARS, DIFF_BYTES = 200, 500, 40_000
NAMES_SHOWN = 30

BlockName = Annotated[PlainName, Field(description="Mage derives the block_uuid from it")]
BlockType = Literal["data_loader", "transformer", "data_exporter", "custom", "sensor", "scratchpad", "markdown"]
Language = Annotated[Literal["python", "sql", "r", "yaml"], Field(description="Ignored for markdown blocks")]
Code = Annotated[str | None, Field(max_length=2_000_000)]
Upstream = Annotated[
    list[Annotated[str, Field(max_length=255)]] | None,
    Field(max_length=100, description="uuids of the blocks it runs after"),
]


class BlockCreated(MutationOutcome):
    pipeline_uuid: str | None = None
    block_uuid: str | None = None
    file_path: str | None = None


class BlockUpdated(MutationOutcome):
    pipeline_uuid: str | None = None
    block_uuid: str | None = None
    """The block's uuid now: a rename changes it."""
    previous_uuid: str | None = None
    changed: list[str] = Field(default_factory=list)


# -- reading ----------------------------------------------------------------------------------


async def get_block(ctx: Context[Runtime, Any], pipeline_uuid: PipelineUuid, block_uuid: BlockUuid) -> BlockView:
    """Show one block: type, language, upstream and downstream blocks, and its code (cut at 60,000 characters)."""
    block = await runtime(ctx).cluster.get_block(pipeline_uuid, block_uuid)
    rest = len(block_view(block, code_limit=None).model_dump_json().encode())
    return block_view(block, code_limit=_fitting_chars(block.content or "", RESULT_BUDGET_BYTES - rest))


def _fitting_chars(code: str, budget: int) -> int:
    """At most CODE_LIMIT characters, fewer when their JSON would not fit `budget` bytes."""
    chars = min(len(code), CODE_LIMIT)
    while chars > 0 and (size := len(json.dumps(code[:chars], ensure_ascii=False).encode())) > budget:
        chars = max(chars * budget // size - 1, 0)
    return chars


# -- create -----------------------------------------------------------------------------------


async def plan_create(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid,
    name: BlockName,
    type: BlockType,
    language: Language,
    code: Code,
    upstream: Upstream,
) -> Plan:
    cluster = runtime(ctx).cluster
    pipeline = await cluster.get_pipeline(pipeline_uuid)
    new = Block(uuid=uuid_from_name(name), type=type, language=_language(type, language))
    if any(block.uuid == new.uuid for block in pipeline.blocks):
        raise ToolError(f"Pipeline {pipeline.uuid!r} already has a block {new.uuid!r}: choose another name.")
    parents = _known_upstream(pipeline, upstream or [], new.uuid)
    if await cluster.block_file_exists(new.file_path):
        raise ToolError(
            f"The project already has the block file {new.file_path} (block files are shared by all pipelines, and "
            "Mage keeps the file of a deleted block): Mage would reuse it instead of a new one. Choose another name."
        )
    after = f"after {quoted(parents)}" if parents else "with no upstream block"
    lines = code.count("\n") + (not code.endswith("\n")) if code else 0
    written = f"the given code ({lines} line{'s' * (lines != 1)})" if code else "Mage's template for the type"
    return Plan(
        summary=f"Create the {type} block {new.uuid!r} ({new.language}) in pipeline {pipeline.uuid!r}, {after}, "
        f"in the new file {new.file_path}, with {written}.",
        changes={"pipeline_uuid": pipeline.uuid, "block_uuid": new.uuid, "file": new.file_path, "upstream": parents},
    )


async def create_block(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    name: BlockName,
    type: BlockType,
    language: Language = "python",
    code: Code = None,
    upstream: Upstream = None,
) -> BlockCreated:
    """Add a block to a pipeline (Mage writes its template unless code is given); returns the block_uuid."""
    cluster = runtime(ctx).cluster
    block = await cluster.create_block(
        pipeline_uuid,
        name=name,
        type=type,
        language=_language(type, language),
        upstream=plan.changes["upstream"],
        code=_normalized(code),
    )
    if code == "":  # Mage writes its template for empty content
        await cluster.write_block_code(pipeline_uuid, block, "")
    elif code is not None:
        await cluster.verify_block_code(pipeline_uuid, block.uuid, _normalized(code) or "")
    return _created(pipeline_uuid, block)


async def settle_create(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    type: BlockType,
    code: Code = None,
    **_: Any,
) -> BlockCreated | None:
    """Created when the pipeline has the planned block now (the plan saw none), after its planned upstream
    blocks and with the given code (Mage's template when none was given); not applied while it has none."""
    cluster = runtime(ctx).cluster
    uuid = plan.changes["block_uuid"]
    if uuid not in {block.uuid for block in (await cluster.get_pipeline(pipeline_uuid)).blocks}:
        return None
    block = await cluster.get_block(pipeline_uuid, uuid)
    as_planned = block.type == type and set(block.upstream_blocks) == set(plan.changes["upstream"])
    if not as_planned or (code is not None and block.content != _normalized(code)):
        raise Undecided(f"Block {uuid!r} exists, but not as it was to be created.")
    return _created(pipeline_uuid, block)


def _created(pipeline_uuid: str, block: Block) -> BlockCreated:
    return BlockCreated(
        status="created",
        pipeline_uuid=pipeline_uuid,
        block_uuid=block.uuid,
        file_path=block.file_path,
        message=f"Created block {block.uuid!r}; get_block shows it, trigger_pipeline runs the pipeline.",
    )


def _language(block_type: str, language: str) -> str:
    return "markdown" if block_type == "markdown" else language


# -- update -----------------------------------------------------------------------------------


async def plan_update(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid,
    block_uuid: BlockUuid,
    code: Code,
    upstream: Upstream,
    name: BlockName | None,
) -> Plan:
    cluster = runtime(ctx).cluster
    block = await cluster.get_block(pipeline_uuid, block_uuid)
    pipeline = await cluster.get_pipeline(pipeline_uuid)
    said: list[str] = []
    changed: dict[str, Any] = {}
    target = block
    if name is not None and name != block.name:
        target = await _renamed(runtime(ctx), pipeline, block, name)
        said.append(
            f"Rename it to {name!r}: its uuid becomes {target.uuid!r} and its file moves to {target.file_path}."
        )
        changed["name"] = {"from": block.name, "to": name, "block_uuid": target.uuid}
    if upstream is not None:
        parents = _known_upstream(pipeline, upstream, block.uuid)
        if set(parents) != set(block.upstream_blocks):
            said.append(
                f"Run it after {quoted(parents) or 'no block'} (now: {quoted(block.upstream_blocks) or 'none'})."
            )
            changed["upstream"] = {"from": block.upstream_blocks[:NAMES_SHOWN], "to": parents}
    new_code = _normalized(code)
    if new_code is not None and new_code != block.content:
        said.append(await _code_change(runtime(ctx), pipeline.uuid, block, target.file_path, new_code))
        changed["code"] = {"chars_before": len(block.content or ""), "chars_after": len(new_code)}
    if not changed:
        return Plan.nothing_to_do(
            f"Block {block.uuid!r} already has this code, upstream and name.",
            pipeline_uuid=pipeline.uuid,
            block_uuid=block.uuid,
        )
    return Plan(
        summary=f"Change block {block.uuid!r} of pipeline {pipeline.uuid!r}. " + " ".join(said),
        changes={"pipeline_uuid": pipeline.uuid, "block_uuid": block.uuid, **changed},
    )


async def update_block(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    block_uuid: BlockUuid,
    code: Code = None,
    upstream: Upstream = None,
    name: BlockName | None = None,
) -> BlockUpdated:
    """Change a block's code, upstream blocks or name (a rename changes its uuid); returns what changed."""
    cluster = runtime(ctx).cluster
    fields: dict[str, Any] = {}
    if "name" in plan.changes:
        fields["name"] = name
    if "upstream" in plan.changes:
        fields["upstream_blocks"] = plan.changes["upstream"]["to"]
    uuid = (await cluster.update_block(pipeline_uuid, block_uuid, fields)).uuid if fields else block_uuid
    block = await cluster.get_block(pipeline_uuid, uuid)
    if "upstream" in plan.changes and set(block.upstream_blocks) != set(plan.changes["upstream"]["to"]):
        raise ToolError(
            f"Mage did not keep the new upstream blocks of {block.uuid!r}: it shows "
            f"{quoted(block.upstream_blocks) or 'none'}. get_block shows the block as it is now."
        )
    if "code" in plan.changes:
        await cluster.write_block_code(pipeline_uuid, block, _normalized(code) or "")
    return _updated(plan, pipeline_uuid, block_uuid, block.uuid)


async def settle_update(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    block_uuid: BlockUuid,
    code: Code = None,
    **_: Any,
) -> BlockUpdated | None:
    """The block read back (under its new uuid once renamed): every planned change shows, or none does."""
    cluster = runtime(ctx).cluster
    renamed_to = plan.changes["name"]["block_uuid"] if "name" in plan.changes else block_uuid
    uuids = {block.uuid for block in (await cluster.get_pipeline(pipeline_uuid)).blocks}
    if renamed_to not in uuids and block_uuid not in uuids:
        raise Undecided(f"Pipeline {pipeline_uuid!r} has neither {block_uuid!r} nor {renamed_to!r}.")
    block = await cluster.get_block(pipeline_uuid, renamed_to if renamed_to in uuids else block_uuid)
    shown = {
        "name": block.uuid == renamed_to,
        "upstream": set(block.upstream_blocks) == set(plan.changes.get("upstream", {}).get("to", [])),
        "code": block.content == _normalized(code),
    }
    if not applied_or_not((shown[key] for key in shown if key in plan.changes), f"the change of {block_uuid!r}"):
        return None
    return _updated(plan, pipeline_uuid, block_uuid, block.uuid)


def _updated(plan: Plan, pipeline_uuid: str, block_uuid: str, now_uuid: str) -> BlockUpdated:
    return BlockUpdated(
        status="updated",
        pipeline_uuid=pipeline_uuid,
        block_uuid=now_uuid,
        previous_uuid=block_uuid if now_uuid != block_uuid else None,
        changed=[key for key in ("name", "upstream", "code") if key in plan.changes],
        message=plan.summary.split("\n", 1)[0],
    )


async def _renamed(rt: Target, pipeline: Pipeline, block: Block, name: str) -> Block:
    """The block as a rename makes it, once Mage could do it without harm; else a ToolError saying why."""
    new = Block(uuid=uuid_from_name(name), type=block.type, language=block.language)
    if new.uuid == block.uuid:
        raise ToolError(f"The name {name!r} gives the block its own uuid {block.uuid!r}: Mage cannot change that.")
    if any(other.uuid == new.uuid for other in pipeline.blocks):
        raise ToolError(f"Pipeline {pipeline.uuid!r} already has a block {new.uuid!r}: choose another name.")
    if await rt.cluster.block_file_exists(new.file_path):
        raise ToolError(f"The project already has the block file {new.file_path}: choose another name.")
    sharing = [uuid for uuid in await rt.cluster.pipelines_using_file(block.file_path) if uuid != pipeline.uuid]
    if sharing:
        raise ToolError(
            f"The block's file {block.file_path} is also the code of pipelines {quoted(sharing)}: a rename moves "
            "the file and they would lose that code. Leave the name, or create_block a copy under the new name."
        )
    return new


async def _code_change(rt: Target, pipeline_uuid: str, block: Block, path: str, code: str) -> str:
    sharing = [uuid for uuid in await rt.cluster.pipelines_using_file(block.file_path) if uuid != pipeline_uuid]
    shared = f" The file is shared: the code of pipelines {quoted(sharing)} changes too." if sharing else ""
    diff = await anyio.to_thread.run_sync(code_diff, block.content or "", code, path)
    return f"Write its code (file {path}).{shared}\n{diff}"


def code_diff(before: str, after: str, path: str) -> str:
    """A unified diff of the code: at most DIFF_LINES lines (each cut, DIFF_BYTES in all), then a count of the rest."""
    lines = list(
        difflib.unified_diff(before.splitlines(), after.splitlines(), f"{path} (now)", f"{path} (new)", lineterm="")
    )
    shown: list[str] = []
    used = 0
    for line in (cut(line, DIFF_LINE_CHARS) for line in lines[:DIFF_LINES]):
        used += len(json.dumps(line, ensure_ascii=False).encode())
        if used > DIFF_BYTES:
            break
        shown.append(line)
    if len(shown) < len(lines):
        shown.append(f"… {len(lines) - len(shown)} more diff lines")
    return "\n".join(shown)


# -- shared -----------------------------------------------------------------------------------


def _known_upstream(pipeline: Pipeline, upstream: Sequence[str], block_uuid: str) -> list[str]:
    """`upstream` without repeats, once every block in it is in the pipeline and none would run before the block."""
    parents = list(dict.fromkeys(upstream))
    known = {block.uuid for block in pipeline.blocks}
    if unknown := [uuid for uuid in parents if uuid not in known]:
        raise ToolError(
            f"Pipeline {pipeline.uuid!r} has no block {quoted(unknown)}; its blocks are {quoted(sorted(known))}."
        )
    if looped := [uuid for uuid in parents if uuid in _downstream_of(pipeline, block_uuid) | {block_uuid}]:
        raise ToolError(f"Blocks {quoted(looped)} run after {block_uuid!r}: as its upstream they would form a cycle.")
    return parents


def _downstream_of(pipeline: Pipeline, block_uuid: str) -> set[str]:
    children = {block.uuid: block.downstream_blocks for block in pipeline.blocks}
    found: set[str] = set()
    todo = [block_uuid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _normalized(code: str | None) -> str | None:
    """Mage reads a file back with `\\n` line ends, so code is written with them."""
    return None if code is None else code.replace("\r\n", "\n").replace("\r", "\n")


def quoted(uuids: Sequence[str]) -> str:
    shown = ", ".join(repr(uuid) for uuid in uuids[:NAMES_SHOWN])
    return shown + (f" and {len(uuids) - NAMES_SHOWN} more" if len(uuids) > NAMES_SHOWN else "")


TOOLSET: Toolset = "blocks"
TOOLS: tuple[ToolSpec, ...] = (
    reads(get_block, "Get block", "cluster"),
    changes(
        create_block,
        "Create block",
        "cluster",
        plan=plan_create,
        destructive=False,
        idempotent=True,
        settle=settle_create,
    ),
    changes(
        update_block,
        "Update block",
        "cluster",
        plan=plan_update,
        destructive=True,
        idempotent=True,
        settle=settle_update,
    ),
)
