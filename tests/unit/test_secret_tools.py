"""The project secret tools against the Mage cluster fake: names listed, values sent once and never shown.

A value's only way out of the server is the create request to Mage: every test that handles one
checks the results, plans, prompts, errors and logs for it (and for the fake's stored form of it).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.clients import ClusterClient, MageAuthError, MageError, MageNotFoundError
from tests.fakes import FakeMage
from tests.unit.conftest import ServerFactory, answer

pytestmark = pytest.mark.anyio

VALUE = "s3cr3t-V4lue-9137"
STORED = base64.b64encode(VALUE.encode()).decode()  # the fake's "encrypted" form of VALUE


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


def body(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def changes_sent(mage: FakeMage) -> list[str]:
    return [f"{r.method} {r.path}" for r in mage.recorder.mutations() if not r.path.endswith("/sessions")]


def assert_never_shown(*texts: str) -> None:
    for shown in texts:
        assert VALUE not in shown and STORED not in shown, shown


# -- list_secrets -----------------------------------------------------------------------------


async def test_list_pages_names_with_a_cursor_and_never_a_value(client: Client, mage: FakeMage) -> None:
    for n in range(5):
        mage.add_secret(f"KEY_{n}", f"{VALUE}-{n}")
    names: list[str] = []
    cursor = None
    for _ in range(4):
        result = await client.call_tool("list_secrets", {"limit": 2} | ({"cursor": cursor} if cursor else {}))
        page = body(result)
        assert page["total"] == 5 and set(page) <= {"names", "total", "next_cursor"}
        assert_never_shown(text(result))
        names += page["names"]
        if (cursor := page.get("next_cursor")) is None:
            break
    assert names == [f"KEY_{n}" for n in range(5)]
    assert [r.query.get("_offset") for r in mage.recorder.requests if r.path == "/api/secrets"] == ["0", "2", "4"]


async def test_thousands_of_secrets_with_long_names_stay_small(client: Client, mage: FakeMage) -> None:
    for n in range(2_000):
        mage.add_secret(f"{n:04d}" + "N" * 10_000, VALUE)
    result = await client.call_tool("list_secrets", {"limit": 100})
    page = body(result)
    assert len(page["names"]) == 100 and page["total"] == 2_000 and page["next_cursor"]
    assert len(text(result).encode()) < 50_000


async def test_a_bad_cursor_is_a_clear_error(client: Client) -> None:
    result = await client.call_tool("list_secrets", {"cursor": "nope"})
    assert result.is_error and "next_cursor value of a previous list_secrets result" in text(result)


# -- create_secret ----------------------------------------------------------------------------


async def test_create_sends_the_value_to_mage_and_shows_it_nowhere(
    make_server: ServerFactory, mage: FakeMage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("create_secret", {"name": "API_KEY", "value": VALUE})
        listed = await c.call_tool("list_secrets", {})
    assert body(result) | {"message": None} == {"status": "created", "name": "API_KEY", "message": None}
    assert mage.secret_value("API_KEY") == VALUE
    (post,) = [r for r in mage.recorder.mutations() if r.path == "/api/secrets"]
    assert post.json == {"secret": {"name": "API_KEY", "value": VALUE}}
    (prompt,) = prompts
    assert "'API_KEY'" in prompt and "get_secret_value('API_KEY')" in prompt
    assert body(listed)["names"] == ["API_KEY"]
    assert_never_shown(prompt, text(result), text(listed), caplog.text)


async def test_the_token_flow_never_shows_the_value(
    client: Client, mage: FakeMage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    arguments = {"name": "API_KEY", "value": VALUE}
    first = await client.call_tool("create_secret", arguments)
    token = body(first)["confirmation_token"]
    assert body(first)["plan"]["changes"] == {"name": "API_KEY"} and changes_sent(mage) == []
    changed = await client.call_tool(
        "create_secret", {"name": "API_KEY", "value": "other", "confirmation_token": token}
    )
    second = await client.call_tool("create_secret", arguments | {"confirmation_token": token})
    assert changed.is_error and "other arguments" in text(changed)
    assert body(second)["status"] == "created" and mage.secret_value("API_KEY") == VALUE
    assert_never_shown(text(first), token, text(changed), text(second), caplog.text)


async def test_an_existing_name_is_refused_before_asking_and_says_how_to_replace_it(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    mage.add_secret("API_KEY", "old-value")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("create_secret", {"name": "API_KEY", "value": VALUE})
    assert result.is_error and "already exists" in text(result)
    assert "delete_secret, then create_secret" in text(result)
    assert prompts == [] and changes_sent(mage) == []
    assert mage.secret_value("API_KEY") == "old-value"
    assert_never_shown(text(result))


async def test_the_check_for_an_existing_name_pages_through_every_secret(client: Client, mage: FakeMage) -> None:
    for n in range(250):
        mage.add_secret(f"KEY_{n:03d}", "v")
    result = await client.call_tool("create_secret", {"name": "KEY_249", "value": VALUE})
    assert result.is_error and "already exists" in text(result)
    assert len([r for r in mage.recorder.requests if r.path == "/api/secrets"]) == 3


async def test_a_mage_failure_that_holds_the_value_is_reported_without_it(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    mage.fail_next_secret_create = f"could not store {VALUE!r}"
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("create_secret", {"name": "API_KEY", "value": VALUE})
    assert result.is_error and "Mage failed to create the secret 'API_KEY'" in text(result)
    assert_never_shown(text(result))


async def test_a_name_created_elsewhere_since_the_plan_says_how_to_replace_it(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    mage.fail_next_secret_create = "(sqlite3.IntegrityError) UNIQUE constraint failed: secret.name, secret.key_uuid"
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("create_secret", {"name": "API_KEY", "value": VALUE})
    assert result.is_error and "'API_KEY' already exists" in text(result) and "delete_secret" in text(result)


async def test_another_mage_failure_keeps_its_text(make_server: ServerFactory, mage: FakeMage) -> None:
    mage.fail_next_secret_create = "(sqlite3.OperationalError) database is locked"
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("create_secret", {"name": "API_KEY", "value": VALUE})
    assert result.is_error and "database is locked" in text(result)


async def test_mages_duplicate_error_carries_the_stored_value_and_the_client_drops_it(
    cluster: ClusterClient, mage: FakeMage
) -> None:
    """Between a plan and its apply another client may create the name: Mage's IntegrityError holds the value."""
    mage.add_secret("API_KEY", VALUE)
    with pytest.raises(MageError) as raised:
        await cluster.create_secret("API_KEY", VALUE)
    assert "UNIQUE constraint failed" in str(raised.value)
    assert_never_shown(str(raised.value), repr(raised.value))


@pytest.mark.parametrize(
    "name", ["", "  ", "a/b", "..", "a\\b", "mage_git_access_token", "mage_git_ssh_private_key_b64_x"]
)
async def test_a_bad_name_is_refused_before_any_request(client: Client, mage: FakeMage, name: str) -> None:
    result = await client.call_tool("create_secret", {"name": name, "value": VALUE})
    assert result.is_error and "Invalid arguments: name" in text(result)
    assert_never_shown(text(result))
    assert [r for r in mage.recorder.requests if r.path == "/api/secrets"] == []


@pytest.mark.parametrize("value", ["", VALUE * 2_000, 42])
async def test_a_bad_value_is_refused_without_repeating_it(client: Client, mage: FakeMage, value: Any) -> None:
    result = await client.call_tool("create_secret", {"name": "API_KEY", "value": value})
    assert result.is_error and "Invalid arguments: value" in text(result)
    assert_never_shown(text(result))
    assert "42" not in text(result).replace("32768", "")
    assert changes_sent(mage) == []


# -- delete_secret ----------------------------------------------------------------------------


async def test_delete_removes_the_secret_after_a_prompt_naming_it(make_server: ServerFactory, mage: FakeMage) -> None:
    mage.add_secret("API_KEY", VALUE)
    mage.add_secret("OTHER", "kept")
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("delete_secret", {"name": "API_KEY"})
    assert body(result)["status"] == "deleted" and body(result)["name"] == "API_KEY"
    assert mage.secret_value("API_KEY") is None and mage.secret_value("OTHER") == "kept"
    assert changes_sent(mage) == ["DELETE /api/secrets/API_KEY"]
    assert "'API_KEY'" in prompts[0] and "cannot be recovered" in prompts[0]
    assert_never_shown(prompts[0], text(result))


async def test_delete_of_an_unknown_name_suggests_list_secrets_and_sends_nothing(
    make_server: ServerFactory, mage: FakeMage
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool("delete_secret", {"name": "NOPE"})
    assert result.is_error and "'NOPE' was not found" in text(result) and "list_secrets" in text(result)
    assert changes_sent(mage) == []


# -- the fake answers as Mage does -------------------------------------------------------------


async def test_the_fake_follows_mages_secret_quirks(cluster: ClusterClient, mage: FakeMage) -> None:
    mage.add_secret("mage_git_access_token", "hidden")  # Mage keeps these for Git sync and hides them
    mage.add_secret("SHOWN", "v")
    assert [s.name for s in (await cluster.list_secrets(limit=40)).items] == ["SHOWN"]
    with pytest.raises(MageAuthError) as disabled:  # no detail (nor update) action for a secret that exists
        await cluster.request("GET", "/secrets/SHOWN")
    with pytest.raises(MageNotFoundError):
        await cluster.request("GET", "/secrets/NOPE")
    assert disabled.value.code == 403
