"""Pipeline runs on the Mage cluster."""

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mage_mcp.server.runtime import Runtime

from .base import READ_ONLY, ToolSpec, runtime


class BlockRunState(BaseModel):
    block_uuid: str
    status: str


class RunInfo(BaseModel):
    id: int
    status: str
    pipeline_uuid: str
    started_at: datetime | None
    completed_at: datetime | None
    block_runs: list[BlockRunState]


async def get_run(ctx: Context[Runtime, Any], run_id: Annotated[int, Field(ge=1)]) -> RunInfo:
    """Show a pipeline run: status, times, block statuses."""
    run = await runtime(ctx).cluster.get_run(run_id)
    return RunInfo(
        id=run.id,
        status=run.status,
        pipeline_uuid=run.pipeline_uuid,
        started_at=run.started_at,
        completed_at=run.completed_at,
        block_runs=[BlockRunState(block_uuid=b.block_uuid, status=b.status) for b in run.block_runs],
    )


TOOLS = (ToolSpec(get_run, "Get run", READ_ONLY, "cluster"),)
