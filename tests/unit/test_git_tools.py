"""The git tools against the Mage cluster fake: status, a pull from the sync remote, Mage Pro deployments.

What reached Mage is read from the fake's recorder and state, never from the tool's answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from mage_mcp.tools.git import without_credentials
from tests.fakes import FakeMage
from tests.support.mcp_results import ok, text_of
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

REMOTE = "https://deploy-bot:ghp_t0ken-s3cret@github.com/acme/etl.git"


def changes(mage: FakeMage) -> list[Any]:
    """The requests that change something in Mage (the login excluded)."""
    return [r for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def state(mage: FakeMage) -> dict[str, Any]:
    assert mage.repo is not None
    return mage.repo


def reads_of(mage: FakeMage, path: str) -> list[str]:
    return [r.path for r in mage.recorder.requests if r.method == "GET" and r.path.startswith(path)]


@pytest.fixture
def repo(mage: FakeMage) -> FakeMage:
    """A repository with two commits, one file of each kind, and a sync remote one commit ahead."""
    mage.init_repo("main")
    mage.commit("first commit\n\nwith a body", author=("Ada Lovelace", "ada@example.com"))
    mage.commit("second", author=("Bo", "bo@example.com"))
    state(mage)["modified"] = ["project/metadata.yaml"]
    state(mage)["staged"] = ["project/pipelines/p/metadata.yaml"]
    state(mage)["untracked"] = ["project/new.py"]
    mage.push_to_remote("main", "second")
    mage.push_to_remote("main", "remote change")
    return mage


@pytest.fixture
def synced(repo: FakeMage) -> FakeMage:
    repo.configure_sync(REMOTE, branch="main")
    return repo


@pytest.fixture
def pro(mage: FakeMage) -> FakeMage:
    mage.pro = True
    mage.add_deployment_setting("prod", "production", "deploy-main")
    mage.push_to_remote("main", "release 1")
    return mage


# -- git_status -------------------------------------------------------------------------------


async def test_git_status_reports_branch_commits_and_files(client: Client, repo: FakeMage) -> None:
    status = ok(await client.call_tool("git_status", {}))
    assert status["is_repository"] is True and status["branch"] == "main" and "note" not in status
    assert status["commits"] == [
        {
            "message": "second",
            "author": "Bo",
            "author_email": "bo@example.com",
            "date": state(repo)["commits"][0]["date"],
        },
        {
            "message": "first commit\n\nwith a body",
            "author": "Ada Lovelace",
            "author_email": "ada@example.com",
            "date": state(repo)["commits"][1]["date"],
        },
    ]
    assert status["modified"] == {"paths": ["project/metadata.yaml"], "left_out": 0, "mage_capped": False}
    assert status["staged"]["paths"] == ["project/pipelines/p/metadata.yaml"]
    assert status["untracked"]["paths"] == ["project/new.py"]
    assert reads_of(repo, "/api/git_custom_branches") == ["/api/git_custom_branches/with_logs"]


async def test_a_folder_that_is_no_repository_says_so(client: Client, mage: FakeMage) -> None:
    status = ok(await client.call_tool("git_status", {}))
    assert status["is_repository"] is False and status["commits"] == []
    assert "not a git repository" in status["note"]
    assert reads_of(mage, "/api/git_custom_branches") == [
        "/api/git_custom_branches/with_logs",
        "/api/git_custom_branches/current",
    ]


async def test_a_repository_without_commits_shows_its_files(client: Client, mage: FakeMage) -> None:
    mage.init_repo("trunk")["untracked"] = ["project/"]
    status = ok(await client.call_tool("git_status", {}))
    assert status["branch"] == "trunk" and status["untracked"]["paths"] == ["project/"]
    assert status["commits"] == [] and "no commit yet" in status["note"]


async def test_git_status_stays_small_whatever_mage_holds(client: Client, repo: FakeMage) -> None:
    state(repo)["untracked"] = [f"data/{'d' * 500}/{n}.csv" for n in range(5000)]
    for n in range(20):
        repo.commit(f"huge {n} " + "m" * 1_000_000)
    result = await client.call_tool("git_status", {})
    status = ok(result)
    assert len(status["untracked"]["paths"]) == 50 and status["untracked"]["left_out"] == 50
    assert status["untracked"]["mage_capped"] is True  # Mage itself stopped at 100
    assert len(status["commits"]) == 12 and all(len(c["message"]) < 1_100 for c in status["commits"])
    assert len(text_of(result).encode()) < 100_000


# -- git_pull ---------------------------------------------------------------------------------


async def test_without_a_sync_remote_the_pull_is_refused_before_anyone_is_asked(
    make_server: ServerFactory, repo: FakeMage
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("git_pull", {})
    assert result.is_error
    assert "Git sync is not configured" in text_of(result) and "Settings → Sync data" in text_of(result)
    assert "NoneType" not in text_of(result)
    assert prompts == [] and changes(repo) == []


async def test_a_confirmed_pull_resets_the_repository_to_the_remote(
    make_server: ServerFactory, synced: FakeMage
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("git_pull", {})
    pulled = ok(result)
    assert pulled["status"] == "pulled" and pulled["branch"] == "main"
    assert pulled["remote"] == "https://github.com/acme/etl.git"
    (prompt,) = prompts
    assert "branch 'main' of https://github.com/acme/etl.git" in prompt and "hard-resets" in prompt
    assert "lost" in prompt and "1 modified, 1 staged files" in prompt
    assert "t0ken" not in prompt + text_of(result) and "deploy-bot" not in prompt
    assert [(r.method, r.path, r.json) for r in changes(synced)] == [
        ("PUT", "/api/syncs/git", {"sync": {"action_type": "sync_data"}})
    ]
    repo = synced.repo
    assert repo is not None and repo["commits"][0]["message"] == "remote change\n"
    assert repo["modified"] == [] and repo["staged"] == [] and repo["untracked"] == ["project/new.py"]


async def test_a_declined_pull_sends_nothing(make_server: ServerFactory, synced: FakeMage) -> None:
    async with Client(make_server(), elicitation_callback=answer("decline")) as c:
        assert ok(await c.call_tool("git_pull", {}))["status"] == "declined"
    assert changes(synced) == []


def test_remote_urls_lose_their_credentials() -> None:
    assert without_credentials(REMOTE) == "https://github.com/acme/etl.git"
    assert without_credentials("git@github.com:acme/etl.git") == "git@github.com:acme/etl.git"
    assert without_credentials("/srv/git/etl.git") == "/srv/git/etl.git"


# -- deploy_git_commit ------------------------------------------------------------------------


async def test_on_mage_oss_a_deploy_needs_mage_pro_before_anyone_is_asked(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("deploy_git_commit", {"branch": "main"})
    assert result.is_error and "needs Mage Pro" in text_of(result) and "Traceback" not in text_of(result)
    assert prompts == [] and changes(mage) == []


async def test_a_deploy_sends_what_the_pro_docs_describe(make_server: ServerFactory, pro: FakeMage) -> None:
    prompts: list[str] = []
    sha = "0123456789abcdef0123456789abcdef01234567"
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = ok(await c.call_tool("deploy_git_commit", {"branch": "main", "commit": sha}))
    (post,) = changes(pro)
    assert post.path == "/api/deployment_settings/prod/deployments"
    assert post.json["deployment"]["source"] == {
        "head": {"name": "main"},
        "name": f"main {sha} (deployed by mage-mcp)",
        "version": sha,
    }
    assert post.json["deployment"]["stage"] == {"branch": {"name": "deploy-main"}, "environment": "production"}
    assert result | {"message": None} == {
        "status": "deploying",
        "deployment_id": 1,
        "deployment_status": "queued",
        "setting": "prod",
        "environment": "production",
        "branch": "main",
        "commit": sha,
        "message": None,
    }
    assert sha in prompts[0] and "'production'" in prompts[0] and "'prod'" in prompts[0] and "main" in prompts[0]


async def test_without_a_commit_the_branch_head_is_deployed(make_server: ServerFactory, pro: FakeMage) -> None:
    head = pro.push_to_remote("main", "release 2")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        ok(await c.call_tool("deploy_git_commit", {"branch": "main"}))
    (post,) = changes(pro)
    assert "version" not in post.json["deployment"]["source"]
    assert pro.deployments[0]["source"]["version"] == head
    assert "the head of branch 'main'" in prompts[0]


async def test_a_pro_that_needs_a_commit_says_to_pass_one(make_server: ServerFactory, pro: FakeMage) -> None:
    pro.deploy_needs_version = True
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("deploy_git_commit", {"branch": "main"})
    assert result.is_error and "Pass commit" in text_of(result)


async def test_the_environment_picks_the_deployment_setting(make_server: ServerFactory, pro: FakeMage) -> None:
    pro.add_deployment_setting("stage", "staging", "deploy-staging")
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        ambiguous = await c.call_tool("deploy_git_commit", {"branch": "main"})
        unknown = await c.call_tool("deploy_git_commit", {"branch": "main", "environment": "qa"})
        ok(await c.call_tool("deploy_git_commit", {"branch": "develop", "environment": "staging"}))
    assert ambiguous.is_error and "pass environment" in text_of(ambiguous) and "stage (staging)" in text_of(ambiguous)
    assert unknown.is_error and "'qa'" in text_of(unknown) and "prod (production)" in text_of(unknown)
    (post,) = changes(pro)
    assert post.path == "/api/deployment_settings/stage/deployments"
    assert post.json["deployment"]["stage"]["branch"] == {"name": "deploy-staging"}


async def test_a_cluster_without_deployment_settings_says_where_to_make_one(client: Client, pro: FakeMage) -> None:
    pro.deployment_settings.clear()
    result = await client.call_tool("deploy_git_commit", {"branch": "main"})
    assert result.is_error and "/apps/deploy" in text_of(result) and changes(pro) == []


@pytest.mark.parametrize(
    "arguments",
    [
        {"branch": "../main"},
        {"branch": "-f"},
        {"branch": "main branch"},
        {"branch": "main", "commit": "not-a-sha"},
        {"branch": "main", "commit": "abc"},
        {"branch": "main", "environment": "prod/x"},
    ],
)
async def test_bad_input_is_refused_with_nothing_sent(client: Client, pro: FakeMage, arguments: dict[str, Any]) -> None:
    result = await client.call_tool("deploy_git_commit", arguments)
    assert result.is_error and "Invalid arguments" in text_of(result)
    assert reads_of(pro, "/api/deployment_settings") == [] and changes(pro) == []
