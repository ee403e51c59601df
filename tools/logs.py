"""A run's logs, filtered and tailed, bounded whatever Mage holds.

Mage serves a run's log files whole (one request); the client parses them into lines, where the
plain traceback lines that follow a JSON log line belong to its entry (its block, level and
time). The filters work on entries, so a traceback is never split from the line it explains.
"""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio.to_thread
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mage_mcp.clients import LogLine, parse_log_lines
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, reads, runtime
from .names import BlockUuid, SearchText
from .paging import cut, newest_that_fit
from .runs import RunId

if TYPE_CHECKING:
    from mage_mcp.clients import ClusterClient  # loads httpx: at run time only once a tool uses a client

Level = Literal["error", "warning", "info", "debug"]
RANK: dict[str, int] = {"debug": 0, "info": 1, "warning": 2, "error": 3}


class LogLineOut(BaseModel):
    time: datetime | None
    block_uuid: str | None
    level: str
    message: str


class RunLogs(BaseModel):
    run_id: int
    pipeline_uuid: str
    lines: list[LogLineOut]
    matched: int
    returned: int
    truncated: bool
    left_out: int


async def get_run_logs(
    ctx: Context[Runtime, Any],
    run_id: RunId,
    block_uuid: Annotated[BlockUuid | None, Field(description="Exact block uuid")] = None,
    level: Annotated[Level | None, Field(description="At least this level")] = None,
    contains: SearchText | None = None,
    tail: Annotated[int, Field(ge=1, le=2000)] = 200,
) -> RunLogs:
    """A run's log lines, oldest first, filtered by block, level and text and tailed; says how many were left out."""
    cluster = runtime(ctx).cluster
    run = await cluster.get_run(run_id)
    lines = await run_log_lines(cluster, run.pipeline_uuid, run.id)
    matched = select(lines, block_uuid=block_uuid, level=level, contains=contains)
    kept = newest_that_fit([_shown(line) for line in tail_entries(matched, tail)], _size)
    return RunLogs(
        run_id=run.id,
        pipeline_uuid=run.pipeline_uuid,
        lines=kept,
        matched=len(matched),
        returned=len(kept),
        truncated=len(kept) < len(matched),
        left_out=len(matched) - len(kept),
    )


async def run_log_lines(cluster: "ClusterClient", pipeline_uuid: str, run_id: int) -> list[LogLine]:
    """A run's log lines, parsed in a worker thread: a big log takes seconds, which the event loop
    (and every other call the server is answering) must not wait for."""
    logs = await cluster.run_logs(pipeline_uuid, run_id)
    return await anyio.to_thread.run_sync(parse_log_lines, logs.files)


def select(
    lines: list[LogLine], *, block_uuid: str | None = None, level: str | None = None, contains: str | None = None
) -> list[LogLine]:
    """The lines that pass the filters; block and level are an entry's, `contains` a line's own text."""
    floor = RANK[level] if level else 0
    return [
        line
        for line in lines
        if (block_uuid is None or line.block_uuid == block_uuid)
        and RANK.get(line.level, RANK["info"]) >= floor
        and (contains is None or contains in line.message)
    ]


def tail_entries(lines: list[LogLine], tail: int) -> list[LogLine]:
    """The last `tail` lines, starting at an entry's first line when a whole entry fits."""
    kept = lines[-tail:]
    if len(lines) > tail and kept and kept[0].entry == lines[-tail - 1].entry:
        whole = [line for line in kept if line.entry != kept[0].entry]
        return whole or kept
    return kept


def _shown(line: LogLine) -> LogLineOut:
    return LogLineOut(time=line.time, block_uuid=line.block_uuid, level=line.level, message=cut(line.message))


def _size(line: LogLineOut) -> int:
    return len(line.message) + len(line.block_uuid or "") + 80


TOOLSET: Toolset = "runs"
TOOLS: tuple[ToolSpec, ...] = (reads(get_run_logs, "Get run logs", "cluster"),)
