"""No mutating request leaves the server before a person confirms: every tool, every path.

What reached Mage is read from the fakes' request recorders, never from the tool's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from mcp import Client

from mage_mcp.server.confirmation import ConfirmationGate
from tests.fakes import FakeCloud, FakeMage
from tests.unit.conftest import CLUSTER, TEAM, ServerFactory, answer

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Case:
    tool: str
    arguments: dict[str, Any]
    other_arguments: dict[str, Any]  # the same tool with different arguments, to reuse a token on
    effect: tuple[str, str] = ("PUT", f"/clusters/{CLUSTER}")  # the request that is the change: method, path end

    def applied(self, mage: FakeMage, cloud: FakeCloud) -> bool:
        """Whether the request that makes the change reached Mage."""
        method, path_end = self.effect
        return any(m == method and p.endswith(path_end) for m, p in self.mutations(mage, cloud))

    def mutations(self, mage: FakeMage, cloud: FakeCloud) -> list[tuple[str, str]]:
        """Requests that change state (logins excluded) on the plane this tool acts on."""
        recorder = cloud.recorder if self.tool in CLOUD_TOOLS else mage.recorder
        return [(r.method, r.path) for r in recorder.mutations() if not r.path.endswith("/sessions")]


CLOUD_TOOLS = {"start_cluster", "stop_cluster", "set_env_vars"}
CASES = [
    Case("start_cluster", {}, {"cluster_id": "cluster-2"}),
    Case("stop_cluster", {}, {"cluster_id": "cluster-2"}),
    Case("set_env_vars", {"env_vars": {"GREETING": "hello-secret"}}, {"env_vars": {"GREETING": "other"}}),
    Case(
        "trigger_pipeline",
        {"pipeline_uuid": "example_pipeline", "variables": {"x": 1}},
        {"pipeline_uuid": "example_pipeline", "variables": {"x": 2}},
        effect=("POST", "/pipeline_runs"),
    ),
]
IDS = [case.tool for case in CASES]


@pytest.fixture
def cloud() -> FakeCloud:
    """Two clusters; the one `stop_cluster` acts on must be running for the stop to be a change."""
    fake = FakeCloud()
    second = fake.cluster(CLUSTER) | {"id": "cluster-2", "name": "second"}
    fake.clusters["cluster-2"] = second
    return fake


def prepare(case: Case, cloud: FakeCloud) -> None:
    if case.tool == "stop_cluster":
        for cluster in cloud.clusters.values():
            cluster["status"], cluster["config"]["replicaCount"] = "Active", 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_accepted_elicitation_applies_the_change(
    case: Case, mode: str, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    prompts: list[str] = []
    async with Client(make_server(), mode=mode, elicitation_callback=answer("accept", {"confirm": True}, prompts)) as c:
        result = await c.call_tool(case.tool, case.arguments)
    assert not result.is_error, result.content
    assert len(prompts) == 1
    assert case.applied(mage, cloud)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(
    ("action", "content", "status"),
    [("accept", {"confirm": False}, "declined"), ("decline", None, "declined"), ("cancel", None, "cancelled")],
    ids=["confirm-false", "decline", "cancel"],
)
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_refused_elicitation_sends_nothing(
    case: Case,
    action: str,
    content: dict[str, Any] | None,
    status: str,
    mode: str,
    make_server: ServerFactory,
    mage: FakeMage,
    cloud: FakeCloud,
) -> None:
    prepare(case, cloud)
    async with Client(make_server(), mode=mode, elicitation_callback=answer(action, content)) as c:
        result = await c.call_tool(case.tool, case.arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["status"] == status
    assert "Nothing changed" in result.structured_content["message"]
    assert case.mutations(mage, cloud) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_token_fallback_needs_the_token_then_applies(
    case: Case, client: Client, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    first = await client.call_tool(case.tool, case.arguments)
    assert not first.is_error, first.content
    assert first.structured_content is not None
    body = first.structured_content
    assert body["status"] == "confirmation_required"
    assert body["plan"]["summary"] and body["expires_at"]
    assert case.mutations(mage, cloud) == []

    second = await client.call_tool(case.tool, {**case.arguments, "confirmation_token": body["confirmation_token"]})
    assert not second.is_error, second.content
    assert case.applied(mage, cloud)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_replayed_token_is_refused(case: Case, client: Client, mage: FakeMage, cloud: FakeCloud) -> None:
    prepare(case, cloud)
    token = (await client.call_tool(case.tool, case.arguments)).structured_content["confirmation_token"]  # type: ignore[index]
    await client.call_tool(case.tool, {**case.arguments, "confirmation_token": token})
    applied = case.mutations(mage, cloud)
    undo(case, mage, cloud)  # so the replay would be a real change again, not a no-op

    replay = await client.call_tool(case.tool, {**case.arguments, "confirmation_token": token})
    assert replay.is_error
    assert "already used" in replay.content[0].text  # type: ignore[union-attr]
    assert case.mutations(mage, cloud) == applied


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_token_for_other_arguments_is_refused(
    case: Case, client: Client, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    token = (await client.call_tool(case.tool, case.arguments)).structured_content["confirmation_token"]  # type: ignore[index]
    reused = await client.call_tool(case.tool, {**case.other_arguments, "confirmation_token": token})
    assert reused.is_error
    assert "other arguments" in reused.content[0].text  # type: ignore[union-attr]
    assert case.mutations(mage, cloud) == []


async def test_token_of_another_tool_is_refused(client: Client, cloud: FakeCloud) -> None:
    token = (await client.call_tool("start_cluster", {})).structured_content["confirmation_token"]  # type: ignore[index]
    prepare(CASES[1], cloud)
    result = await client.call_tool("stop_cluster", {"confirmation_token": token})
    assert result.is_error and "start_cluster" in result.content[0].text  # type: ignore[union-attr]
    assert [r for r in cloud.recorder.mutations() if r.method == "PUT"] == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_expired_token_is_refused(
    case: Case, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    now = [1_000_000.0]
    server = make_server()
    server.runtime.gate = ConfirmationGate("token", 300, clock=lambda: now[0])
    async with Client(server) as c:
        token = (await c.call_tool(case.tool, case.arguments)).structured_content["confirmation_token"]  # type: ignore[index]
        now[0] += 301
        result = await c.call_tool(case.tool, {**case.arguments, "confirmation_token": token})
    assert result.is_error and "expired" in result.content[0].text  # type: ignore[union-attr]
    assert case.mutations(mage, cloud) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_token_from_another_server_process_is_refused(
    case: Case, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    async with Client(make_server()) as other:
        token = (await other.call_tool(case.tool, case.arguments)).structured_content["confirmation_token"]  # type: ignore[index]
    async with Client(make_server()) as c:
        result = await c.call_tool(case.tool, {**case.arguments, "confirmation_token": token})
    assert result.is_error and "not issued by this server" in result.content[0].text  # type: ignore[union-attr]
    assert case.mutations(mage, cloud) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_deny_fallback_refuses_and_says_how_to_enable(
    case: Case, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    async with Client(make_server(mage_mcp_confirm_fallback="deny")) as c:
        result = await c.call_tool(case.tool, {**case.arguments, "confirmation_token": "anything"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "MAGE_MCP_CONFIRM_FALLBACK" in text and "elicitation" in text
    assert case.mutations(mage, cloud) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_allow_fallback_applies_without_asking(
    case: Case, make_server: ServerFactory, mage: FakeMage, cloud: FakeCloud
) -> None:
    prepare(case, cloud)
    async with Client(make_server(mage_mcp_confirm_fallback="allow")) as c:
        result = await c.call_tool(case.tool, case.arguments)
    assert not result.is_error, result.content
    assert case.applied(mage, cloud)


async def test_elicitation_is_used_even_when_the_fallback_is_allow(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
    async with Client(
        make_server(mage_mcp_confirm_fallback="allow"), elicitation_callback=answer("decline")
    ) as c:
        result = await c.call_tool("start_cluster", {})
    assert result.structured_content is not None and result.structured_content["status"] == "declined"
    assert cloud.recorder.mutations() == [r for r in cloud.recorder.mutations() if r.path.endswith("/sessions")]


async def test_prompts_say_what_changes_and_never_a_value(
    make_server: ServerFactory, cloud: FakeCloud
) -> None:
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


def undo(case: Case, mage: FakeMage, cloud: FakeCloud) -> None:
    """Put the world back as it was before a confirmed call, so repeating it would change it again."""
    for cluster in cloud.clusters.values():
        if case.tool == "start_cluster":
            cluster["status"], cluster["config"]["replicaCount"] = "Stopped", 0
        elif case.tool == "stop_cluster":
            cluster["status"], cluster["config"]["replicaCount"] = "Active", 1
        elif case.tool == "set_env_vars":
            cluster["config"]["extraEnvs"] = [e for e in cluster["config"]["extraEnvs"] if e["name"] != "GREETING"]
