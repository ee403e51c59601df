"""The shared pieces of the authoring tools: names checked before a request, block views, not-found hints."""

from __future__ import annotations

import pytest
from mcp import Client
from pydantic import TypeAdapter, ValidationError

from mage_mcp.clients import Block, MageNotFoundError, Subject
from mage_mcp.server.errors import describe_upstream
from mage_mcp.tools.block_views import block_view, execution_order
from mage_mcp.tools.names import Identifier, PlainName, uuid_from_name
from tests.fakes import FakeMage

pytestmark = pytest.mark.anyio

plain = TypeAdapter(PlainName)
identifier = TypeAdapter(Identifier)


@pytest.mark.parametrize("name", ["", "   ", "a/b", "../up", "a\\b", "x..y"])
def test_a_path_like_or_blank_name_is_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        plain.validate_python(name)


def test_a_plain_name_is_kept_without_surrounding_blanks() -> None:
    assert plain.validate_python("  Daily Sales 2 ") == "Daily Sales 2"


@pytest.mark.parametrize("name", ["1st", "has space", "class", "naïve", "a-b", ""])
def test_a_variable_name_must_be_a_python_identifier(name: str) -> None:
    with pytest.raises(ValidationError, match="Python identifier"):
        identifier.validate_python(name)


@pytest.mark.parametrize(
    ("name", "uuid"),
    [("Daily Sales", "daily_sales"), ("Load-Orders!", "load_orders_"), ("2nd run", "letter_2nd_run"), ('a"$b', "ab")],
)
def test_the_uuid_mage_derives_from_a_name(name: str, uuid: str) -> None:
    assert uuid_from_name(name) == uuid


def _block(uuid: str, *upstream: str, content: str | None = None) -> Block:
    return Block(uuid=uuid, type="transformer", language="python", upstream_blocks=list(upstream), content=content)


def test_blocks_come_after_their_upstream_blocks_ties_in_mage_order() -> None:
    blocks = [_block("export", "clean"), _block("clean", "load"), _block("load"), _block("notes")]
    assert [b.uuid for b in execution_order(blocks)] == ["load", "notes", "clean", "export"]


def test_a_cycle_or_a_missing_upstream_drops_no_block() -> None:
    blocks = [_block("a", "b"), _block("b", "a"), _block("c", "gone")]
    assert sorted(b.uuid for b in execution_order(blocks)) == ["a", "b", "c"]


def test_code_is_shown_only_when_asked_and_cut_with_its_full_length() -> None:
    block = _block("load", content="x" * 50)
    assert block_view(block, code_limit=None).code is None
    whole = block_view(block, code_limit=50)
    assert (whole.code, whole.code_truncated, whole.code_chars) == ("x" * 50, False, None)
    cut = block_view(block, code_limit=20)
    assert (cut.code, cut.code_truncated, cut.code_chars) == ("x" * 20, True, 50)


@pytest.mark.parametrize(
    ("kind", "tool"),
    [
        ("pipeline", "list_pipelines"),
        ("trigger", "list_triggers"),
        ("block", "get_pipeline"),
        ("secret", "list_secrets"),
    ],
)
def test_a_not_found_hint_names_the_list_tool_of_its_kind(kind: str, tool: str) -> None:
    error = MageNotFoundError(f"{Subject(kind, 'x')} was not found.", code=404, kind=kind)
    assert f"Hint: {tool}" in describe_upstream(error, "cluster", str.upper)


async def test_an_unknown_trigger_points_to_list_triggers(client: Client, mage: FakeMage) -> None:
    result = await client.call_tool("trigger_pipeline", {"pipeline_uuid": "example_pipeline", "trigger_id": 999})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "Trigger 999 was not found" in text and "Hint: list_triggers" in text
