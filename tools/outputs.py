"""What a block returned in a run: a table's first rows, or the text of any other output."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mage_mcp.clients import BlockOutput
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, reads, runtime
from .names import BlockUuid
from .paging import CELL_CHARS, RESULT_BUDGET_BYTES, cut
from .runs import RunId

MAX_COLUMNS = 100
MAX_OUTPUTS = 20


class OutputShown(BaseModel):
    variable: str | None
    type: str | None
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    total_rows: int | None = None
    text: str | None = None
    truncated: bool = False


class BlockOutputs(BaseModel):
    run_id: int
    block_uuid: str
    outputs: list[OutputShown]
    outputs_left_out: int = 0


async def get_block_output(
    ctx: Context[Runtime, Any],
    run_id: RunId,
    block_uuid: BlockUuid,
    rows: Annotated[int, Field(ge=1, le=100)] = 10,
) -> BlockOutputs:
    """What a block returned in a run: columns and the first rows of a table, or the text of another output."""
    cluster = runtime(ctx).cluster
    run = await cluster.get_run(run_id)
    block_run = next((b for b in run.block_runs if b.block_uuid == block_uuid), None)
    if block_run is None:
        blocks = ", ".join(b.block_uuid for b in run.block_runs) or "none"
        raise ToolError(f"Block {block_uuid!r} did not run in run {run.id}; its blocks are {blocks}.")
    outputs = await cluster.block_run_outputs(block_run.id)  # a returned list is one output per item
    shown = outputs[:MAX_OUTPUTS]
    budget = RESULT_BUDGET_BYTES // max(1, len(shown))
    return BlockOutputs(
        run_id=run.id,
        block_uuid=block_uuid,
        outputs=[_shown(o, rows, budget) for o in shown],
        outputs_left_out=len(outputs) - len(shown),
    )


def _shown(output: BlockOutput, max_rows: int, budget: int) -> OutputShown:
    if output.columns is None:
        text = output.text or ""
        limit = min(CELL_CHARS, budget)
        return OutputShown(
            variable=output.variable_uuid, type=output.type, text=cut(text, limit), truncated=len(text) > limit
        )
    columns = [cut(str(c), 200) for c in output.columns[:MAX_COLUMNS]]
    kept: list[list[Any]] = []
    used = sum(len(c) for c in columns)
    for row in (output.rows or [])[:max_rows]:
        cells = [_cell(value) for value in row[:MAX_COLUMNS]]
        used += sum(len(str(c)) + 4 for c in cells)
        if used > budget:
            break
        kept.append(cells)
    cut_short = len(kept) < min(max_rows, len(output.rows or [])) or len(output.columns) > MAX_COLUMNS
    return OutputShown(
        variable=output.variable_uuid,
        type=output.type,
        columns=columns,
        rows=kept,
        total_rows=output.total_rows,
        truncated=cut_short,
    )


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return cut(str(value))


TOOLSET: Toolset = "runs"
TOOLS: tuple[ToolSpec, ...] = (reads(get_block_output, "Get block output", "cluster"),)
