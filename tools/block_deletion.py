"""Deleting a block: refused while others depend on it, unless `force`, which re-links them to its own upstream.

The plan names each downstream block and its new upstream; the file's fate follows Mage's own rule (block
files stay in the project, markdown and scratchpad files go unless another pipeline uses them).
"""

from collections.abc import Sequence
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mage_mcp.clients import Block
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, runtime
from .blocks import NAMES_SHOWN, quoted
from .names import BlockUuid, PipelineUuid
from .settling import Undecided


class BlockDeleted(MutationOutcome):
    pipeline_uuid: str | None = None
    block_uuid: str | None = None
    relinked: dict[str, list[str]] = Field(default_factory=dict)
    """Downstream blocks re-linked (the first 30), with their upstream blocks now."""
    relinked_count: int = 0
    kept_file: str | None = None


# -- delete -----------------------------------------------------------------------------------


async def plan_delete(
    ctx: Context[Runtime, Any], pipeline_uuid: PipelineUuid, block_uuid: BlockUuid, force: bool
) -> Plan:
    block, relink = await _relinking(runtime(ctx), pipeline_uuid, block_uuid)
    if relink and not force:
        raise ToolError(
            f"Blocks {quoted(list(relink))} depend on {block.uuid!r}. Pass force=true to delete it and re-link them "
            f"to its upstream blocks ({quoted(block.upstream_blocks) or 'none'}), or change them with update_block."
        )
    shown = list(relink.items())[:NAMES_SHOWN]
    said = [
        f"Remove the {block.type} block {block.uuid!r} from pipeline {pipeline_uuid!r}.",
        *(f"Block {child!r} then runs after {quoted(parents) or 'no block'}." for child, parents in shown),
        f"{len(relink) - len(shown)} more blocks are re-linked the same way." if len(relink) > len(shown) else "",
        _file_fate(block.type, block.file_path),
    ]
    return Plan(
        summary=" ".join(sentence for sentence in said if sentence),
        changes={
            "pipeline_uuid": pipeline_uuid,
            "block_uuid": block.uuid,
            "type": block.type,
            "file": block.file_path,
            "relink": dict(shown),
            "relinked": len(relink),
        },
    )


async def delete_block(
    ctx: Context[Runtime, Any],
    plan: Plan,
    pipeline_uuid: PipelineUuid,
    block_uuid: BlockUuid,
    force: Annotated[bool, Field(description="Re-link the blocks that depend on it to its upstream blocks")] = False,
) -> BlockDeleted:
    """Remove a block from a pipeline (its file stays in the project); one others depend on needs force=true."""
    cluster = runtime(ctx).cluster
    block, relink = await _relinking(runtime(ctx), pipeline_uuid, block_uuid)
    if relink and not force:
        raise ToolError(f"Blocks {quoted(list(relink))} now depend on {block_uuid!r}: nothing was changed.")
    # Mage's own force=true re-link can leave a block listing the same upstream block twice: re-link each here.
    for child, parents in relink.items():
        await cluster.update_block(pipeline_uuid, child, {"upstream_blocks": parents})
    await cluster.delete_block(pipeline_uuid, block_uuid)
    after = {b.uuid: b for b in (await cluster.get_pipeline(pipeline_uuid)).blocks}
    wrong = [c for c, parents in relink.items() if c in after and sorted(after[c].upstream_blocks) != sorted(parents)]
    if block_uuid in after or wrong:
        raise ToolError(
            f"Mage does not show the deletion of {block_uuid!r} as planned (still there: {block_uuid in after}; "
            f"re-linked differently: {quoted(wrong) or 'none'}). get_pipeline shows the blocks as they are now."
        )
    return _deleted(pipeline_uuid, block_uuid, block.type, block.file_path, relink, len(relink))


async def settle_delete(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, block_uuid: BlockUuid, **_: Any
) -> BlockDeleted | None:
    """Deleted when the block is gone and every block that ran after it is re-linked as planned; not applied
    while it is there and every block that ran after it still does."""
    blocks = {block.uuid: block for block in (await runtime(ctx).cluster.get_pipeline(pipeline_uuid)).blocks}
    children = {uuid for uuid, block in blocks.items() if block_uuid in block.upstream_blocks}
    relink: dict[str, list[str]] = plan.changes["relink"]
    if block_uuid in blocks and children >= relink.keys() and len(children) == plan.changes["relinked"]:
        return None
    relinked = all(
        sorted(blocks[child].upstream_blocks) == sorted(relink[child]) for child in relink if child in blocks
    )
    if block_uuid in blocks or children or not relinked:
        raise Undecided(f"Block {block_uuid!r} or the blocks that ran after it are only partly changed.")
    return _deleted(
        pipeline_uuid, block_uuid, plan.changes["type"], plan.changes["file"], relink, plan.changes["relinked"]
    )


def _deleted(
    pipeline_uuid: str,
    block_uuid: str,
    block_type: str | None,
    file_path: str,
    relink: dict[str, list[str]],
    relinked_count: int,
) -> BlockDeleted:
    return BlockDeleted(
        status="deleted",
        pipeline_uuid=pipeline_uuid,
        block_uuid=block_uuid,
        relinked=dict(list(relink.items())[:NAMES_SHOWN]),
        relinked_count=relinked_count,
        kept_file=None if block_type in ("markdown", "scratchpad") else file_path,
        message=f"Removed block {block_uuid!r}. {_file_fate(block_type, file_path)}",
    )


async def _relinking(rt: Target, pipeline_uuid: str, block_uuid: str) -> tuple[Block, dict[str, list[str]]]:
    """The block, and the upstream each block that depends on it gets once it is gone."""
    block = await rt.cluster.get_block(pipeline_uuid, block_uuid)
    pipeline = await rt.cluster.get_pipeline(pipeline_uuid)
    children = [other for other in pipeline.blocks if block.uuid in other.upstream_blocks]
    return block, {child.uuid: _relinked(child.upstream_blocks, block) for child in children}


def _relinked(upstream: Sequence[str], removed: Block) -> list[str]:
    """A downstream block's upstream once `removed` goes: the others, then `removed`'s own, each once."""
    kept = [uuid for uuid in upstream if uuid != removed.uuid]
    return list(dict.fromkeys([*kept, *removed.upstream_blocks]))


def _file_fate(block_type: str | None, file_path: str) -> str:
    if block_type in ("markdown", "scratchpad"):
        return f"Mage removes its file {file_path} unless another pipeline uses it."
    return f"Its file {file_path} stays in the project (Mage keeps block files; a block of that name reuses it)."


TOOLSET: Toolset = "blocks"
TOOLS: tuple[ToolSpec, ...] = (
    changes(
        delete_block,
        "Delete block",
        "cluster",
        plan=plan_delete,
        destructive=True,
        idempotent=True,
        settle=settle_delete,
    ),
)
