"""Git: the version-control status, a pull from the configured sync remote, Mage Pro deployments.

The status comes from the route Mage's Version control app reads (`git_custom_branches`), which
needs no OAuth-linked remote. Mage 0.9.80 treats the folder it was started in as the repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MageApiError, MageNotFoundError, MageUnsupportedError
from ..models import Deployment, DeploymentSetting, GitStatus, GitSyncSettings
from .session import ClusterSession, segment

DEPLOYMENTS_NEED_PRO = (
    "deploy_git_commit needs Mage Pro's deployments API; this Mage does not serve it (Mage OSS has no "
    "deployments). Deploy from Mage Pro's Deployments app, or use git_pull on a Mage with Git sync configured"
)


class GitApi(ClusterSession):
    async def git_status(self) -> GitStatus:
        """Branch, changed files and the last commits (Mage sends 12) of the repository Mage works in."""
        try:
            body = await self.request("GET", "/git_custom_branches/with_logs", params={"_format": "with_logs"})
        except (MageApiError, MageNotFoundError):
            # Mage fails to read the log of a folder that is no repository, or of one without commits.
            body = await self.request("GET", "/git_custom_branches/current")
            return GitStatus.model_validate({**body["git_custom_branch"], "logs": [], "logs_read": False})
        return GitStatus.model_validate(body["git_custom_branch"])

    async def git_sync_settings(self) -> GitSyncSettings:
        body = await self.request("GET", "/syncs")
        syncs = body.get("syncs") or [{}]
        return GitSyncSettings.model_validate(syncs[0])

    async def git_sync(self) -> None:
        """Hard-reset the repository to the sync branch of the remote (Mage's `sync_data`)."""
        await self.request("PUT", "/syncs/git", json={"sync": {"action_type": "sync_data"}})

    async def deployment_settings(self) -> list[DeploymentSetting]:
        """Mage Pro's deployment targets; `MageUnsupportedError` on a Mage without the deployments API."""
        try:
            body = await self.request("GET", "/deployment_settings")
        except MageApiError as exc:
            if "No module named 'mage_ai.api.policies.DeploymentSetting" not in exc.message:
                raise
            raise MageUnsupportedError(f"{DEPLOYMENTS_NEED_PRO}.") from None
        return [DeploymentSetting.model_validate(item) for item in body.get("deployment_settings") or []]

    async def create_deployment(self, setting: str, deployment: Mapping[str, Any]) -> Deployment:
        body = await self.request(
            "POST", f"/deployment_settings/{segment(setting)}/deployments", json={"deployment": dict(deployment)}
        )
        answer = body.get("deployment")
        return Deployment.model_validate(answer if isinstance(answer, dict) else {})
