"""Workspaces (``/api/workspaces``): Mage OSS fails without the kubernetes module; a Mage Pro mode serves them.

Like Mage OSS 0.9.80 by default: every call is an unhandled ``No module named 'kubernetes'``, or, with
``kubernetes_installed``, a 400 ``api_resource_error`` "This project is ineligible for workspace
management.". With ``pro`` set it answers as ``WorkspaceResource`` does in a ``main`` project: the list
holds the workspaces that have an instance; an unknown name is a 404 ``record_not_found``; a create
answers ``{"success": true}`` and refuses an empty or taken name with a 400; an update runs its
``action`` (``stop``/``resume``/``patch``; an unknown one does nothing; a missing one is a 400 ``'action'``).

Test hooks: ``pro``, ``kubernetes_installed``, ``add_workspace()`` and the state ``workspaces``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from .core import FakeCore, User
from .helpers import ApiError, Unhandled, detail_response, not_served, unwrap

CONFIG_KEYS = frozenset(
    {
        "namespace",
        "container_config",
        "service_account_name",
        "storage_access_mode",
        "storage_class_name",
        "storage_request_size",
        "project_id",
        "path_to_credentials",
        "region",
        "cluster_name",
        "task_definition",
        "container_name",
        "lifecycle_config",
    }
)


class WorkspacesRoutes(FakeCore):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.pro = False
        self.kubernetes_installed = False
        self.workspaces: dict[str, dict[str, Any]] = {}

    # ----------------------------------------------------------------- test hooks
    def add_workspace(self, name: str, *, status: str = "RUNNING", **config: Any) -> dict[str, Any]:
        workspace = {"name": name, "project_uuid": uuid.uuid4().hex, **config}
        workspace["instance"] = {"name": name, "status": status, "type": "kubernetes", "ip": "10.0.0.7"}
        self.workspaces[name] = workspace
        return workspace

    # ----------------------------------------------------------------- routes
    def _workspaces(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if not self.pro:
            if self.kubernetes_installed:
                raise ApiError(400, "This project is ineligible for workspace management.", "api_resource_error")
            raise Unhandled("No module named 'kubernetes'", "ModuleNotFoundError")
        if len(segments) == 1 and method == "GET":
            self._authorize("list", user)
            listed = [_presented(w) for w in self.workspaces.values() if w.get("instance")]
            return JSONResponse({"workspaces": listed, "metadata": {}})
        if len(segments) == 1 and method == "POST":
            self._authorize("create", user)
            self._create_workspace(unwrap(body, "workspace"))
            return detail_response("workspace", {"success": True})
        if len(segments) == 2:
            workspace = self.workspaces.get(segments[1])
            if workspace is None:
                raise ApiError(404, f"Project {segments[1]} was not found.", "record_not_found")
            if method == "GET":
                self._authorize("detail", user)
            elif method == "PUT":
                self._authorize("update", user)
                _update(workspace, unwrap(body, "workspace"))
            else:
                self._authorize("delete", user)
                del self.workspaces[workspace["name"]]
            return detail_response("workspace", _presented(workspace))
        raise not_served(method, segments)

    def _create_workspace(self, payload: dict[str, Any]) -> None:
        if "name" not in payload:
            raise Unhandled("'name'", "KeyError")
        name = payload.pop("name")
        if not name:
            raise ApiError(400, "Please enter a valid workspace name.", "api_resource_error")
        if name in self.workspaces:
            raise ApiError(400, f"Project with name {name} already exists", "api_resource_error")
        config = {key: value for key, value in payload.items() if key in CONFIG_KEYS}
        self.add_workspace(name, cluster_type=payload.get("cluster_type"), **config)


def _update(workspace: dict[str, Any], payload: dict[str, Any]) -> None:
    if "action" not in payload:
        raise ApiError(400, "'action'", "api_resource_error")
    action = payload.pop("action")
    if action in ("stop", "resume"):
        workspace["instance"]["status"] = "STOPPED" if action == "stop" else "RUNNING"
    elif action == "patch":
        for key in ("container_config", "lifecycle_config"):
            if key in payload:
                workspace[key] = payload[key]
        if payload.get("update_workspace_settings"):
            workspace["settings_synced"] = workspace.get("settings_synced", 0) + 1


def _presented(workspace: Mapping[str, Any]) -> dict[str, Any]:
    """``WorkspacePresenter``: the workspace's config merged with ``access`` and ``instance``."""
    shown = {key: value for key, value in workspace.items() if key != "settings_synced"}
    return {"access": None, **shown}
