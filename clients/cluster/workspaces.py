"""Workspaces (Mage Pro, or a Mage project in multi-workspace mode): list, read, create, update, delete.

A Mage that does not serve them fails in one of two ways (mage-api.md §11): a plain
`pip install mage-ai` lacks the kubernetes module (an unhandled error), and a standalone project
is "ineligible for workspace management" (a 400). Both become one `MageUnsupportedError`.

Outside a `main` project Mage reads the cluster type from the query (its detail route even
crashes without one), so it is sent as `GET /api/statuses` reports it (`instance_type`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import MageApiError, MageInvalidRequestError, MageUnsupportedError, Subject
from ..models import Workspace
from .session import ClusterSession, segment

WORKSPACES_NEED_PRO = (
    "Workspaces need Mage Pro, or a Mage project in multi-workspace mode (project type `main`, or "
    "`mage start --manage-instance 1` with Mage's cluster extras installed); this Mage does not serve them"
)
_UNSERVED = re.compile(
    r"No module named '(kubernetes|mage_ai\.api\.\w+\.Workspace\w*)'"
    r"|This project is ineligible for workspace management"
)
_UNKNOWN = "unknown"


class WorkspacesApi(ClusterSession):
    _workspace_cluster_type: str | None = _UNKNOWN

    async def list_workspaces(self) -> list[Workspace]:
        """Every workspace Mage lists (it lists only those with a running or stopped instance)."""
        body = await self._workspace_request("GET", "/workspaces", params=await self._cluster_type_query())
        return [Workspace.model_validate(item) for item in body.get("workspaces") or []]

    async def get_workspace(self, name: str) -> Workspace:
        body = await self._workspace_request(
            "GET", f"/workspaces/{segment(name)}", params=await self._cluster_type_query(), what=name
        )
        return Workspace.model_validate({"name": name, **body["workspace"]})

    async def create_workspace(self, name: str, cluster_type: str, config: Mapping[str, Any]) -> None:
        payload = {"name": name, "cluster_type": cluster_type, **config}
        await self._workspace_request("POST", "/workspaces", json={"workspace": payload})

    async def update_workspace(self, name: str, action: str, fields: Mapping[str, Any] | None = None) -> None:
        """`action` is `stop`, `resume` or `patch` (with `fields`: container_config, lifecycle_config, ...)."""
        await self._workspace_request(
            "PUT",
            f"/workspaces/{segment(name)}",
            params=await self._cluster_type_query(),
            json={"workspace": {"action": action, **(fields or {})}},
            what=name,
        )

    async def delete_workspace(self, name: str) -> None:
        await self._workspace_request(
            "DELETE", f"/workspaces/{segment(name)}", params=await self._cluster_type_query(), what=name
        )

    async def _workspace_request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        what: str | None = None,
    ) -> dict[str, Any]:
        subject = Subject("workspace", what) if what is not None else None
        try:
            return await self.request(method, path, params=params, json=json, what=subject)
        except (MageApiError, MageInvalidRequestError) as exc:
            if (found := _UNSERVED.search(exc.message)) is None:
                raise
            raise MageUnsupportedError(f"{WORKSPACES_NEED_PRO} (Mage answered: {found.group(0)}).") from None

    async def _cluster_type_query(self) -> dict[str, str]:
        if self._workspace_cluster_type == _UNKNOWN:
            body = await self._send("GET", "/statuses", authenticate=False)
            status = (body.get("statuses") or [{}])[0]
            instance_type = status.get("instance_type") if isinstance(status, dict) else None
            self._workspace_cluster_type = instance_type if isinstance(instance_type, str) else None
        return {"cluster_type": self._workspace_cluster_type} if self._workspace_cluster_type else {}
