"""Pipeline runs on the Mage cluster: read them, list them, wait for one, cancel, retry, delete.

Mage starts a run `initial` and its scheduler picks it up within seconds; a cancel acts within
seconds too. Waits are bounded and return the current state on timeout (see `waiting`).
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from mage_mcp.clients import HIDDEN_RUN, MageNotFoundError, PipelineRun
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, reads, runtime
from .names import BlockUuid, Cursor, ObjectId, PipelineUuid
from .paging import next_cursor, offset_from
from .waiting import Observation, wait_for

RunId = ObjectId
RunStatus = Literal["initial", "running", "completed", "failed", "cancelled"]
Since = Annotated[str | None, Field(max_length=100, description="ISO time or a duration such as 24h, 30m, 7d")]
DONE = frozenset({"completed", "failed", "cancelled"})
CANCEL_WAIT_S = 5  # Mage acts on a cancel within seconds; a cancel waits this long to report it
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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


class RunWait(RunInfo):
    timed_out: bool
    waited_s: float
    hint: str | None = None


NOT_PICKED_UP = (
    "Every block is still initial: Mage's scheduler has not picked the run up. After a retry_run this can last "
    "(Mage 0.9.80 reuses the run's job id, and its process queue may skip it); cancel_run it and trigger_pipeline "
    "a new run."
)


class RunItem(BaseModel):
    id: int
    pipeline_uuid: str
    status: str
    trigger_id: int | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_s: float | None


class RunList(BaseModel):
    runs: list[RunItem]
    total: int | None
    next_cursor: str | None


class RunChange(MutationOutcome):
    run_id: int | None = None
    pipeline_uuid: str | None = None


# -- reading ----------------------------------------------------------------------------------


async def get_run(ctx: Context[Runtime, Any], run_id: RunId) -> RunInfo:
    """Show a pipeline run: status, times, block statuses."""
    return run_info(await runtime(ctx).cluster.get_run(run_id))


def run_info(run: PipelineRun) -> RunInfo:
    return RunInfo(
        id=run.id,
        status=run.status,
        pipeline_uuid=run.pipeline_uuid,
        started_at=run.started_at,
        completed_at=run.completed_at,
        block_runs=[BlockRunState(block_uuid=b.block_uuid, status=b.status) for b in run.block_runs],
    )


async def list_runs(
    ctx: Context[Runtime, Any],
    pipeline_uuid: PipelineUuid | None = None,
    status: RunStatus | None = None,
    since: Since = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> RunList:
    """List pipeline runs, newest first, by pipeline, status and creation time; returns ids, statuses, durations."""
    created_after = parse_since(since)
    offset = offset_from(cursor, "list_runs")
    page = await runtime(ctx).cluster.list_runs(
        pipeline_uuid=pipeline_uuid, status=status, created_after=created_after, limit=limit, offset=offset
    )
    return RunList(
        runs=[_item(run) for run in page.items],
        total=page.total,
        next_cursor=next_cursor(offset, len(page.items), page.has_more),
    )


def duration_s(run: PipelineRun) -> float | None:
    if run.started_at is None or run.completed_at is None:
        return None
    return round((run.completed_at - run.started_at).total_seconds(), 1)


def _item(run: PipelineRun) -> RunItem:
    return RunItem(
        id=run.id,
        pipeline_uuid=run.pipeline_uuid,
        status=run.status,
        trigger_id=run.pipeline_schedule_id,
        started_at=run.started_at,
        completed_at=run.completed_at,
        duration_s=duration_s(run),
    )


def parse_since(since: str | None, *, now: datetime | None = None) -> datetime | None:
    """An ISO time (UTC when it names no zone) or a duration back from now, such as `24h` or `1d 12h`."""
    if since is None:
        return None
    text = since.strip()
    if (parts := _DURATION.findall(text)) and _DURATION.sub("", text).strip() == "":
        back = sum((timedelta(**{_UNITS[unit]: int(amount)}) for amount, unit in parts), timedelta())
        return (now or datetime.now(UTC)) - back
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ToolError(
            f"since {since!r} is neither an ISO time (2026-12-01T08:00:00Z) nor a duration (30m, 24h, 7d)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- waiting ----------------------------------------------------------------------------------


async def wait_for_run(
    ctx: Context[Runtime, Any],
    run_id: RunId,
    timeout_s: Annotated[int, Field(ge=1, le=600, description="Longest wait, seconds")] = 60,
) -> RunWait:
    """Wait until a run is completed, failed or cancelled (progress on every poll); on timeout returns its state."""
    cluster = runtime(ctx).cluster

    async def probe() -> Observation[PipelineRun]:
        return _observed(await cluster.get_run(run_id))

    waited = await wait_for(ctx, probe, _observed(await cluster.get_run(run_id)), timeout_s)
    run = waited.last.value
    stuck = waited.timed_out and bool(run.block_runs) and all(b.status == "initial" for b in run.block_runs)
    return RunWait(
        **run_info(run).model_dump(),
        timed_out=waited.timed_out,
        waited_s=waited.waited_s,
        hint=NOT_PICKED_UP if stuck else None,
    )


def _observed(run: PipelineRun) -> Observation[PipelineRun]:
    counts: dict[str, int] = {}
    for block in run.block_runs:
        counts[block.status] = counts.get(block.status, 0) + 1
    blocks = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no block runs yet"
    return Observation(run, run.status in DONE, f"run {run.id} {run.status}: blocks {blocks}")


# -- cancel / retry / delete ------------------------------------------------------------------


def _described(run: PipelineRun) -> str:
    when = run.started_at or run.created_at
    at = f", started {when:%Y-%m-%d %H:%M:%S} UTC" if when else ""
    return f"run {run.id} of pipeline {run.pipeline_uuid!r} ({run.status}{at})"


async def plan_cancel(ctx: Context[Runtime, Any], run_id: RunId) -> Plan:
    run = await runtime(ctx).cluster.get_run(run_id)
    if run.status in DONE:
        return Plan.nothing_to_do(
            f"The {_described(run)} is already done.", status=run.status, run_id=run.id, pipeline_uuid=run.pipeline_uuid
        )
    running = [b.block_uuid for b in run.block_runs if b.status in ("running", "queued")]
    stops = f" Blocks that stop: {', '.join(running)}." if running else ""
    return Plan(summary=f"Cancel the {_described(run)}.{stops}", changes={"run_id": run.id, "status": "cancelled"})


async def cancel_run(ctx: Context[Runtime, Any], plan: Plan, run_id: RunId) -> RunChange:
    """Cancel a run that is initial or running; returns the status Mage reports after the call."""
    cluster = runtime(ctx).cluster
    await cluster.cancel_run(run_id)

    async def probe() -> Observation[PipelineRun]:
        return _observed(await cluster.get_run(run_id))

    waited = await wait_for(ctx, probe, _observed(await cluster.get_run(run_id)), CANCEL_WAIT_S)
    run = waited.last.value
    later = "" if run.status in DONE else " Mage acts on a cancel within seconds: get_run shows when it has."
    return RunChange(status=run.status, run_id=run.id, pipeline_uuid=run.pipeline_uuid, message=f"Cancel sent.{later}")


async def plan_retry(ctx: Context[Runtime, Any], run_id: RunId, from_block_uuid: BlockUuid | None) -> Plan:
    cluster = runtime(ctx).cluster
    run = await cluster.get_run(run_id)
    if run.status not in DONE:
        raise ToolError(f"Run {run.id} is still {run.status}: wait_for_run until it is done, or cancel_run it first.")
    if from_block_uuid is None:
        blocks = [b.block_uuid for b in run.block_runs if b.status != "completed"]
        if not blocks:
            return Plan.nothing_to_do(
                f"Every block of the {_described(run)} completed; nothing to retry. Pass from_block_uuid to re-run "
                "a block and what follows it, or trigger_pipeline for a new run.",
                status=run.status,
                run_id=run.id,
                pipeline_uuid=run.pipeline_uuid,
            )
    else:
        blocks = await _block_and_downstream(runtime(ctx), run, from_block_uuid)
    return Plan(
        summary=f"Retry the {_described(run)}: re-run the blocks {', '.join(blocks)}.",
        changes={"run_id": run.id, "blocks": blocks},
    )


async def _block_and_downstream(rt: Target, run: PipelineRun, block_uuid: str) -> list[str]:
    in_run = [b.block_uuid for b in run.block_runs]
    if block_uuid not in in_run:
        raise ToolError(f"Block {block_uuid!r} is not in run {run.id}; its blocks are {', '.join(in_run) or 'none'}.")
    pipeline = await rt.cluster.get_pipeline(run.pipeline_uuid)
    downstream = {b.uuid: b.downstream_blocks for b in pipeline.blocks}
    chosen, todo = [block_uuid], [block_uuid]
    while todo:
        for child in downstream.get(todo.pop(), []):
            if child not in chosen:
                chosen.append(child)
                todo.append(child)
    return [uuid for uuid in in_run if uuid in chosen]


async def retry_run(
    ctx: Context[Runtime, Any],
    plan: Plan,
    run_id: RunId,
    from_block_uuid: Annotated[BlockUuid | None, Field(description="Re-run this block and all downstream")] = None,
) -> RunChange:
    """Re-run a done run's failed and cancelled blocks, or one block and everything downstream of it."""
    run = await runtime(ctx).cluster.retry_run(run_id, from_block_uuid)
    return RunChange(
        status=run.status,
        run_id=run.id,
        pipeline_uuid=run.pipeline_uuid,
        message=f"{plan.summary} wait_for_run tells when it is done (and what to do if Mage never picks it up).",
    )


async def plan_delete(ctx: Context[Runtime, Any], run_id: RunId) -> Plan:
    cluster = runtime(ctx).cluster
    try:
        run = await cluster.get_run(run_id)
    except MageNotFoundError as exc:
        if exc.kind != HIDDEN_RUN:
            raise
        return Plan(
            summary=f"Delete pipeline run {run_id} on {cluster.base_url}, which Mage keeps but no longer shows (its "
            "trigger was deleted), with its block runs. This cannot be undone.",
            changes={"run_id": run_id, "pipeline_uuid": None},
        )
    return Plan(
        summary=f"Delete the {_described(run)} and its {len(run.block_runs)} block runs. This cannot be undone.",
        changes={"run_id": run.id, "pipeline_uuid": run.pipeline_uuid},
    )


async def delete_run(ctx: Context[Runtime, Any], plan: Plan, run_id: RunId) -> RunChange:
    """Delete a run and its block runs (its history); returns the deleted run's id."""
    await runtime(ctx).cluster.delete_run(run_id)
    return RunChange(status="deleted", run_id=run_id, pipeline_uuid=plan.changes["pipeline_uuid"], message=plan.summary)


TOOLSET: Toolset = "runs"
TOOLS: tuple[ToolSpec, ...] = (
    reads(get_run, "Get run", "cluster"),
    reads(list_runs, "List runs", "cluster"),
    reads(wait_for_run, "Wait for run", "cluster"),
    changes(cancel_run, "Cancel run", "cluster", plan=plan_cancel, destructive=True, idempotent=True),
    changes(retry_run, "Retry run", "cluster", plan=plan_retry, destructive=False, idempotent=False),
    changes(delete_run, "Delete run", "cluster", plan=plan_delete, destructive=True, idempotent=True),
)
