"""Pipeline variables (the globals in a pipeline's metadata.yaml): list, set, delete.

What it hides: the list must ask for `global_only` (without it Mage also reads every block's
outputs); a create and an update are different routes; deleting an unknown name fails with a
bare `KeyError` once the pipeline has any variable (and silently succeeds while it has none).
"""

from __future__ import annotations

from typing import Any

from ..errors import MageApiError, MageNotFoundError, Subject
from .session import ClusterSession, segment


class VariablesApi(ClusterSession):
    async def list_variables(self, pipeline_uuid: str) -> dict[str, Any]:
        """The pipeline's global variables, name → value, in Mage's order (by name)."""
        body = await self.request(
            "GET",
            f"/pipelines/{segment(pipeline_uuid)}/variables",
            params={"global_only": "true"},
            what=Subject("pipeline", pipeline_uuid),
        )
        for entry in body.get("variables") or []:
            if isinstance(entry, dict) and (entry.get("block") or {}).get("uuid") == "global":
                return {str(v["uuid"]): v.get("value") for v in entry.get("variables") or [] if isinstance(v, dict)}
        return {}

    async def create_variable(self, pipeline_uuid: str, name: str, value: Any) -> None:
        await self.request(
            "POST",
            f"/pipelines/{segment(pipeline_uuid)}/variables",
            json={"variable": {"name": name, "value": value}},
            what=Subject("pipeline", pipeline_uuid),
        )

    async def update_variable(self, pipeline_uuid: str, name: str, value: Any) -> None:
        await self.request(
            "PUT",
            f"/pipelines/{segment(pipeline_uuid)}/variables/{segment(name)}",
            json={"variable": {"name": name, "value": value}},  # Mage reads the name from the body
            what=Subject("pipeline", pipeline_uuid),
        )

    async def delete_variable(self, pipeline_uuid: str, name: str) -> None:
        try:
            await self.request(
                "DELETE",
                f"/pipelines/{segment(pipeline_uuid)}/variables/{segment(name)}",
                what=Subject("pipeline", pipeline_uuid),
            )
        except MageApiError as exc:
            if exc.message != f"Mage failed: {name!r}":  # the KeyError of an unknown name
                raise
            raise MageNotFoundError(
                f"Variable {name!r} was not found in pipeline {pipeline_uuid!r}.", code=exc.code, kind="variable"
            ) from None
