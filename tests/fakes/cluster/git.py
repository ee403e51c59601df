"""Git: sync settings and pulls (``/api/syncs``), version control (``/api/git_custom_branches``), Pro deployments.

As Mage OSS 0.9.80 (verified against it):

* ``GET /api/syncs`` lists one entry, the sync settings with every field null when none are set;
  ``PUT /api/syncs/{any}`` with ``action_type`` ``sync_data`` hard-resets the repository to the sync
  branch of the remote (tracked changes and local commits go, untracked files stay), ``reset``
  re-clones it (untracked files go too); with no remote it is a 400 ``api_resource_error``
  "'NoneType' object has no attribute 'git'" (no repository) or "... 'name'" (a repository);
* ``GET /api/git_custom_branches/{any}`` gives the branch (null when the folder is no repository),
  at most 100 modified, staged and untracked files, and with ``_format=with_logs`` the last 12
  commits without a sha; reading the log of no repository, or of one without commits, is an
  unhandled error;
* ``/api/deployment_settings`` is an unknown resource. With ``pro`` set it is served as Mage Pro's
  docs describe the deployments API (the settings list is an assumption of this fake).

Test hooks: ``init_repo()``, ``commit()``, ``configure_sync()``, ``push_to_remote()``, ``add_deployment_setting()``,
``deploy_needs_version`` and the state ``repo``, ``remote``, ``sync_config``, ``deployment_settings``, ``deployments``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from .core import FakeCore, User
from .helpers import ApiError, Unhandled, detail_response, not_served, unwrap

MAGE_FILES_CAP = 100
MAGE_LOG_COMMITS = 12
SYNC_FIELDS = (
    "access_token",
    "access_token_secret_name",
    "auth_type",
    "branch",
    "email",
    "remote_repo_link",
    "repo_path",
    "ssh_private_key",
    "ssh_private_key_secret_name",
    "ssh_public_key",
    "ssh_public_key_secret_name",
    "sync_on_executor_start",
    "sync_on_pipeline_run",
    "sync_on_start",
    "sync_submodules",
    "type",
    "username",
)


class GitRoutes(FakeCore):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.pro = False  # shared with the workspace routes: a Mage Pro serves both
        self.repo: dict[str, Any] | None = None
        """None: the folder Mage runs in is no repository."""
        self.remote: dict[str, Any] = {"default_branch": "main", "branches": {}, "files": {}}
        self.sync_config: dict[str, Any] = {}
        self.deployment_settings: list[dict[str, Any]] = []
        self.deployments: list[dict[str, Any]] = []
        self.deploy_needs_version = False
        """As the Pro docs mark `source.version`: required. Off by default: this fake deploys the branch head."""

    # ----------------------------------------------------------------- test hooks
    def init_repo(self, branch: str = "main") -> dict[str, Any]:
        self.repo = {"branch": branch, "commits": [], "modified": [], "staged": [], "untracked": []}
        return self.repo

    def commit(self, message: str, author: tuple[str, str] = ("Ada Lovelace", "ada@example.com")) -> dict[str, Any]:
        assert self.repo is not None, "init_repo() first"
        entry = _commit(message, author)
        self.repo["commits"].insert(0, entry)
        return entry

    def configure_sync(self, link: str, branch: str = "main", **settings: Any) -> None:
        self.sync_config = {"remote_repo_link": link, "branch": branch, "repo_path": "/home/src", **settings}

    def push_to_remote(self, branch: str, message: str) -> str:
        """A new head of the remote branch; returns its sha (which Mage's log never shows)."""
        commits = self.remote["branches"].setdefault(branch, [])
        sha = hashlib.sha256(f"{branch}:{len(commits)}:{message}".encode()).hexdigest()[:40]
        commits.insert(0, {"sha": sha, "log": _commit(message, ("Remote Author", "remote@example.com"))})
        return sha

    def add_deployment_setting(self, name: str, environment: str, stage_branch: str) -> dict[str, Any]:
        setting = {"name": name, "stage": {"environment": environment, "branch": {"name": stage_branch}}}
        self.deployment_settings.append(setting)
        return setting

    # ----------------------------------------------------------------- routes
    def _syncs(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) == 1 and method == "GET":
            self._authorize("list", user)
            return JSONResponse({"syncs": [self._sync_presented()], "metadata": {}})
        if len(segments) == 2 and method == "GET":
            self._authorize("detail", user)
            return detail_response("sync", self._sync_presented())
        if len(segments) == 2 and method == "PUT":
            self._authorize("update", user)
            self._sync(unwrap(body, "sync").get("action_type"))
            return detail_response("sync", self._sync_presented())
        raise not_served(method, segments)

    def _sync(self, action_type: Any) -> None:
        if action_type not in ("sync_data", "reset"):
            return
        link = self.sync_config.get("remote_repo_link")
        if not link or self.repo is None:
            missing = "git" if self.repo is None else "name"
            raise ApiError(400, f"'NoneType' object has no attribute '{missing}'", "api_resource_error")
        branch = self.sync_config.get("branch") or "main"
        if action_type == "reset":
            branch = self.remote["default_branch"]
            self.repo.update(branch=branch, untracked=[])
        commits = [copy.deepcopy(c["log"]) for c in self.remote["branches"].get(branch, [])]
        self.repo.update(commits=commits, modified=[], staged=[])

    def _sync_presented(self) -> dict[str, Any]:
        user_settings = {key: self.sync_config.get(key, "") for key in ("username", "email")}
        return {key: self.sync_config.get(key) for key in SYNC_FIELDS} | {"user_git_settings": user_settings}

    def _git_custom_branches(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) != 2 or method != "GET":
            raise not_served(method, segments)
        self._authorize("detail", user)
        repo = self.repo or {"branch": None, "commits": [], "modified": [], "staged": [], "untracked": []}
        branch = {
            "files": {},
            "is_git_integration_enabled": None,
            "modified_files": repo["modified"][:MAGE_FILES_CAP],
            "name": repo["branch"],
            "staged_files": repo["staged"][:MAGE_FILES_CAP],
            "sync_config": dict(self.sync_config),
            "untracked_files": repo["untracked"][:MAGE_FILES_CAP],
            "access_token_exists": False,
        }
        if query.get("_format") == "with_logs":
            if self.repo is None:
                raise Unhandled("'NoneType' object has no attribute 'iter_commits'", "AttributeError")
            if not repo["commits"]:
                raise Unhandled(f"Reference at 'refs/heads/{repo['branch']}' does not exist", "ValueError")
            branch["logs"] = copy.deepcopy(repo["commits"][:MAGE_LOG_COMMITS])
        return detail_response("git_custom_branch", branch)

    def _deployment_settings(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if not self.pro:
            raise Unhandled("No module named 'mage_ai.api.policies.DeploymentSettingPolicy'", "ModuleNotFoundError")
        if len(segments) == 1 and method == "GET":
            self._authorize("list", user)
            return JSONResponse({"deployment_settings": copy.deepcopy(self.deployment_settings), "metadata": {}})
        if len(segments) == 3 and segments[2] == "deployments" and method == "POST":
            self._authorize("create", user)
            if not any(s["name"] == segments[1] for s in self.deployment_settings):
                raise self._not_found()
            return detail_response("deployment", self._deploy(segments[1], unwrap(body, "deployment")))
        raise not_served(method, segments)

    def _deploy(self, setting: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        required = ("source.head.name", "source.name", "stage.branch.name", "stage.environment")
        for path in required:
            if not _dig(payload, path):
                raise ApiError(400, f"deployment.{path} is required.", "record_invalid")
        version = _dig(payload, "source.version")
        if version is None and self.deploy_needs_version:
            raise ApiError(400, "deployment.source.version is required.", "record_invalid")
        if version is None:  # this fake's assumption: no version deploys the branch head
            commits = self.remote["branches"].get(_dig(payload, "source.head.name"), [])
            version = commits[0]["sha"] if commits else None
        deployment = {"id": len(self.deployments) + 1, "status": "queued", "setting": setting, **copy.deepcopy(payload)}
        deployment["source"]["version"] = version
        self.deployments.append(deployment)
        return deployment


def _commit(message: str, author: tuple[str, str]) -> dict[str, Any]:
    """A commit as Mage's log lists it (no sha); the fake keeps one for its remote's heads."""
    name, email = author
    stamp = datetime.now().replace(microsecond=0).isoformat()
    return {"author": {"email": email, "name": name}, "date": stamp, "message": f"{message}\n"}


def _dig(payload: Mapping[str, Any], path: str) -> Any:
    value: Any = payload
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value
