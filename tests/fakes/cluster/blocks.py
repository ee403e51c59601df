"""A pipeline's blocks (``/api/pipelines/{uuid}/blocks``) and the block files (``/api/file_contents``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .core import FakeCore, User
from .helpers import ApiError, detail_response, not_served, paginate_plain


class BlocksRoutes(FakeCore):
    def _blocks(
        self,
        method: str,
        segments: list[str],
        pipeline: dict[str, Any],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: User,
    ) -> Response:
        if method != "GET":
            raise not_served(method, segments)
        self._authorize("list" if len(segments) == 3 else "detail", user)
        if len(segments) == 3:
            wanted = query.get("block_uuid[]")
            names = set(wanted.split(",")) if wanted else None
            blocks = [b for b in pipeline["blocks"] if names is None or b["uuid"] in names]
            items = [self._block_item(b, with_content=True) for b in blocks]
            return paginate_plain("blocks", items, query)
        block = next((b for b in pipeline["blocks"] if b["uuid"] == segments[3]), None)
        if block is None:
            raise ApiError(400, f"Block {segments[3]} does not exist in pipeline {pipeline['uuid']}.", "record_invalid")
        return detail_response("block", {**self._block_item(block, with_content=True), "outputs": []})

    def _file_contents(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        raise not_served(method, segments)

    def _block_item(self, block: Mapping[str, Any], *, with_content: bool) -> dict[str, Any]:
        keys = (
            "all_upstream_blocks_executed",
            "color",
            "configuration",
            "downstream_blocks",
            "executor_config",
            "executor_type",
            "has_callback",
            "name",
            "language",
            "retry_config",
            "status",
            "timeout",
            "type",
            "upstream_blocks",
            "uuid",
        )
        item = {k: copy.deepcopy(block.get(k)) for k in keys}
        if with_content:
            item["content"] = block.get("content")
        return item


def default_block_content(block_type: str, block_uuid: str) -> str:
    known_decorators = ("data_loader", "transformer", "data_exporter", "custom")
    decorator = block_type if block_type in known_decorators else "custom"
    return (
        f"if '{decorator}' not in globals():\n"
        f"    from mage_ai.data_preparation.decorators import {decorator}\n\n\n"
        f"@{decorator}\n"
        f"def {block_uuid}(*args, **kwargs):\n"
        "    return {}\n"
    )
