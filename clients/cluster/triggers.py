"""Triggers (Mage's pipeline schedules): list, find, read, create, update, delete, and their last run.

Every trigger carries a `token` (a credential that starts runs without a login); the `Trigger`
model leaves it out, so it is dropped from every answer the moment it is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Subject
from ..models import Page, PipelineRun, Trigger
from ..pages import every_item
from .session import ClusterSession, page_of, segment


class TriggersApi(ClusterSession):
    async def get_trigger(self, trigger_id: int) -> Trigger:
        body = await self.request("GET", f"/pipeline_schedules/{trigger_id}", what=Subject("trigger", trigger_id))
        return Trigger.model_validate(body["pipeline_schedule"])

    async def list_triggers(
        self, *, pipeline_uuid: str | None = None, status: str | None = None, limit: int, offset: int = 0
    ) -> Page[Trigger]:
        """One page of triggers: of one pipeline (newest first), or of the whole project (oldest first)."""
        params: dict[str, Any] = {"_limit": limit, "_offset": offset}
        if status is not None:
            params["status[]"] = status
        if pipeline_uuid is None:
            body = await self.request("GET", "/pipeline_schedules", params=params)
        else:
            path = f"/pipelines/{segment(pipeline_uuid)}/pipeline_schedules"
            body = await self.request("GET", path, params=params, what=Subject("pipeline", pipeline_uuid))
        return page_of(body, "pipeline_schedules", Trigger)

    async def delete_trigger(self, trigger_id: int) -> None:
        await self.request("DELETE", f"/pipeline_schedules/{trigger_id}", what=Subject("trigger", trigger_id))

    async def find_trigger(self, pipeline_uuid: str, name: str, schedule_type: str | None) -> Trigger | None:
        """The pipeline's trigger with this name (and type, unless None), paging through all of its triggers."""
        async for trigger in every_item(
            lambda limit, offset: self.list_triggers(pipeline_uuid=pipeline_uuid, limit=limit, offset=offset)
        ):
            if trigger.name == name and schedule_type in (None, trigger.schedule_type):
                return trigger
        return None

    async def create_trigger(
        self,
        pipeline_uuid: str,
        *,
        name: str,
        schedule_type: str,
        status: str,
        schedule_interval: str | None = None,
        start_time: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Trigger:
        """A new trigger of the pipeline (Mage creates triggers only under their pipeline).

        `start_time` is sent as given: Mage parses any date text, so callers pass `YYYY-MM-DD HH:MM:SS` UTC.
        """
        payload: dict[str, Any] = {"name": name, "schedule_type": schedule_type, "status": status}
        optional = {"schedule_interval": schedule_interval, "start_time": start_time, "variables": variables}
        payload |= {key: value for key, value in optional.items() if value is not None}
        body = await self.request(
            "POST",
            f"/pipelines/{segment(pipeline_uuid)}/pipeline_schedules",
            json={"pipeline_schedule": payload},
            what=Subject("pipeline", pipeline_uuid),
        )
        return Trigger.model_validate(body["pipeline_schedule"])

    async def update_trigger(self, trigger_id: int, changes: Mapping[str, Any]) -> Trigger:
        """Change some of `name`, `schedule_interval`, `start_time`, `variables` (replaced whole), `status`.

        Mage stamps `last_enabled_at` when the status turns active: a time trigger fires from its
        next scheduled time after that, not for the times it missed while inactive.
        """
        body = await self.request(
            "PUT",
            f"/pipeline_schedules/{trigger_id}",
            json={"pipeline_schedule": dict(changes)},
            what=Subject("trigger", trigger_id),
        )
        return Trigger.model_validate(body["pipeline_schedule"])

    async def set_trigger_status(self, trigger_id: int, status: str) -> Trigger:
        return await self.update_trigger(trigger_id, {"status": status})

    async def trigger_runs(self, trigger_id: int, *, limit: int) -> Page[PipelineRun]:
        """The trigger's newest runs, with the total.

        Call it for a trigger known to exist: for an unknown id Mage answers with every run of the project.
        """
        body = await self.request(
            "GET",
            f"/pipeline_schedules/{trigger_id}/pipeline_runs",
            params={"_limit": limit, "_offset": 0, "disable_retries_grouping": "true", "order_by[]": "id desc"},
            what=Subject("trigger", trigger_id),
        )
        return page_of(body, "pipeline_runs", PipelineRun)

    async def ensure_api_trigger(self, pipeline_uuid: str, name: str) -> Trigger:
        """The pipeline's active API trigger called `name`, created or re-activated when needed.

        Serialised per pipeline, so concurrent callers share one trigger instead of each making one.
        """
        async with self._lock_for(f"api-trigger:{pipeline_uuid}"):
            trigger = await self.find_trigger(pipeline_uuid, name, "api")
            if trigger is None:
                return await self.create_trigger(pipeline_uuid, name=name, schedule_type="api", status="active")
            if trigger.status != "active":
                return await self.set_trigger_status(trigger.id, "active")
            return trigger
