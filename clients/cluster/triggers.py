"""Triggers (Mage's pipeline schedules): find, create, activate."""

from __future__ import annotations

from typing import Any

from ..errors import Subject
from ..models import Page, Trigger
from .session import ClusterSession, page_of, segment


class TriggersApi(ClusterSession):
    async def get_trigger(self, trigger_id: int) -> Trigger:
        body = await self.request("GET", f"/pipeline_schedules/{trigger_id}", what=Subject("trigger", trigger_id))
        return Trigger.model_validate(body["pipeline_schedule"])

    async def list_triggers(
        self, *, pipeline_uuid: str | None = None, status: str | None = None, limit: int, offset: int = 0
    ) -> Page[Trigger]:
        """One page of triggers: of one pipeline (newest first), or of the whole project."""
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

    async def find_trigger(self, pipeline_uuid: str, name: str, schedule_type: str) -> Trigger | None:
        """The pipeline's trigger with this name and type, paging through all of its triggers."""
        offset, page_size = 0, 100
        while True:
            body = await self.request(
                "GET",
                f"/pipelines/{segment(pipeline_uuid)}/pipeline_schedules",
                params={"_limit": page_size, "_offset": offset},
                what=Subject("pipeline", pipeline_uuid),
            )
            for item in body.get("pipeline_schedules", []):
                trigger = Trigger.model_validate(item)
                if trigger.name == name and trigger.schedule_type == schedule_type:
                    return trigger
            if not (body.get("metadata") or {}).get("next"):
                return None
            offset += page_size

    async def create_trigger(self, pipeline_uuid: str, *, name: str, schedule_type: str, status: str) -> Trigger:
        body = await self.request(
            "POST",
            f"/pipelines/{segment(pipeline_uuid)}/pipeline_schedules",
            json={"pipeline_schedule": {"name": name, "schedule_type": schedule_type, "status": status}},
            what=Subject("pipeline", pipeline_uuid),
        )
        return Trigger.model_validate(body["pipeline_schedule"])

    async def set_trigger_status(self, trigger_id: int, status: str) -> Trigger:
        body = await self.request(
            "PUT",
            f"/pipeline_schedules/{trigger_id}",
            json={"pipeline_schedule": {"status": status}},
            what=Subject("trigger", trigger_id),
        )
        return Trigger.model_validate(body["pipeline_schedule"])

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
