"""Pipeline runs (and the block runs they embed): start, list, read, cancel, retry, delete."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import HIDDEN_RUN, MageApiError, MageNotFoundError, Subject
from ..models import Page, PipelineRun
from .session import ClusterSession, page_of

_TRIGGER_GONE = "'NoneType' object has no attribute 'id'"


class RunsApi(ClusterSession):
    async def get_run(self, run_id: int) -> PipelineRun:
        try:
            body = await self.request("GET", f"/pipeline_runs/{run_id}", what=Subject("pipeline run", run_id))
        except MageApiError as exc:
            if _TRIGGER_GONE not in exc.message:
                raise
            raise MageNotFoundError(
                f"Pipeline run {run_id} cannot be shown: its trigger was deleted, and Mage 0.9.80 no longer shows "
                "such a run (it keeps it in its database).",
                code=exc.code,
                kind=HIDDEN_RUN,
            ) from None
        return PipelineRun.model_validate(body["pipeline_run"])

    async def list_runs(
        self,
        *,
        pipeline_uuid: str | None = None,
        status: str | None = None,
        created_after: datetime | None = None,
        limit: int,
        offset: int = 0,
    ) -> Page[PipelineRun]:
        """One page of runs, newest (highest id) first, in one request.

        `disable_retries_grouping` keeps pages exactly `limit` long: without it Mage widens or
        narrows a pipeline's page so that runs sharing an execution date arrive together, and
        fails outright on a page past the last run.
        `created_after` is compared at whole seconds by Mage; on its default SQLite database
        a run created in that very second does not count as after it.
        """
        params: dict[str, Any] = {
            "_limit": limit,
            "_offset": offset,
            "disable_retries_grouping": "true",
            "order_by[]": "id desc",
        }
        if pipeline_uuid:
            params["pipeline_uuid"] = pipeline_uuid
        if status:
            params["status"] = status
        if created_after is not None:
            params["start_timestamp"] = _unix_seconds(created_after)
        body = await self.request("GET", "/pipeline_runs", params=params)
        return page_of(body, "pipeline_runs", PipelineRun)

    async def create_run(self, trigger_id: int, variables: Mapping[str, Any]) -> PipelineRun:
        """Start a run through a trigger with the session's credentials.

        This authenticated route never needs the trigger's token (a credential), which is
        therefore never used or kept. Mage only runs the runs of active triggers.
        """
        body = await self.request(
            "POST",
            f"/pipeline_schedules/{trigger_id}/pipeline_runs",
            json={"pipeline_run": {"variables": dict(variables)}},
            what=Subject("trigger", trigger_id),
        )
        return PipelineRun.model_validate(body["pipeline_run"])

    async def cancel_run(self, run_id: int) -> PipelineRun:
        """Cancel the run and its unfinished block runs.

        Mage acts only on an initial or running run; any other comes back unchanged, without error.
        """
        return await self._update_run(run_id, {"status": "cancelled"})

    async def retry_run(self, run_id: int, from_block_uuid: str | None = None) -> PipelineRun:
        """Re-run a run's blocks: the unfinished ones, or `from_block_uuid` and all its downstream blocks.

        Mage marks the run running either way; a block uuid it does not know resets nothing.
        """
        change: dict[str, Any] = {"pipeline_run_action": "retry_blocks"}
        if from_block_uuid is not None:
            change["from_block_uuid"] = from_block_uuid
        return await self._update_run(run_id, change)

    async def delete_run(self, run_id: int) -> None:
        """Delete the run and its block runs (also a run Mage hides because its trigger was deleted)."""
        await self.request("DELETE", f"/pipeline_runs/{run_id}", what=Subject("pipeline run", run_id))

    async def _update_run(self, run_id: int, change: Mapping[str, Any]) -> PipelineRun:
        """A PUT whose answer is the run without its block runs (Mage's update presenter omits them)."""
        body = await self.request(
            "PUT", f"/pipeline_runs/{run_id}", json={"pipeline_run": dict(change)}, what=Subject("pipeline run", run_id)
        )
        return PipelineRun.model_validate(body["pipeline_run"])


def _unix_seconds(moment: datetime) -> int:
    """Whole unix seconds, a naive datetime taken as UTC (as Mage writes its times)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return math.floor(aware.timestamp())
