"""Git, workspaces and deployments against a real Mage OSS 0.9.80.

Mage treats the folder it was started in as the git repository, and every git call writes to the
home folder of the Mage process (`safe.directory` in ~/.gitconfig; a pull makes ~/.ssh). So this
module starts its own Mage (auth on) with its own HOME, in a folder that is made a repository, and
leaves the session's Mage alone. What Mage then holds is read through git itself and Mage's own
API as the owner (`MageApi`), never through the tools under test.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from mage_mcp.local import mage
from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import ConfirmFallback, Settings
from tests.support.mage_api import MageApi, login_token
from tests.support.mcp_results import Prompts, accept, ok, text_of
from tests.support.ports import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]

IGNORED = "mage_data/\nmage.log\nmage.pid\nmage.port\nmage.env\n"


@dataclass(frozen=True)
class GitMage:
    """A Mage of this module: `root` is the folder it runs in (the repository), `home` its HOME."""

    url: str
    email: str
    password: str
    root: Path
    home: Path

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = {**os.environ, "HOME": str(self.home), "GIT_CONFIG_NOSYSTEM": "1"}
        identity = ["-c", "user.name=Grace Hopper", "-c", "user.email=grace@example.com"]
        done = subprocess.run(
            ["git", *identity, *args], cwd=cwd or self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout


@pytest.fixture(scope="module")
def git_mage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitMage]:
    root, home = tmp_path_factory.mktemp("git-mage"), tmp_path_factory.mktemp("git-mage-home")
    email, password = f"owner-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18)
    try:
        instance = mage.start(
            root, free_port(), auth=True, owner_email=email, owner_password=password, extra_env={"HOME": str(home)}
        )
        repo = GitMage(instance.url, email, password, root, home)
        (root / ".gitignore").write_text(IGNORED)
        (root / "notes.txt").write_text("kept in git\n")
        repo.git("init", "-q", "-b", "main")
        repo.git("add", ".gitignore", "notes.txt", "project")
        repo.git("commit", "-q", "-m", "Mage project\n\nfirst commit of the test repository")
        yield repo
    finally:
        mage.stop(root)


@pytest.fixture(scope="module")
def git_admin_token(git_mage: GitMage) -> str:
    return login_token(git_mage.url, git_mage.email, git_mage.password)


@pytest.fixture
async def admin(git_mage: GitMage, git_admin_token: str) -> AsyncIterator[MageApi]:
    async with aclosing(MageApi(git_mage.url, token=git_admin_token)) as api:
        yield api


@pytest.fixture
def make_server(git_mage: GitMage) -> Callable[..., MageMCPServer]:
    def make(fallback: ConfirmFallback = "deny") -> MageMCPServer:
        return build_server(
            Settings(
                mage_cluster_url=git_mage.url,
                mage_email=git_mage.email,
                mage_password=SecretStr(git_mage.password),
                mage_mcp_confirm_fallback=fallback,
            )
        )

    return make


def connect(make_server: Callable[..., MageMCPServer], prompts: Prompts) -> Client:
    return Client(make_server(), elicitation_callback=prompts)


async def mage_branch(admin: MageApi) -> dict[str, Any]:
    body = await admin.call("GET", "/git_custom_branches/with_logs", params={"_format": "with_logs"})
    return dict(body["git_custom_branch"])


async def sync_remote(admin: MageApi) -> Any:
    return (await admin.call("GET", "/syncs"))["syncs"][0]["remote_repo_link"]


# -- git_status -------------------------------------------------------------------------------


async def test_git_status_shows_the_repository_mage_runs_in(
    make_server: Callable[..., MageMCPServer], git_mage: GitMage
) -> None:
    tag = secrets.token_hex(4)
    staged, untracked = f"staged-{tag}.txt", f"untracked-{tag}.txt"
    (git_mage.root / "notes.txt").write_text(f"changed {tag}\n")
    (git_mage.root / staged).write_text("staged\n")
    git_mage.git("add", staged)
    (git_mage.root / untracked).write_text("untracked\n")
    try:
        async with connect(make_server, accept()) as client:
            status = ok(await client.call_tool("git_status", {}))
    finally:
        git_mage.git("rm", "-q", "--cached", staged)
        git_mage.git("checkout", "-q", "--", "notes.txt")
        for name in (staged, untracked):
            (git_mage.root / name).unlink()
    head = git_mage.git("log", "-1", "--format=%s%n%an%n%ae").splitlines()
    assert status["is_repository"] is True and status["branch"] == "main"
    newest = status["commits"][0]
    assert [newest["message"].splitlines()[0], newest["author"], newest["author_email"]] == head
    assert newest["date"] and "sha" not in newest
    assert status["modified"]["paths"] == ["notes.txt"]
    assert status["staged"]["paths"] == [staged]
    assert untracked in status["untracked"]["paths"]


async def test_a_folder_that_is_no_repository_says_so(
    make_server: Callable[..., MageMCPServer], git_mage: GitMage
) -> None:
    (git_mage.root / ".git").rename(git_mage.root / ".git-away")
    try:
        async with connect(make_server, accept()) as client:
            status = ok(await client.call_tool("git_status", {}))
    finally:
        (git_mage.root / ".git-away").rename(git_mage.root / ".git")
    assert status["is_repository"] is False and status["commits"] == []
    assert "not a git repository" in status["note"]


# -- git_pull ---------------------------------------------------------------------------------


async def test_git_pull_without_a_sync_remote_is_refused_with_nothing_sent(
    make_server: Callable[..., MageMCPServer], git_mage: GitMage, admin: MageApi
) -> None:
    assert await sync_remote(admin) is None
    head = git_mage.git("rev-parse", "HEAD")
    prompts = accept()
    async with connect(make_server, prompts) as client:
        result = await client.call_tool("git_pull", {})
    assert result.is_error and "Git sync is not configured" in text_of(result) and "NoneType" not in text_of(result)
    assert prompts.seen == []
    assert git_mage.git("rev-parse", "HEAD") == head and await sync_remote(admin) is None
    assert not (git_mage.home / ".ssh").exists()  # Mage's own pull makes it, even with no remote


async def test_git_pull_resets_the_project_to_its_sync_remote(
    make_server: Callable[..., MageMCPServer], git_mage: GitMage, admin: MageApi, tmp_path: Path
) -> None:
    tag = secrets.token_hex(4)
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git_mage.git("clone", "-q", "--bare", str(git_mage.root), str(remote))
    git_mage.git("clone", "-q", str(remote), str(work))
    (work / f"pulled-{tag}.txt").write_text("from the remote\n")
    git_mage.git("add", ".", cwd=work)
    git_mage.git("commit", "-q", "-m", f"remote change {tag}", cwd=work)
    git_mage.git("push", "-q", "origin", "main", cwd=work)
    remote_head = git_mage.git("rev-parse", "HEAD", cwd=work)
    (git_mage.root / "notes.txt").write_text("a local change that the pull discards\n")
    sync = {"remote_repo_link": str(remote), "repo_path": str(git_mage.root), "branch": "main", "auth_type": "https"}
    await admin.call("POST", "/syncs", json={"sync": sync})
    try:
        prompts = accept()
        async with connect(make_server, prompts) as client:
            pulled = ok(await client.call_tool("git_pull", {}))
        after = await mage_branch(admin)
    finally:
        await admin.call("POST", "/syncs", json={"sync": {"remote_repo_link": None, "branch": None}})
        git_mage.git("remote", "remove", "mage-repo")
    assert pulled["status"] == "pulled" and pulled["branch"] == "main" and pulled["remote"] == str(remote)
    (prompt,) = prompts.seen
    assert str(remote) in prompt and "hard-resets" in prompt and "1 modified" in prompt
    assert git_mage.git("rev-parse", "HEAD") == remote_head
    assert (git_mage.root / f"pulled-{tag}.txt").exists()
    assert (git_mage.root / "notes.txt").read_text() == "kept in git\n"
    assert after["logs"][0]["message"].strip() == f"remote change {tag}" and after["modified_files"] == []
    assert await sync_remote(admin) is None


# -- Mage Pro only ----------------------------------------------------------------------------

WORKSPACE_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_workspaces", {}),
    ("get_workspace", {"name": "dev"}),
    ("create_workspace", {"name": "dev", "cluster_type": "k8s"}),
    ("update_workspace", {"name": "dev", "action": "stop"}),
    ("delete_workspace", {"name": "dev"}),
]


async def test_every_workspace_tool_says_workspaces_need_mage_pro(make_server: Callable[..., MageMCPServer]) -> None:
    prompts = accept()
    async with connect(make_server, prompts) as client:
        results = {tool: await client.call_tool(tool, arguments) for tool, arguments in WORKSPACE_CALLS}
    for tool, result in results.items():
        assert result.is_error, tool
        message = text_of(result)
        assert "Workspaces need Mage Pro" in message and "No module named 'kubernetes'" in message, message
        assert "Traceback" not in message, tool
    assert prompts.seen == []


async def test_deploy_git_commit_says_it_needs_mage_pro(make_server: Callable[..., MageMCPServer]) -> None:
    prompts = accept()
    async with connect(make_server, prompts) as client:
        result = await client.call_tool("deploy_git_commit", {"branch": "main", "environment": "production"})
    assert result.is_error and "needs Mage Pro" in text_of(result) and "Traceback" not in text_of(result)
    assert prompts.seen == []
