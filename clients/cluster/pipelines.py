"""Pipelines of a Mage cluster: list and read."""

from __future__ import annotations

from typing import Any

from ..errors import Subject
from ..models import Page, Pipeline
from .session import ClusterSession, page_of, segment


class PipelinesApi(ClusterSession):
    async def list_pipelines(self, *, search: str | None = None, limit: int, offset: int = 0) -> Page[Pipeline]:
        params: dict[str, Any] = {"_limit": limit, "_offset": offset}
        if search:
            params["search"] = search
        body = await self.request("GET", "/pipelines", params=params)
        return page_of(body, "pipelines", Pipeline)

    async def get_pipeline(self, uuid: str) -> Pipeline:
        body = await self.request(
            "GET",
            f"/pipelines/{segment(uuid)}",
            params={"includes_content": "false", "includes_outputs": "false"},
            what=Subject("pipeline", uuid),
        )
        return Pipeline.model_validate(body["pipeline"])
