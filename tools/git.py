"""Git: the status of the repository Mage works in, a pull from its sync remote, Mage Pro deployments.

Mage 0.9.80 treats the folder it was started in (the parent of the project folder) as the
repository, so file paths are relative to that folder. A pull hard-resets it to the branch of
Mage's Git sync settings; with no remote configured it is refused before anyone is asked (Mage's
own answer is an opaque `'NoneType' object has no attribute ...`).
"""

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, BaseModel, Field

from mage_mcp.clients import MageError, MageInvalidRequestError
from mage_mcp.clients.models import DeploymentSetting, GitCommit, GitStatus
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes, reads, runtime
from .paging import cut

if TYPE_CHECKING:
    from mage_mcp.clients import ClusterClient

FILES_SHOWN = 50
MAGE_FILES_CAP = 100
"""Mage lists at most this many files of each kind."""
PATH_CHARS = 300
MESSAGE_CHARS = 1_000
NO_SYNC_REMOTE = (
    "Git sync is not configured on this Mage (no remote repository), so there is nothing to pull from. "
    "Configure it in Mage under Settings → Sync data (remote repository URL, branch, and SSH keys or an HTTPS "
    "access token), or with the GIT_REPO_LINK and GIT_BRANCH environment variables of the Mage server; then "
    "call git_pull again. Nothing was sent."
)


def _branch_name(value: str) -> str:
    if value.startswith(("-", "/")) or value.endswith("/") or ".." in value:
        raise ValueError("must be a git branch name: no leading '-' or '/', no trailing '/', no '..'")
    return value


BranchName = Annotated[
    str,
    Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._/-]+$", description="Git branch"),
    AfterValidator(_branch_name),
]
CommitSha = Annotated[
    str | None, Field(max_length=40, pattern=r"^[0-9a-fA-F]{7,40}$", description="Default: the branch head")
]
Environment = Annotated[str | None, Field(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$", description="e.g. production")]


class ChangedFiles(BaseModel):
    paths: list[str]
    left_out: int = Field(description="Paths Mage listed beyond the ones shown")
    mage_capped: bool = Field(description="Mage lists at most 100; there may be more")


class CommitItem(BaseModel):
    message: str
    author: str | None
    author_email: str | None
    date: str | None = Field(description="Mage server's local time, no zone")


class GitStatusResult(BaseModel):
    is_repository: bool
    branch: str | None
    commits: list[CommitItem] = Field(description="Newest first, as Mage reports them (no sha)")
    modified: ChangedFiles
    staged: ChangedFiles
    untracked: ChangedFiles
    note: str | None = None


class GitPulled(MutationOutcome):
    remote: str | None = None
    branch: str | None = None


class DeploymentStarted(MutationOutcome):
    deployment_id: int | str | None = None
    deployment_status: str | None = None
    setting: str | None = None
    environment: str | None = None
    branch: str | None = None
    commit: str | None = None


async def git_status(ctx: Context[Runtime, Any]) -> GitStatusResult:
    """Branch, last commits (no sha) and changed files of the repository Mage runs in; paths are relative to it."""
    status = await runtime(ctx).cluster.git_status()
    return GitStatusResult(
        is_repository=status.name is not None,
        branch=cut(status.name, 255) if status.name else status.name,
        commits=[_commit(c) for c in status.logs[:12]],
        modified=_files(status.modified_files),
        staged=_files(status.staged_files),
        untracked=_files(status.untracked_files),
        note=_note(status),
    )


# -- pull ---------------------------------------------------------------------------------------


async def plan_pull(ctx: Context[Runtime, Any]) -> Plan:
    rt = runtime(ctx)
    sync = await rt.cluster.git_sync_settings()
    if not sync.remote_repo_link:
        raise ToolError(NO_SYNC_REMOTE)
    remote, branch = without_credentials(sync.remote_repo_link), sync.branch or "main"
    where = sync.repo_path or "the folder Mage runs in"
    what = (
        f"Pull branch {branch!r} of {remote} into {where}: Mage fetches it and hard-resets the repository to "
        "it, so local changes to tracked files and local commits not on the remote are lost (untracked files "
        "stay)."
    )
    submodules = " Submodules are updated too." if sync.sync_submodules else ""
    return Plan(
        summary=f"{what}{await _local_changes(rt.cluster)}{submodules} Mage then runs "
        "pip install -r requirements.txt when the repository has one.",
        changes={"remote": remote, "branch": branch},
    )


async def git_pull(ctx: Context[Runtime, Any], plan: Plan) -> GitPulled:
    """Sync the project from its Git sync remote branch, resetting local changes; git_status shows the result."""
    await runtime(ctx).cluster.git_sync()
    return GitPulled(
        status="pulled",
        remote=plan.changes["remote"],
        branch=plan.changes["branch"],
        message=plan.summary,
    )


async def _local_changes(cluster: "ClusterClient") -> str:
    """What the person would lose, when Mage can say (the plan does not depend on it)."""
    try:
        status = await cluster.git_status()
    except MageError:
        return ""
    counts = [(len(status.modified_files), "modified"), (len(status.staged_files), "staged")]
    if not any(count for count, _ in counts):
        return " There are no local changes to tracked files now."
    return " Now: " + ", ".join(f"{count} {kind}" for count, kind in counts) + " files."


# -- deploy -------------------------------------------------------------------------------------


async def plan_deploy(
    ctx: Context[Runtime, Any], branch: BranchName, commit: CommitSha, environment: Environment
) -> Plan:
    rt = runtime(ctx)
    setting = _chosen(await rt.cluster.deployment_settings(), environment)
    target = environment or setting.environment
    if target is None:
        raise ToolError(f"Deployment setting {setting.name!r} names no environment: pass one, e.g. production.")
    stage_branch = setting.stage_branch or f"deploy-{branch}"
    source = f"commit {commit}" if commit else "the head"
    directory = f", directory {setting.target_directory!r}" if setting.target_directory else ""
    head_note = "" if commit else " Mage Pro resolves the head when it deploys."
    return Plan(
        summary=f"Deploy {source} of branch {branch!r} to environment {target!r} on {rt.cluster.base_url}, through "
        f"Mage Pro's deployment setting {setting.name!r} (stage branch {stage_branch!r}{directory}). It replaces "
        f"the code that environment runs.{head_note}",
        changes={
            "setting": setting.name,
            "branch": branch,
            "commit": commit,
            "environment": target,
            "stage_branch": stage_branch,
            "target_directory": setting.target_directory,
        },
    )


async def deploy_git_commit(
    ctx: Context[Runtime, Any],
    plan: Plan,
    branch: BranchName,
    commit: CommitSha = None,
    environment: Environment = None,
) -> DeploymentStarted:
    """Deploy a commit of a git branch through Mage Pro's deployments API; returns the deployment Mage started."""
    target = plan.changes
    source: dict[str, Any] = {"head": {"name": branch}, "name": f"{branch} {commit or 'head'} (deployed by mage-mcp)"}
    if commit:
        source["version"] = commit
    stage: dict[str, Any] = {"branch": {"name": target["stage_branch"]}, "environment": target["environment"]}
    if target["target_directory"]:
        stage["target_directory"] = target["target_directory"]
    try:
        deployment = await runtime(ctx).cluster.create_deployment(target["setting"], {"source": source, "stage": stage})
    except MageInvalidRequestError as exc:
        if commit:
            raise
        raise ToolError(f"{exc} Pass commit (the full SHA of the commit to deploy) and try again.") from None
    return DeploymentStarted(
        status="deploying",
        deployment_id=deployment.id,
        deployment_status=deployment.status,
        setting=target["setting"],
        environment=target["environment"],
        branch=branch,
        commit=commit,
        message=plan.summary,
    )


def _chosen(settings: list[DeploymentSetting], environment: str | None) -> DeploymentSetting:
    if not settings:
        raise ToolError(
            "This Mage Pro cluster has no deployment setting: create one in its Deployments app (/apps/deploy), "
            "then call deploy_git_commit again."
        )
    if environment is None:
        if len(settings) == 1:
            return settings[0]
        raise ToolError(f"Several deployment settings: pass environment, one of {_listed(settings)}.")
    matching = [s for s in settings if s.environment == environment]
    if len(matching) == 1:
        return matching[0]
    if not matching and len(settings) == 1 and settings[0].environment is None:
        return settings[0]
    if not matching:
        raise ToolError(f"No deployment setting deploys to environment {environment!r}; there are {_listed(settings)}.")
    raise ToolError(
        f"Several deployment settings deploy to {environment!r} ({_listed(matching)}); deploy from Mage Pro's "
        "Deployments app to pick one."
    )


def _listed(settings: list[DeploymentSetting]) -> str:
    shown = [f"{cut(s.name, 100)} ({cut(s.environment, 100) if s.environment else 'no environment'})" for s in settings]
    more = f" and {len(shown) - 20} more" if len(shown) > 20 else ""
    return ", ".join(shown[:20]) + more


# -- shared -------------------------------------------------------------------------------------


def without_credentials(url: str) -> str:
    """A remote URL without the user and password an HTTPS remote can carry."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return cut(url, 500)
    return cut(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), 500)


def _files(paths: list[str]) -> ChangedFiles:
    return ChangedFiles(
        paths=[cut(p, PATH_CHARS) for p in paths[:FILES_SHOWN]],
        left_out=max(0, len(paths) - FILES_SHOWN),
        mage_capped=len(paths) >= MAGE_FILES_CAP,
    )


def _commit(commit: GitCommit) -> CommitItem:
    author = commit.author
    return CommitItem(
        message=cut(commit.message.strip(), MESSAGE_CHARS),
        author=cut(author.name, 200) if author and author.name else None,
        author_email=cut(author.email, 200) if author and author.email else None,
        date=cut(commit.date, 40) if commit.date else None,
    )


def _note(status: GitStatus) -> str | None:
    if status.name is None:
        return "The folder Mage runs in is not a git repository."
    if not status.logs_read:
        return "Mage could not read the commit log: the repository has no commit yet."
    return None


TOOLSET: Toolset = "git"
# No settle for either change: a pull that found nothing new leaves the repository as it was, and git_status
# shows no sha to tell a pulled head from the one before; a deployment has no id until Mage answers, and its
# name repeats for the same branch and commit. A lost answer stays unknown, with git_status to read back.
TOOLS: tuple[ToolSpec, ...] = (
    reads(git_status, "Git status", "cluster"),
    changes(git_pull, "Git pull", "cluster", plan=plan_pull, destructive=True, idempotent=True),
    changes(deploy_git_commit, "Deploy git commit", "cluster", plan=plan_deploy, destructive=True, idempotent=False),
)
