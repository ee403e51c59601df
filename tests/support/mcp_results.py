"""Reading MCP tool results in tests, and answering confirmation prompts the same way every time."""

from __future__ import annotations

from typing import Any, Literal

from mcp.client import ClientRequestContext
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, TextContent

Action = Literal["accept", "decline", "cancel"]


class Prompts:
    """An elicitation callback that answers every prompt the same way and keeps the messages."""

    def __init__(self, action: Action, content: dict[str, Any] | None = None) -> None:
        self.action = action
        self.content = content
        self.seen: list[str] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.seen.append(params.message)
        return ElicitResult(action=self.action, content=self.content)


def accept() -> Prompts:
    return Prompts("accept", {"confirm": True})


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)
