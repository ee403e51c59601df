"""How a block is shown to a model: its place in the graph, and its code cut to a budget."""

from collections.abc import Sequence

from pydantic import BaseModel

from mage_mcp.clients import Block


class BlockView(BaseModel):
    uuid: str
    type: str | None
    language: str | None
    upstream: list[str]
    downstream: list[str]
    code: str | None = None
    code_truncated: bool | None = None
    code_chars: int | None = None
    """The full length of the code when it was cut."""


def block_view(block: Block, *, code_limit: int | None) -> BlockView:
    """`block` as shown; its code only when `code_limit` is given, cut at that many characters."""
    view = BlockView(
        uuid=block.uuid,
        type=block.type,
        language=block.language,
        upstream=block.upstream_blocks,
        downstream=block.downstream_blocks,
    )
    if code_limit is None or block.content is None:
        return view
    code = block.content
    if len(code) <= code_limit:
        return view.model_copy(update={"code": code, "code_truncated": False})
    return view.model_copy(update={"code": code[:code_limit], "code_truncated": True, "code_chars": len(code)})


def execution_order(blocks: Sequence[Block]) -> list[Block]:
    """`blocks` with every block after its upstream blocks (Mage lists them in file order).

    Ties keep Mage's order; a cycle or an upstream outside the list does not drop a block.
    """
    remaining = list(blocks)
    known = {block.uuid for block in blocks}
    placed: set[str] = set()
    ordered: list[Block] = []
    while remaining:
        ready = [b for b in remaining if all(u in placed or u not in known for u in b.upstream_blocks)]
        for block in ready or remaining[:1]:
            ordered.append(block)
            placed.add(block.uuid)
        remaining = [b for b in remaining if b.uuid not in placed]
    return ordered
