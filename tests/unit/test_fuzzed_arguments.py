"""Generated arguments for every tool, through the in-memory client: each call answers with a result or a
clean error; never a crash, a bare "Error executing tool", or a request to Mage for refused input.

Arguments come from each tool's own listed input schema (`from_schema`, for the schema forms the server
lists; `hypothesis-jsonschema` 0.23 no longer works with current Hypothesis), mixed with arbitrary JSON
under the tool's argument names, so both accepted and refused input reach the server. Changes stay
behind the token fallback: a changing tool plans (reads) and asks, and nothing is applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.types import CallToolResult

from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.runtime import Runtime
from tests.fakes import FakeCloud, FakeMage
from tests.unit.conftest import CLUSTER, TEAM

EXAMPLES_PER_TOOL = 40
HOSTILE = st.sampled_from(["x" * 70_000, "../../etc/passwd", "a\x00b", "%2e%2e%2fadmin", "line\nbreak", " ", "é" * 300])
"""Strings a schema-following generator rarely makes: far over a limit, path-like, control characters."""
FINITE = st.floats(allow_nan=False, allow_infinity=False)  # what JSON can carry
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | st.text(max_size=300) | HOSTILE,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)


def make_server(mage: FakeMage, cloud: FakeCloud) -> MageMCPServer:
    runtime = Runtime(
        Settings(
            _env_file=None,
            mage_cluster_url="http://mage.test",
            mage_email=mage.email,
            mage_password=mage.password,
            mage_cloud_url="http://cloud.test/api/v1",
            mage_cloud_api_key=cloud.api_key,
            mage_cloud_email=cloud.email,
            mage_cloud_password=cloud.password,
            mage_team_id=TEAM,
            mage_cluster_id=CLUSTER,
        ),
        cluster_transport=httpx.ASGITransport(app=mage.app),
        cloud_transport=httpx.ASGITransport(app=cloud.app),
    )
    return build_server(runtime=runtime)


def listed_schemas() -> dict[str, dict[str, Any]]:
    async def read() -> dict[str, dict[str, Any]]:
        async with Client(make_server(FakeMage(), FakeCloud())) as client:
            return {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}

    return anyio.run(read)


SCHEMAS = listed_schemas()


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that mostly satisfy `schema` (the JSON Schema forms tools/list uses), near its limits too."""
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    if "enum" in schema or "const" in schema:
        return st.sampled_from(schema.get("enum", [schema.get("const")]))
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return st.one_of([from_schema({**schema, "type": kind}) for kind in kinds])
    if kinds == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 300), 300)) | HOSTILE
    if kinds == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kinds == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kinds == "boolean":
        return st.booleans()
    if kinds == "null":
        return st.none()
    if kinds == "array":
        items = from_schema(schema.get("items", {}))
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kinds == "object" and "properties" in schema:
        required = set(schema.get("required", []))
        properties = {name: from_schema(value) for name, value in schema["properties"].items()}
        return st.fixed_dictionaries(
            {name: value for name, value in properties.items() if name in required},
            optional={name: value for name, value in properties.items() if name not in required},
        )
    return JSON_VALUES


def arguments_for(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(schema.get("properties", {})) or ["anything"]
    arbitrary = st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=len(names))
    return st.one_of(from_schema(schema), arbitrary)


def text(result: CallToolResult) -> str:
    return " ".join(getattr(part, "text", "") for part in result.content)


def refused_before_sending(message: str) -> bool:
    return "Invalid arguments" in message or "Input validation error" in message


def breaks_its_schema(arguments: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Whether the listing says these arguments are refused; a null optional argument is its default (the listing
    folds `[T, null]` to `T` to stay small)."""
    required = set(schema.get("required", []))
    given = {name: value for name, value in arguments.items() if value is not None or name in required}
    return not Draft202012Validator(schema).is_valid(given)


@dataclass
class Session:
    """One server and client for the module, driven from Hypothesis's synchronous test through a portal."""

    portal: BlockingPortal
    client: Client
    mage: FakeMage
    cloud: FakeCloud

    def call(self, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        self.mage.recorder.clear()
        self.cloud.recorder.clear()
        return self.portal.call(self.client.call_tool, tool, arguments)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    mage, cloud = FakeMage(), FakeCloud()
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(make_server(mage, cloud))) as c:
        yield Session(portal, c, mage, cloud)


@pytest.mark.parametrize("tool", sorted(SCHEMAS))
def test_generated_arguments_get_a_result_or_a_clean_error(tool: str, session: Session) -> None:
    @settings(
        max_examples=EXAMPLES_PER_TOOL,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(arguments=arguments_for(SCHEMAS[tool]))
    def call(arguments: dict[str, Any]) -> None:
        result = session.call(tool, arguments)
        sent = session.mage.recorder.requests + session.cloud.recorder.requests
        if breaks_its_schema(arguments, SCHEMAS[tool]):  # what the listing says is refused is refused unsent
            assert result.is_error and sent == [], (tool, arguments, text(result), sent)
            return
        if not result.is_error:
            assert result.structured_content is not None, (tool, arguments)
            return
        message = text(result)
        assert message.strip() != f"Error executing tool {tool}", (tool, arguments)
        assert "failed unexpectedly" not in message, (tool, arguments, message)
        if refused_before_sending(message):
            assert sent == [], (tool, message)

    call()
