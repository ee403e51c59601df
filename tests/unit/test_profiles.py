"""Profiles in the server: each call reaches its profile's Mage and says so; read-only profiles, tokens
bound to a profile, per-profile fallbacks; and the audit records of what was tried.

Two fakes stand for two Mage targets, told apart by host name (`dev.test`, `prod.test`); what reached
each is read from its own recorder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextResourceContents

from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.runtime import Runtime
from mage_mcp.tools.profiles import _without_userinfo
from tests.fakes import FakeMage
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-v4lue-Qx"


class ByHost(httpx.AsyncBaseTransport):
    """One transport for several fakes: each request goes to the fake its host names."""

    def __init__(self, fakes: dict[str, FakeMage]) -> None:
        self._transports = {host: httpx.ASGITransport(app=fake.app) for host, fake in fakes.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transports[request.url.host].handle_async_request(request)


@pytest.fixture
def dev() -> FakeMage:
    return FakeMage()


@pytest.fixture
def prod() -> FakeMage:
    return FakeMage()


def config(tmp_path: Path, dev: FakeMage, prod: FakeMage, monkeypatch: pytest.MonkeyPatch, **prod_extra: Any) -> Path:
    for name, fake in (("DEV", dev), ("PROD", prod)):
        monkeypatch.setenv(f"{name}_EMAIL", fake.email)
        monkeypatch.setenv(f"{name}_PASSWORD", fake.password)
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in prod_extra.items())
    path = tmp_path / "config.toml"
    path.write_text(
        'default_profile = "dev"\n'
        '[profiles.dev]\ncluster_url = "http://dev.test"\nemail = "${DEV_EMAIL}"\npassword = "${DEV_PASSWORD}"\n'
        '[profiles.prod]\ncluster_url = "http://prod.test"\n'
        f'email = "${{PROD_EMAIL}}"\npassword = "${{PROD_PASSWORD}}"\n{extra}'
    )
    return path


def two_profile_server(path: Path, dev: FakeMage, prod: FakeMage, **settings: Any) -> MageMCPServer:
    runtime = Runtime(
        Settings(mage_mcp_config=path, **settings), cluster_transport=ByHost({"dev.test": dev, "prod.test": prod})
    )
    return build_server(runtime=runtime)


def reads(fake: FakeMage, path: str) -> int:
    return len(fake.recorder.filter("GET", path))


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


def audit_text() -> str:
    return Path(os.environ["MAGE_MCP_AUDIT_LOG"]).read_text()


def audited() -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit_text().splitlines()]


def replace_audit_log_with_a_directory() -> None:
    """Root may write any file; nobody writes a line into a directory."""
    log = Path(os.environ["MAGE_MCP_AUDIT_LOG"])
    log.unlink()
    log.mkdir()


async def test_each_call_reaches_its_profiles_mage_and_names_it(
    tmp_path: Path, dev: FakeMage, prod: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = two_profile_server(config(tmp_path, dev, prod, monkeypatch), dev, prod)
    async with Client(server) as c:
        default = structured(await c.call_tool("list_pipelines", {}))
        assert default["profile"] == "dev" and (reads(dev, "/api/pipelines"), reads(prod, "/api/pipelines")) == (1, 0)
        chosen = structured(await c.call_tool("list_pipelines", {"profile": "prod"}))
        assert chosen["profile"] == "prod" and (reads(dev, "/api/pipelines"), reads(prod, "/api/pipelines")) == (1, 1)

        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(c.call_tool, "list_pipelines", {"profile": "prod" if n % 2 else "dev"})
        assert (reads(dev, "/api/pipelines"), reads(prod, "/api/pipelines")) == (11, 11)

        unknown = await c.call_tool("list_pipelines", {"profile": "staging"})
        assert "Unknown profile 'staging'" in error_text(unknown) and "dev, prod" in error_text(unknown)
        missing = await c.call_tool("get_run", {"run_id": 424242, "profile": "prod"})
        assert "on profile 'prod'" in error_text(missing)
    assert (reads(dev, "/api/pipelines"), reads(prod, "/api/pipelines")) == (11, 11)


async def test_the_listing_offers_the_profiles_and_list_profiles_shows_no_credential(
    tmp_path: Path, dev: FakeMage, prod: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = two_profile_server(config(tmp_path, dev, prod, monkeypatch, read_only=True), dev, prod)
    async with Client(server) as c:
        instructions = c.instructions
        tools = {tool.name: tool for tool in (await c.list_tools()).tools}
        profiles = structured(await c.call_tool("list_profiles", {}))
    assert tools["get_run"].input_schema["properties"]["profile"] == {"type": "string", "enum": ["dev", "prod"]}
    assert "takes profile (dev, prod; default dev)" in (instructions or "")
    assert "profile" not in tools["list_profiles"].input_schema.get("properties", {})
    assert [(p["name"], p["default"], p["read_only"]) for p in profiles["profiles"]] == [
        ("dev", True, False),
        ("prod", False, True),
    ]
    assert profiles["profiles"][1]["cluster_url"] == "http://prod.test" and profiles["source"] == str(
        tmp_path / "config.toml"
    )
    assert prod.password not in json.dumps(profiles)


def test_list_profiles_leaves_out_the_user_and_password_of_a_url() -> None:
    assert _without_userinfo("https://user:pw@prod.example.com:8443/mage") == "https://prod.example.com:8443/mage"


async def test_without_a_file_one_default_profile_and_nothing_named(make_server: ServerFactory) -> None:
    async with Client(make_server()) as c:
        tools = {tool.name: tool for tool in (await c.list_tools()).tools}
        result = structured(await c.call_tool("list_pipelines", {"profile": "default"}))
        profiles = structured(await c.call_tool("list_profiles", {}))
        unknown = await c.call_tool("list_pipelines", {"profile": "prod"})
    assert "profile" not in tools["list_pipelines"].input_schema["properties"] and "profile" not in result
    assert profiles["source"] == "environment" and [p["name"] for p in profiles["profiles"]] == ["default"]
    assert profiles["profiles"][0]["planes"] == ["cluster", "cloud"]
    assert "Unknown profile 'prod'" in error_text(unknown)


async def test_a_read_only_profile_refuses_changes_before_asking_or_sending(
    tmp_path: Path, dev: FakeMage, prod: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []
    server = two_profile_server(config(tmp_path, dev, prod, monkeypatch, read_only=True), dev, prod)
    async with Client(server, elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        secret_call = {"name": "TOKEN", "value": SECRET, "profile": "prod", "confirmation_token": "tok-8f3a"}
        refused = await c.call_tool("create_secret", secret_call)
        assert structured(await c.call_tool("list_secrets", {"profile": "prod"}))["profile"] == "prod"
        applied = await c.call_tool("create_secret", {"name": "TOKEN", "value": SECRET})
    assert "read_only = true in [profiles.prod]" in error_text(refused) and "nothing was sent" in error_text(refused)
    assert prod.recorder.mutations("/api/secrets") == [] and len(prompts) == 1 and "On profile 'dev'" in prompts[0]
    assert structured(applied)["profile"] == "dev" and dev.secret_value("TOKEN") == SECRET
    refusal, pending, done = audited()
    assert (refusal["profile"], refusal["outcome"], refusal["arguments"]["value"]) == ("prod", "refused", "***")
    assert (pending["outcome"], done["outcome"], done["profile"]) == ("pending", "applied", "dev")
    assert SECRET not in audit_text() and "tok-8f3a" not in audit_text()


async def test_a_token_is_bound_to_its_profile_and_fallbacks_are_per_profile(
    tmp_path: Path, dev: FakeMage, prod: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config(tmp_path, dev, prod, monkeypatch)
    server = two_profile_server(path, dev, prod, mage_mcp_confirm_fallback="token")
    arguments = {"name": "TOKEN", "value": SECRET}
    async with Client(server) as c:
        planned = structured(await c.call_tool("create_secret", {**arguments, "profile": "prod"}))
        token = planned["confirmation_token"]
        assert planned["plan"]["profile"] == "prod" and planned["profile"] == "prod"
        elsewhere = await c.call_tool("create_secret", {**arguments, "confirmation_token": token})
        assert "other arguments" in error_text(elsewhere) and dev.recorder.mutations("/api/secrets") == []
        structured(await c.call_tool("create_secret", {**arguments, "profile": "prod", "confirmation_token": token}))
    assert prod.secret_value("TOKEN") == SECRET and dev.secret_value("TOKEN") is None

    denying = config(tmp_path, dev, prod, monkeypatch, confirm_fallback="deny")
    async with Client(two_profile_server(denying, dev, prod, mage_mcp_confirm_fallback="token")) as c:
        denied = await c.call_tool("create_secret", {"name": "OTHER", "value": SECRET, "profile": "prod"})
        asked = structured(await c.call_tool("create_secret", {"name": "OTHER", "value": SECRET}))
    assert "MAGE_MCP_CONFIRM_FALLBACK" in error_text(denied) and asked["status"] == "confirmation_required"


async def test_one_profile_down_leaves_the_other_answering(
    tmp_path: Path, dev: FakeMage, prod: FakeMage, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config(tmp_path, dev, prod, monkeypatch)
    path.write_text(path.read_text().replace("http://prod.test", "http://127.0.0.1:9"))
    server = build_server(runtime=Runtime(Settings(mage_mcp_config=path), cluster_transport=None))
    async with Client(server) as c:
        down = await c.call_tool("list_pipelines", {"profile": "prod"})
        assert "on profile 'prod'" in error_text(down) and "not reachable" in error_text(down)


async def test_the_audit_records_outcomes_upstream_ids_and_never_a_value(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        structured(await c.call_tool("create_secret", {"name": "FIRST", "value": SECRET}))
        mage.fail_next_secret_create = "database is locked"
        failed = await c.call_tool("create_secret", {"name": "SECOND", "value": SECRET})
        assert failed.is_error
        await c.call_tool("set_env_vars", {"env_vars": {"GREETING": SECRET}})
        recent = await c.read_resource("mage://audit/recent")
    records = audited()
    assert [(r["tool"], r["outcome"]) for r in records] == [
        ("create_secret", "pending"),
        ("create_secret", "applied"),
        ("create_secret", "pending"),
        ("create_secret", "failed"),
        ("set_env_vars", "pending"),
        ("set_env_vars", "applied"),
    ]
    assert records[1]["upstream"] == {"status": 200, "name": "FIRST"}
    assert "database is locked" in records[3]["message"]
    assert records[4]["arguments"]["env_vars"] == {"GREETING": "***"}
    assert SECRET not in audit_text()
    content = recent.contents[0]
    assert isinstance(content, TextResourceContents)
    shown = json.loads(content.text)
    assert [(r["tool"], r["outcome"]) for r in shown["entries"]] == [(r["tool"], r["outcome"]) for r in records][::-1]


async def test_an_unwritable_audit_log_refuses_the_change_and_sends_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        replace_audit_log_with_a_directory()
        result = await c.call_tool("create_secret", {"name": "FIRST", "value": SECRET})
    assert "audit log" in error_text(result) and "Nothing was sent" in error_text(result)
    assert mage.recorder.mutations("/api/secrets") == [] and mage.secret_value("FIRST") is None
