"""Pipeline runs (and the block runs they embed): start and read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import PipelineRun
from .session import ClusterSession


class RunsApi(ClusterSession):
    async def get_run(self, run_id: int) -> PipelineRun:
        body = await self.request("GET", f"/pipeline_runs/{run_id}", what=f"pipeline run {run_id}")
        return PipelineRun.model_validate(body["pipeline_run"])

    async def create_run(self, trigger_id: int, variables: Mapping[str, Any]) -> PipelineRun:
        """Start a run through a trigger with the session's credentials.

        This authenticated route never needs the trigger's token (a credential), which is
        therefore never used or kept. Mage only runs the runs of active triggers.
        """
        body = await self.request(
            "POST",
            f"/pipeline_schedules/{trigger_id}/pipeline_runs",
            json={"pipeline_run": {"variables": dict(variables)}},
            what=f"trigger {trigger_id}",
        )
        return PipelineRun.model_validate(body["pipeline_run"])
