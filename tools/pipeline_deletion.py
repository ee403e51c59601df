"""Deleting a pipeline, and what Mage's own delete leaves behind.

Mage's `DELETE /api/pipelines/{uuid}` removes the pipeline's folder only: its triggers stay
(each with its token, a credential, and each revived by a new pipeline of the same uuid), its
runs stay, and its block files stay in the project. `delete_pipeline` deletes the runs when
asked (first, while Mage still shows them), then the triggers, then the pipeline: a failure
half-way leaves the pipeline there with whatever is left, never a trigger without its
pipeline, and the error says what was already deleted. When the answer to a step is lost,
`settle_delete` reads Mage back and answers only for all of the deletion or none of it.

Mage 0.9.80 shows a run only while its trigger exists: deleting a trigger clears the runs'
trigger id, and `list_runs` then skips them while `get_run` fails. Kept runs stay in Mage's
database, where only their ids reach them (`delete_run` still works).
"""

from collections.abc import Sequence
from contextlib import suppress
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mage_mcp.clients import (
    MageError,
    MageNotFoundError,
    MageOutcomeUnknownError,
    Page,
    Pipeline,
    PipelineRun,
    Trigger,
    every_item,
)
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime, Target

from .base import Toolset, ToolSpec, changes, runtime
from .names import PipelineUuid
from .paging import cut
from .pipelines import counted
from .settling import Undecided

SHOWN = 10
"""Triggers and runs a plan names one by one; it counts the rest."""
BLOCKS_SHOWN = 20
NAME_CHARS = 100
UNFINISHED = ("initial", "running")
HIDDEN_RUNS = (
    "Mage 0.9.80 no longer lists or shows a run once its trigger is deleted: list_runs skips them, get_run fails, "
    "delete_run by id still works"
)

DeleteRuns = Annotated[bool, Field(description="Delete its runs too (else they stay in Mage's database)")]


class PipelineDeleted(MutationOutcome):
    pipeline_uuid: str | None = None
    triggers_deleted: int | None = None
    runs_deleted: int | None = None
    runs_kept: int | None = None
    kept_run_ids: list[int] | None = None
    """The first ids of the kept runs: Mage lists them no more."""


async def plan_delete(ctx: Context[Runtime, Any], pipeline_uuid: PipelineUuid, delete_runs: DeleteRuns) -> Plan:
    cluster = runtime(ctx).cluster
    pipeline = await cluster.get_pipeline(pipeline_uuid)
    await _refuse_unfinished_runs(runtime(ctx), pipeline.uuid)
    triggers = await cluster.list_triggers(pipeline_uuid=pipeline.uuid, limit=SHOWN)
    runs = await cluster.list_runs(pipeline_uuid=pipeline.uuid, limit=SHOWN)
    trigger_count, run_count = triggers.total or len(triggers.items), runs.total or len(runs.items)
    summary = " ".join(
        [
            f"Delete pipeline {pipeline.uuid!r} on {cluster.base_url}: its folder and {_blocks_said(pipeline)}.",
            _runs_said(runs.items, run_count, delete_runs),
            _triggers_said(triggers.items, trigger_count),
            "Its block files stay in the project (Mage keeps them): a new block with one of these names would "
            "clash with its file. This cannot be undone.",
        ]
    )
    return Plan(
        summary=summary,
        changes={
            "pipeline_uuid": pipeline.uuid,
            "blocks": [b.uuid for b in pipeline.blocks[:BLOCKS_SHOWN]],
            "block_count": len(pipeline.blocks),
            "triggers_deleted": trigger_count,
            "first_trigger_ids": [t.id for t in triggers.items],
            "runs_deleted" if delete_runs else "runs_kept": run_count,
            "first_run_ids": [r.id for r in runs.items],
        },
    )


async def _refuse_unfinished_runs(rt: Target, pipeline_uuid: str) -> None:
    """A run still initial or running would stay so forever once its pipeline is gone."""
    for status in UNFINISHED:
        page = await rt.cluster.list_runs(pipeline_uuid=pipeline_uuid, status=status, limit=SHOWN)
        if page.items:
            ids = _ids_said([run.id for run in page.items], page.total or len(page.items))
            raise ToolError(
                f"Pipeline {pipeline_uuid!r} has {status} runs ({ids}); once the pipeline is gone they would stay "
                f"{status} forever. cancel_run them (or wait_for_run until they are done), then delete_pipeline."
            )


def _blocks_said(pipeline: Pipeline) -> str:
    if not pipeline.blocks:
        return "no blocks"
    names = ", ".join(b.uuid for b in pipeline.blocks[:BLOCKS_SHOWN])
    more = f" and {len(pipeline.blocks) - BLOCKS_SHOWN} more" if len(pipeline.blocks) > BLOCKS_SHOWN else ""
    return f"its {len(pipeline.blocks)} blocks ({names}{more})"


def _triggers_said(shown: Sequence[Trigger], count: int) -> str:
    if not count:
        return "It has no triggers."
    named = ", ".join(f"{t.id} {cut(t.name, NAME_CHARS)!r} ({t.schedule_type}, {t.status})" for t in shown)
    more = f" and {count - len(shown)} more" if count > len(shown) else ""
    return f"Deleted too: its {counted(count, 'trigger')} (Mage would keep them, each with its token): {named}{more}."


def _runs_said(shown: Sequence[PipelineRun], count: int, delete_runs: bool) -> str:
    if not count:
        return "It has no runs."
    ids = _ids_said([r.id for r in shown], count)
    if delete_runs:
        return f"Deleted too, with their block runs: its {counted(count, 'run')} ({ids})."
    return (
        f"Kept in Mage's database: its {counted(count, 'run')} ({ids}), but {HIDDEN_RUNS}; delete_runs=true "
        "deletes them instead."
    )


def _ids_said(ids: Sequence[int], count: int) -> str:
    more = f" and {count - len(ids)} more" if count > len(ids) else ""
    return f"{'ids' if count > 1 else 'id'} {', '.join(str(i) for i in ids)}{more}"


async def delete_pipeline(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, delete_runs: DeleteRuns = False
) -> PipelineDeleted:
    """Delete a pipeline and its triggers (Mage's own delete keeps them), and its runs when delete_runs."""
    cluster = runtime(ctx).cluster
    steps = _Deletion(runtime(ctx), pipeline_uuid)
    run_ids = await steps.all_ids("runs") if delete_runs else []
    kept = (
        Page[PipelineRun](items=[])
        if delete_runs
        else await cluster.list_runs(pipeline_uuid=pipeline_uuid, limit=SHOWN)
    )
    trigger_ids = await steps.all_ids("triggers")
    try:
        for run_id in run_ids:
            await steps.delete("runs", run_id)
        for trigger_id in trigger_ids:
            await steps.delete("triggers", trigger_id)
    except MageOutcomeUnknownError as lost:  # settle_delete reads whether this step took effect
        raise MageOutcomeUnknownError(steps.stopped(lost)) from None
    except MageError as error:
        raise ToolError(steps.stopped(error)) from None
    try:
        await cluster.delete_pipeline(pipeline_uuid)
    except MageOutcomeUnknownError as lost:
        raise MageOutcomeUnknownError(steps.lost_at_the_end(lost)) from None
    except MageError as error:
        raise ToolError(steps.stopped(error)) from None
    kept_count = kept.total or len(kept.items)
    return PipelineDeleted(
        status="deleted",
        pipeline_uuid=pipeline_uuid,
        triggers_deleted=len(steps.deleted["triggers"]),
        runs_deleted=len(steps.deleted["runs"]),
        runs_kept=kept_count,
        kept_run_ids=[run.id for run in kept.items] or None,
        message=f"Deleted pipeline {pipeline_uuid!r} and its {counted(len(trigger_ids), 'trigger')}. "
        f"{_kept_said(kept_count)}Its block files stay in the project.",
    )


def _kept_said(kept: int) -> str:
    return f"Kept in Mage's database: its {counted(kept, 'run')}, but {HIDDEN_RUNS}. " if kept else ""


async def settle_delete(
    ctx: Context[Runtime, Any], plan: Plan, pipeline_uuid: PipelineUuid, delete_runs: DeleteRuns = False
) -> PipelineDeleted | None:
    """Read back after a lost answer of any step: deleted once the pipeline and its triggers are gone; not
    applied while the pipeline, its triggers and its runs are all as the plan saw them; else a part of the
    deletion happened, and the outcome stays unknown (the lost answer's error says what was deleted).

    The pipeline's own DELETE is sent only once its runs and triggers are gone, so a pipeline that is gone
    with no trigger left is the whole deletion, and a pipeline still there with all it had is none of it.
    """
    cluster = runtime(ctx).cluster
    if await cluster.pipeline_exists(pipeline_uuid):
        if await _as_planned(runtime(ctx), plan, pipeline_uuid, delete_runs):
            return None
        raise Undecided(f"Pipeline {pipeline_uuid!r} is still there, and some of its triggers or runs are not.")
    if await _triggers_left(runtime(ctx), pipeline_uuid):
        raise Undecided(f"Pipeline {pipeline_uuid!r} is gone, but some of its triggers are still there.")
    kept = 0 if delete_runs else plan.changes["runs_kept"]
    return PipelineDeleted(
        status="deleted",
        pipeline_uuid=pipeline_uuid,
        runs_kept=kept,
        kept_run_ids=None if delete_runs else plan.changes["first_run_ids"] or None,
        message=f"Deleted pipeline {pipeline_uuid!r}: Mage's answer was lost, and read back the pipeline and its "
        f"triggers are gone{', with its runs' if delete_runs else ''}. {_kept_said(kept)}"
        "Its block files stay in the project.",
    )


async def _as_planned(rt: Target, plan: Plan, pipeline_uuid: str, delete_runs: bool) -> bool:
    """Whether the pipeline still has the triggers (and the runs, when they were to go) the plan counted."""
    cluster = rt.cluster
    triggers = await cluster.list_triggers(pipeline_uuid=pipeline_uuid, limit=SHOWN)
    seen = [(triggers.total or len(triggers.items), [t.id for t in triggers.items])]
    planned = [(plan.changes["triggers_deleted"], plan.changes["first_trigger_ids"])]
    if delete_runs:
        runs = await cluster.list_runs(pipeline_uuid=pipeline_uuid, limit=SHOWN)
        seen.append((runs.total or len(runs.items), [r.id for r in runs.items]))
        planned.append((plan.changes["runs_deleted"], plan.changes["first_run_ids"]))
    return seen == planned


async def _triggers_left(rt: Target, pipeline_uuid: str) -> bool:
    """Whether any trigger still names the pipeline (Mage keeps them past its own delete; the project's list
    shows them, the pipeline's own list needs the pipeline)."""
    cluster = rt.cluster
    async for trigger in every_item(lambda limit, offset: cluster.list_triggers(limit=limit, offset=offset)):
        if trigger.pipeline_uuid == pipeline_uuid:
            return True
    return False


Kind = Literal["triggers", "runs"]


class _Deletion:
    """The steps of one delete, remembering what is already gone for an error half-way."""

    def __init__(self, rt: Target, pipeline_uuid: str) -> None:
        self.cluster = rt.cluster
        self.pipeline_uuid = pipeline_uuid
        self.deleted: dict[Kind, list[int]] = {"runs": [], "triggers": []}

    async def all_ids(self, kind: Kind) -> list[int]:
        """The ids of all the pipeline's triggers or runs, read before the first one is deleted."""
        cluster, uuid = self.cluster, self.pipeline_uuid
        if kind == "triggers":
            triggers = every_item(
                lambda limit, offset: cluster.list_triggers(pipeline_uuid=uuid, limit=limit, offset=offset)
            )
            return [trigger.id async for trigger in triggers]
        runs = every_item(lambda limit, offset: cluster.list_runs(pipeline_uuid=uuid, limit=limit, offset=offset))
        return [run.id async for run in runs]

    async def delete(self, kind: Kind, item_id: int) -> None:
        with suppress(MageNotFoundError):  # gone already
            if kind == "triggers":
                await self.cluster.delete_trigger(item_id)
            else:
                await self.cluster.delete_run(item_id)
        self.deleted[kind].append(item_id)

    def stopped(self, error: MageError) -> str:
        return (
            f"Deleting pipeline {self.pipeline_uuid!r} stopped: {error} Already deleted: {self._done()}. "
            "The pipeline itself is still there: delete_pipeline again deletes what is left."
        )

    def lost_at_the_end(self, error: MageError) -> str:
        return (
            f"Deleting pipeline {self.pipeline_uuid!r}, its last step (the pipeline itself) was sent: {error} "
            f"Already deleted before it: {self._done()}. get_pipeline shows whether the pipeline is still there."
        )

    def _done(self) -> str:
        done = [
            f"{len(ids)} {kind} ({', '.join(str(i) for i in ids[:SHOWN])}{', …' if len(ids) > SHOWN else ''})"
            for kind, ids in self.deleted.items()
            if ids
        ]
        return " and ".join(done) or "nothing"


TOOLSET: Toolset = "pipelines"
TOOLS: tuple[ToolSpec, ...] = (
    changes(
        delete_pipeline,
        "Delete pipeline",
        "cluster",
        plan=plan_delete,
        destructive=True,
        idempotent=True,
        settle=settle_delete,
    ),
)
