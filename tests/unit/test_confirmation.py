"""No mutating request leaves the server before a person confirms: every mutating tool, every path.

The tools come from the registry, so a new mutating tool cannot skip this file: it fails
`test_every_mutating_tool_has_a_case` until it has a `Case` here. A token with any single
argument changed is generated from the tool's own input schema. What reached Mage is read from
the fakes' request recorders, never from the tool's answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.server.confirmation import ConfirmationGate, ConfirmationTokens
from mage_mcp.tools import TOOLS
from tests.fakes import FakeCloud, FakeMage
from tests.unit.confirmation_cases import CASES, OTHER_CLUSTER, mutations
from tests.unit.conftest import CLUSTER, TEAM, ServerFactory, answer

pytestmark = pytest.mark.anyio

MUTATING = sorted(spec.name for spec in TOOLS if spec.mutating)


@pytest.fixture
def cloud() -> FakeCloud:
    """Two clusters, so that a token can be tried on another target."""
    fake = FakeCloud()
    fake.clusters[OTHER_CLUSTER] = fake.cluster(CLUSTER) | {"id": OTHER_CLUSTER, "name": "second"}
    return fake


@pytest.fixture(params=MUTATING)
def tool(request: pytest.FixtureRequest, mage: FakeMage, cloud: FakeCloud) -> str:
    name: str = request.param
    CASES[name].prepare(mage, cloud)
    return name


def text(result: CallToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


async def token_for(client: Client, tool: str) -> str:
    first = await client.call_tool(tool, CASES[tool].arguments)
    assert not first.is_error, first.content
    assert first.structured_content is not None
    assert first.structured_content["status"] == "confirmation_required", first.structured_content
    return str(first.structured_content["confirmation_token"])


def audited() -> list[dict[str, Any]]:
    """The audit log's records (the unit tests' log is the test's own, see conftest)."""
    path = Path(os.environ["MAGE_MCP_AUDIT_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def outcomes(tool: str) -> list[tuple[str, str]]:
    return [(r["outcome"], r["confirmation"]) for r in audited() if r["tool"] == tool]


def test_every_mutating_tool_has_a_case() -> None:
    assert sorted(CASES) == MUTATING


async def test_every_mutating_tool_takes_a_confirmation_token(client: Client) -> None:
    for listed in (await client.list_tools()).tools:
        if listed.name in MUTATING:
            assert "confirmation_token" in listed.input_schema["properties"]
            assert listed.annotations is not None and listed.annotations.read_only_hint is False


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_accepted_elicitation_applies_the_change(
    tool: str, mode: str, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), mode=mode, elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(tool, CASES[tool].arguments)
    assert not result.is_error, result.content
    assert len(prompts) == 1
    assert CASES[tool].applied(tool, mage, cloud)
    pending, applied = audited()
    assert (pending["outcome"], applied["outcome"]) == ("pending", "applied")
    assert pending["attempt"] == applied["attempt"] and pending["tool"] == tool and pending["profile"] == "default"
    assert pending["confirmation"] == applied["confirmation"] == "elicitation"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(
    ("action", "content", "status"),
    [("accept", {"confirm": False}, "declined"), ("decline", None, "declined"), ("cancel", None, "cancelled")],
    ids=["confirm-false", "decline", "cancel"],
)
async def test_refused_elicitation_sends_nothing(
    tool: str,
    action: str,
    content: dict[str, Any] | None,
    status: str,
    mode: str,
    make_server: ServerFactory,
    mage: FakeMage,
    cloud: FakeCloud,
) -> None:
    async with Client(make_server(), mode=mode, elicitation_callback=answer(action, content)) as c:
        result = await c.call_tool(tool, CASES[tool].arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["status"] == status
    assert "Nothing changed" in result.structured_content["message"]
    assert mutations(tool, mage, cloud) == []
    assert outcomes(tool) == [(status, "none")]


async def test_without_elicitation_a_token_is_needed_then_applies_once(
    tool: str, client: Client, mage: FakeMage, cloud: FakeCloud
) -> None:
    first = await client.call_tool(tool, CASES[tool].arguments)
    assert first.structured_content is not None
    body = first.structured_content
    assert body["status"] == "confirmation_required"
    assert body["plan"]["summary"] and body["expires_at"]
    assert mutations(tool, mage, cloud) == []

    second = await client.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": body["confirmation_token"]})
    assert not second.is_error, second.content
    assert CASES[tool].applied(tool, mage, cloud)
    assert outcomes(tool) == [("confirmation_required", "none"), ("pending", "token"), ("applied", "token")]


async def test_a_replayed_token_is_refused(tool: str, client: Client, mage: FakeMage, cloud: FakeCloud) -> None:
    token = await token_for(client, tool)
    await client.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": token})
    applied = mutations(tool, mage, cloud)
    CASES[tool].prepare(mage, cloud)  # so that the replay would be a real change again, not a no-op

    replay = await client.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": token})
    assert replay.is_error and "already used" in text(replay)
    assert mutations(tool, mage, cloud) == applied
    assert outcomes(tool)[-1] == ("refused", "none")


async def test_a_token_of_another_tool_is_refused(tool: str, client: Client, mage: FakeMage, cloud: FakeCloud) -> None:
    other = next(name for name in MUTATING if name != tool)
    CASES[other].prepare(mage, cloud)
    token = await token_for(client, other)
    CASES[tool].prepare(mage, cloud)
    result = await client.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": token})
    assert result.is_error and f"issued for {other!r}" in text(result)
    assert mutations(tool, mage, cloud) == []


async def test_a_token_with_any_single_argument_changed_is_refused(
    tool: str, client: Client, mage: FakeMage, cloud: FakeCloud
) -> None:
    schema = next(t for t in (await client.list_tools()).tools if t.name == tool).input_schema
    case = CASES[tool]
    token = await token_for(client, tool)
    arguments = [name for name in schema["properties"] if name != "confirmation_token"]
    assert arguments or not CASES[tool].arguments, "arguments in the case that the tool's schema does not list"
    for name in arguments:
        changed = {
            **case.arguments,
            name: case.variants.get(name, other_value(schema["properties"][name], case.arguments.get(name))),
        }
        result = await client.call_tool(tool, {**changed, "confirmation_token": token})
        assert result.is_error, (name, result.content)
        assert "other arguments" in text(result), (name, text(result))
    assert mutations(tool, mage, cloud) == []
    applied = await client.call_tool(tool, {**case.arguments, "confirmation_token": token})
    assert not applied.is_error and case.applied(tool, mage, cloud)  # the refusals did not use the token up


def other_value(schema: dict[str, Any], current: Any) -> Any:
    """A valid value for `schema` that differs from `current` (None: the argument was left out)."""
    kinds = schema.get("type", "string")
    kind = next(k for k in ([kinds] if isinstance(kinds, str) else kinds) if k != "null")
    if "enum" in schema:
        return next(v for v in schema["enum"] if v != current)
    if kind == "boolean":
        return not (current if current is not None else schema.get("default", False))
    if kind == "integer":
        base = current if current is not None else schema.get("default", schema.get("minimum", 1))
        return base + 1 if base + 1 <= schema.get("maximum", base + 1) else base - 1
    if kind == "object":
        return {**(current or {}), "VARIANT": "variant"}
    if kind == "array":
        return [*(current or []), "VARIANT"]
    return f"{current or 'variant'}-other"


async def test_an_expired_token_is_refused(
    tool: str, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    now = [1_000_000.0]
    server = make_server()
    server.runtime.gate = ConfirmationGate("token", ConfirmationTokens(300, server.runtime.state, clock=lambda: now[0]))
    async with Client(server) as c:
        token = await token_for(c, tool)
        now[0] += 301
        result = await c.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": token})
    assert result.is_error and "expired" in text(result)
    assert mutations(tool, mage, cloud) == []


async def test_a_token_from_another_server_process_is_refused(
    tool: str, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    async with Client(make_server()) as other:
        token = await token_for(other, tool)
    async with Client(make_server()) as c:
        result = await c.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": token})
    assert result.is_error and "not issued by this server" in text(result)
    assert mutations(tool, mage, cloud) == []


async def test_deny_fallback_refuses_and_says_how_to_enable(
    tool: str, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="deny")) as c:
        result = await c.call_tool(tool, {**CASES[tool].arguments, "confirmation_token": "anything"})
    assert result.is_error
    assert "MAGE_MCP_CONFIRM_FALLBACK" in text(result) and "elicitation" in text(result)
    assert mutations(tool, mage, cloud) == []
    assert outcomes(tool) == [("denied", "none")]


async def test_allow_fallback_applies_without_asking(
    tool: str, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool(tool, CASES[tool].arguments)
    assert not result.is_error, result.content
    assert CASES[tool].applied(tool, mage, cloud)
    assert outcomes(tool) == [("pending", "allow"), ("applied", "allow")]


async def test_elicitation_is_used_even_when_the_fallback_is_allow(
    make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    async with Client(make_server(mage_mcp_confirm_fallback="allow"), elicitation_callback=answer("decline")) as c:
        result = await c.call_tool("start_cluster", {})
    assert result.structured_content is not None and result.structured_content["status"] == "declined"
    assert mutations("start_cluster", mage, cloud) == []


async def test_a_no_op_answers_without_asking_or_sending(
    make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool("stop_cluster", {})  # the fake's cluster is Stopped already
    assert result.structured_content is not None
    assert (
        result.structured_content["status"] == "Stopped" and "No request sent" in result.structured_content["message"]
    )
    assert prompts == [] and mutations("stop_cluster", mage, cloud) == []
    assert audited() == []  # nothing was attempted


async def test_prompts_say_what_changes_and_never_a_value(make_server: ServerFactory, cloud: FakeCloud) -> None:
    prompts: list[str] = []
    async with Client(make_server(), elicitation_callback=answer("decline", seen=prompts)) as c:
        await c.call_tool("set_env_vars", {"env_vars": {"NEW_ONE": "v4lue-n3w", "EXISTING": "v4lue-ch4nged"}})
        await c.call_tool("start_cluster", {})
        await c.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline", "variables": {"day": "mon"}})
    env_prompt, start_prompt, run_prompt = prompts
    assert "NEW_ONE" in env_prompt and "EXISTING" in env_prompt and CLUSTER in env_prompt and TEAM in env_prompt
    assert "v4lue" not in env_prompt and "s3cr3t-existing" not in env_prompt
    assert CLUSTER in start_prompt and TEAM in start_prompt and "Active" in start_prompt
    assert "example_pipeline" in run_prompt and '"day": "mon"' in run_prompt


async def test_confirmation_form_is_one_required_boolean(make_server: ServerFactory) -> None:
    schemas: list[dict[str, Any]] = []

    async def capture(context: Any, params: Any) -> Any:
        schemas.append(params.requested_schema)
        return await answer("decline")(context, params)

    async with Client(make_server(), elicitation_callback=capture) as c:
        await c.call_tool("start_cluster", {})
    (schema,) = schemas
    assert schema["required"] == ["confirm"]
    assert schema["properties"]["confirm"]["type"] == "boolean"
    assert set(schema["properties"]) == {"confirm"}
