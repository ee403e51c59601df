"""Why did a run fail? One call: the failed blocks with the end of their tracebacks, what was
skipped, how the last successful run differed, and which calls would help next.

At most four requests: the failed run when only a pipeline is named, the run, its logs, and
the pipeline's recent completed runs.
"""

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mage_mcp.clients import LogLine, PipelineRun
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, reads, runtime
from .logs import run_log_lines, select
from .names import ObjectId, PipelineUuid
from .paging import cut
from .runs import duration_s

ERROR_LINES = 40
LINE_CHARS = 500
VALUE_CHARS = 200
RECENT_SUCCESSES = 20
SKIPPED = frozenset({"cancelled", "upstream_failed", "condition_failed"})


class FailedBlock(BaseModel):
    block_uuid: str
    status: str
    error_lines: list[str]


class LastSuccess(BaseModel):
    id: int
    completed_at: datetime | None
    duration_s: float | None
    variables_that_differ: dict[str, dict[str, Any]]


class NextCall(BaseModel):
    tool: str
    arguments: dict[str, Any]
    why: str


class Diagnosis(BaseModel):
    run_id: int
    pipeline_uuid: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    variables: dict[str, Any]
    failed_blocks: list[FailedBlock]
    skipped_blocks: list[str]
    last_success: LastSuccess | None
    next: list[NextCall]


async def diagnose_run(
    ctx: Context[Runtime, Any],
    run_id: ObjectId | None = None,
    pipeline_uuid: Annotated[PipelineUuid | None, Field(description="Its latest failed run, when no run_id")] = None,
) -> Diagnosis:
    """Why a run (or a pipeline's latest failed run) failed: block errors, skipped blocks, last success, next calls."""
    cluster = runtime(ctx).cluster
    run = await cluster.get_run(await _run_id(ctx, run_id, pipeline_uuid))
    lines = await run_log_lines(cluster, run.pipeline_uuid, run.id)
    failed = [
        FailedBlock(block_uuid=b.block_uuid, status=b.status, error_lines=_error_lines(lines, b.block_uuid))
        for b in run.block_runs
        if b.status == "failed"
    ]
    successes = await cluster.list_runs(pipeline_uuid=run.pipeline_uuid, status="completed", limit=RECENT_SUCCESSES)
    return Diagnosis(
        run_id=run.id,
        pipeline_uuid=run.pipeline_uuid,
        status=run.status,
        started_at=run.started_at,
        completed_at=run.completed_at,
        variables=_shown_variables(run),
        failed_blocks=failed,
        skipped_blocks=[b.block_uuid for b in run.block_runs if b.status in SKIPPED],
        last_success=_last_success(run, successes.items),
        next=_next_calls(run, failed),
    )


async def _run_id(ctx: Context[Runtime, Any], run_id: int | None, pipeline_uuid: str | None) -> int:
    if run_id is not None:
        return run_id
    if pipeline_uuid is None:
        raise ToolError("Give run_id, or pipeline_uuid to diagnose its latest failed run.")
    page = await runtime(ctx).cluster.list_runs(pipeline_uuid=pipeline_uuid, status="failed", limit=1)
    if not page.items:
        raise ToolError(f"Pipeline {pipeline_uuid!r} has no failed run. list_runs shows its runs.")
    return page.items[0].id


def _error_lines(lines: list[LogLine], block_uuid: str) -> list[str]:
    """The last lines the block logged at error level: the end of its traceback, exception last."""
    errors = select(lines, block_uuid=block_uuid, level="error")
    return [cut(line.message, LINE_CHARS) for line in errors[-ERROR_LINES:]]


def _shown_variables(run: PipelineRun) -> dict[str, Any]:
    return {k: _short(v) for k, v in (run.variables or {}).items() if k != "execution_partition"}


def _short(value: Any) -> Any:
    return value if isinstance(value, int | float | bool) or value is None else cut(str(value), VALUE_CHARS)


def _last_success(run: PipelineRun, completed: list[PipelineRun]) -> LastSuccess | None:
    """The newest completed run of the pipeline that started before this one."""
    before = [r for r in completed if r.id != run.id and _started(r) < _started(run)]
    if not before:
        return None
    last = max(before, key=_started)
    mine, theirs = _shown_variables(run), _shown_variables(last)
    differ = {k: {"this_run": mine.get(k), "last_success": theirs.get(k)} for k in sorted(set(mine) | set(theirs))}
    return LastSuccess(
        id=last.id,
        completed_at=last.completed_at,
        duration_s=duration_s(last),
        variables_that_differ={k: v for k, v in differ.items() if v["this_run"] != v["last_success"]},
    )


def _started(run: PipelineRun) -> tuple[datetime, int]:
    moment = run.started_at or run.created_at or run.execution_date or datetime.min.replace(tzinfo=None)
    return (moment.replace(tzinfo=None), run.id)


def _next_calls(run: PipelineRun, failed: list[FailedBlock]) -> list[NextCall]:
    calls = [
        NextCall(
            tool="get_run_logs",
            arguments={"run_id": run.id, "block_uuid": block.block_uuid, "tail": 400},
            why=f"the whole log of {block.block_uuid}",
        )
        for block in failed[:3]
    ]
    if failed:
        calls.append(
            NextCall(
                tool="retry_run", arguments={"run_id": run.id}, why="re-run the failed blocks once the cause is fixed"
            )
        )
    elif run.status != "completed":
        calls.append(NextCall(tool="wait_for_run", arguments={"run_id": run.id}, why=f"the run is {run.status}"))
    return calls


TOOLSET: Toolset = "runs"
TOOLS: tuple[ToolSpec, ...] = (reads(diagnose_run, "Diagnose run", "cluster"),)
