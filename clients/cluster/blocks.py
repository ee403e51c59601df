"""Blocks of a pipeline: read, create, update, delete. Code is written through the route that really writes it.

The block PUT silently ignores `content`. Code goes through `PUT /api/file_contents/{path}` with the
pipeline and block named in the payload: Mage then writes that block's own file (`block.file`) and
nothing else. The other route that writes code, `PUT /api/pipelines/{uuid}?update_content=true`,
also re-orders the pipeline's blocks to the list it is sent (`Pipeline.__update_block_order`), so it
needs the whole list in its current order: a read-then-write that a concurrent edit can turn into a
re-ordering. Every code write is read back; Mage keeps a file's text with `\\r\\n` read back as `\\n`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MageApiError, Subject
from ..models import Block
from .session import ClusterSession, segment

_PIPELINES_PAGE = 200


class BlocksApi(ClusterSession):
    async def get_block(self, pipeline_uuid: str, block_uuid: str) -> Block:
        """The block with its code (`content`)."""
        body = await self.request(
            "GET",
            _block_path(pipeline_uuid, block_uuid),
            params={"include_outputs": "false"},
            what=Subject("pipeline", pipeline_uuid),
        )
        return Block.model_validate(body["block"])

    async def block_file_exists(self, path: str) -> bool:
        """Whether the project holds the block file `path` (relative to the project), in any pipeline or none."""
        body = await self.request("GET", f"/file_contents/{segment(path)}")
        # Mage answers a missing file with an empty one whose size and time are null.
        return (body.get("file_content") or {}).get("size") is not None

    async def pipelines_using_file(self, path: str) -> list[str]:
        """The uuids of the pipelines that have a block whose code is the file `path`."""
        using: list[str] = []
        offset = 0
        while True:
            params = {"_limit": _PIPELINES_PAGE, "_offset": offset}
            body = await self.request("GET", "/pipelines", params=params)
            pipelines = body.get("pipelines") or []
            for pipeline in pipelines:
                blocks = [Block.model_validate(b) for b in pipeline.get("blocks") or []]
                if any(block.file_path == path for block in blocks):
                    using.append(str(pipeline["uuid"]))
            offset += len(pipelines)
            if not pipelines or not (body.get("metadata") or {}).get("next"):
                return using

    async def create_block(
        self,
        pipeline_uuid: str,
        *,
        name: str,
        type: str,
        language: str,
        upstream: Sequence[str],
        code: str | None,
    ) -> Block:
        """A new block; without `code` (or with an empty one) Mage writes its template for the type.

        `require_unique_name` makes Mage refuse a name whose file exists already, instead of
        reusing that file (and, with `code`, overwriting it for every pipeline that uses it).
        """
        payload: dict[str, Any] = {
            "name": name,
            "type": type,
            "language": language,
            "upstream_blocks": list(upstream),
            "require_unique_name": True,
        }
        if code:
            payload["content"] = code
        body = await self.request(
            "POST",
            f"/pipelines/{segment(pipeline_uuid)}/blocks",
            json={"block": payload},
            what=Subject("pipeline", pipeline_uuid),
        )
        return Block.model_validate(body["block"])

    async def update_block(self, pipeline_uuid: str, block_uuid: str, changes: Mapping[str, Any]) -> Block:
        """Change `name` (Mage renames the file; the uuid changes) and `upstream_blocks`; never the code."""
        body = await self.request(
            "PUT",
            _block_path(pipeline_uuid, block_uuid),
            json={"block": dict(changes)},
            what=Subject("pipeline", pipeline_uuid),
        )
        return Block.model_validate(body["block"])

    async def write_block_code(self, pipeline_uuid: str, block: Block, code: str) -> Block:
        """Write the block's file, read the block back, and fail unless Mage now holds exactly `code`."""
        payload = {"pipeline_uuid": pipeline_uuid, "block_uuid": block.uuid, "content": code}
        await self.request(
            "PUT",
            f"/file_contents/{segment(block.file_path)}",
            json={"file_content": payload},
            what=Subject("pipeline", pipeline_uuid),
        )
        return await self.verify_block_code(pipeline_uuid, block.uuid, code)

    async def verify_block_code(self, pipeline_uuid: str, block_uuid: str, code: str) -> Block:
        """The block read back; a `MageApiError` when its code is not exactly `code`."""
        block = await self.get_block(pipeline_uuid, block_uuid)
        if block.content != code:
            raise MageApiError(
                f"Mage did not keep the code written to block {block_uuid!r} of pipeline {pipeline_uuid!r}: "
                f"read back, it is {_difference(block.content or '', code)}. get_block shows what it holds now."
            )
        return block

    async def delete_block(self, pipeline_uuid: str, block_uuid: str) -> Block:
        """Remove the block from the pipeline (Mage keeps its file). Mage refuses while blocks depend on it."""
        body = await self.request(
            "DELETE", _block_path(pipeline_uuid, block_uuid), what=Subject("pipeline", pipeline_uuid)
        )
        return Block.model_validate(body["block"])


def _block_path(pipeline_uuid: str, block_uuid: str) -> str:
    return f"/pipelines/{segment(pipeline_uuid)}/blocks/{segment(block_uuid)}"


def _difference(found: str, wanted: str) -> str:
    """Where two texts part, in words that quote neither."""
    found_lines, wanted_lines = found.splitlines(), wanted.splitlines()
    line = next(
        (n for n, (a, b) in enumerate(zip(found_lines, wanted_lines, strict=False), 1) if a != b),
        min(len(found_lines), len(wanted_lines)) + 1,
    )
    return f"{len(found)} characters instead of {len(wanted)}, first different at line {line}"
