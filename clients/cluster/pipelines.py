"""Pipelines of a Mage cluster: list, read, create, update (a rename changes the uuid), delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MageNotFoundError, Subject
from ..models import Page, Pipeline
from .session import ClusterSession, page_of, segment


class PipelinesApi(ClusterSession):
    async def list_pipelines(self, *, search: str | None = None, limit: int, offset: int = 0) -> Page[Pipeline]:
        params: dict[str, Any] = {"_limit": limit, "_offset": offset}
        if search:
            params["search"] = search
        body = await self.request("GET", "/pipelines", params=params)
        return page_of(body, "pipelines", Pipeline)

    async def get_pipeline(self, uuid: str, *, with_code: bool = False) -> Pipeline:
        """The pipeline and its blocks (in Mage's file order); each block's `content` only `with_code`."""
        body = await self.request(
            "GET",
            f"/pipelines/{segment(uuid)}",
            params={"includes_content": str(with_code).lower(), "includes_outputs": "false"},
            what=Subject("pipeline", uuid),
        )
        return Pipeline.model_validate(body["pipeline"])

    async def pipeline_exists(self, uuid: str) -> bool:
        try:
            await self.get_pipeline(uuid)
        except MageNotFoundError:
            return False
        return True

    async def create_pipeline(
        self, name: str, *, type: str, description: str | None = None, tags: Sequence[str] = ()
    ) -> Pipeline:
        """A new pipeline without blocks; Mage derives its uuid from `name` and fails if that uuid exists."""
        payload: dict[str, Any] = {"name": name, "type": type, "tags": list(tags)}
        if description is not None:
            payload["description"] = description
        body = await self.request("POST", "/pipelines", json={"pipeline": payload})
        return Pipeline.model_validate(body["pipeline"])

    async def update_pipeline(self, uuid: str, changes: Mapping[str, Any]) -> Pipeline:
        """Change `name` (Mage renames the folder, the uuid changes, triggers and runs follow), `description`,
        `tags`; returns the pipeline as it is now."""
        body = await self.request(
            "PUT", f"/pipelines/{segment(uuid)}", json={"pipeline": dict(changes)}, what=Subject("pipeline", uuid)
        )
        return Pipeline.model_validate(body["pipeline"])

    async def delete_pipeline(self, uuid: str) -> Pipeline:
        """Remove the pipeline's folder. Mage keeps its triggers, runs and block files."""
        body = await self.request("DELETE", f"/pipelines/{segment(uuid)}", what=Subject("pipeline", uuid))
        return Pipeline.model_validate(body["pipeline"])
