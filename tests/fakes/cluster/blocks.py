"""A pipeline's blocks (``/api/pipelines/{uuid}/blocks``) and the block files (``/api/file_contents``).

As Mage 0.9.80 (``BlockResource``, ``Block.create/update/delete``, ``Pipeline.delete_block``,
``FileContentResource``), measured on the real server:

* block files are project-wide (``block_files``, by path relative to the project): a create whose
  file exists fails with ``[ERR_BLOCK_EXISTS]`` (shape 3) when the pipeline has that block or the
  payload says ``require_unique_name``, and otherwise reuses the file, overwriting it for every
  pipeline when ``content`` is sent; without content a new file gets the type's template;
* an unknown block is a 400 ``record_invalid`` "Block x does not exist in pipeline p.";
* the block PUT renames (the file moves, so other pipelines using it lose their code; the new
  uuid must be new to the pipeline and to the project, even a name that keeps the uuid fails),
  sets ``upstream_blocks`` (unknown uuids dropped, a cycle refused, order-only changes ignored)
  and silently ignores ``content``;
* a delete is refused while blocks depend on the block, unless ``force``: then Mage re-links
  them to its upstream blocks, keeping a duplicate when they already had one of them; the file
  stays (markdown and scratchpad files go when no other pipeline uses them);
* ``PUT /api/file_contents/{path}`` writes the file of the block named in the payload (else the
  file at ``path``, created if missing); ``GET`` answers a missing file with an empty one whose
  size and time are null; a file's ``\\r\\n`` reads back as ``\\n``.

Test hook: ``mangle_file_writes`` (what a file write stores instead of what it was sent).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import Response

from .core import FakeCore, User
from .helpers import REPO_PATH, ApiError, Unhandled, clean_name, detail_response, not_served, paginate_plain, unwrap

_FILE_CONTENTS = "/api/file_contents/"
_EXTENSIONS = {"python": "py", "sql": "sql", "r": "r", "yaml": "yaml", "markdown": "md"}
_REMOVED_WITH_LAST_PIPELINE = ("markdown", "scratchpad")
_SEEN = "_file_seen"  # a block whose file the project's files already hold


class BlocksRoutes(FakeCore):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.block_files: dict[str, str] = {}
        """The project's block files by path relative to the project (read them with `block_file`)."""
        self._file_times: dict[str, float] = {}
        self.mangle_file_writes: Callable[[str], str] | None = None

    # ----------------------------------------------------------------- test hooks
    def block_file(self, path: str) -> str | None:
        """The file's text as Mage reads it, or None when the project has no such file."""
        text = self._project_files().get(path)
        return None if text is None else _as_read(text)

    # ----------------------------------------------------------------- routing
    async def _endpoint(self, request: Request) -> Response:
        self._project_files()  # blocks added since the last request bring their files, before anything changes
        path = request.scope["path"]
        if path.startswith(_FILE_CONTENTS):
            # Mage routes `file_contents/(.+)`: a path inside the pk stays one pk.
            request.scope["path"] = _FILE_CONTENTS + quote(path[len(_FILE_CONTENTS) :], safe="")
        return await super()._endpoint(request)

    def _blocks(
        self,
        method: str,
        segments: list[str],
        pipeline: dict[str, Any],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: User,
    ) -> Response:
        if len(segments) == 3:
            if method == "GET":
                self._authorize("list", user)
                return self._list_blocks(pipeline, query)
            self._authorize("create", user)
            created = self._create_block(pipeline, unwrap(body, "block"))
            return detail_response("block", self._block_item(created, with_content=True))
        block = next((b for b in pipeline["blocks"] if b["uuid"] == segments[3]), None)
        if block is None:
            raise ApiError(400, f"Block {segments[3]} does not exist in pipeline {pipeline['uuid']}.", "record_invalid")
        if method == "GET":
            self._authorize("detail", user)
            item = self._block_item(block, with_content=True)
            return detail_response("block", item if query.get("include_outputs") == "false" else item | {"outputs": []})
        if method == "PUT":
            self._authorize("update", user)
            self._update_block(pipeline, block, unwrap(body, "block"))
            return detail_response("block", self._block_item(block, with_content=True))
        self._authorize("delete", user)
        self._delete_block(pipeline, block, force=query.get("force", "false") not in ("", "false"))
        return detail_response("block", self._block_item(block, with_content=False))

    def _list_blocks(self, pipeline: dict[str, Any], query: Mapping[str, str]) -> Response:
        wanted = query.get("block_uuid[]")
        names = set(wanted.split(",")) if wanted else None
        blocks = [b for b in pipeline["blocks"] if names is None or b["uuid"] in names]
        return paginate_plain("blocks", [self._block_item(b, with_content=True) for b in blocks], query)

    # ----------------------------------------------------------------- create, update, delete
    def _create_block(self, pipeline: dict[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
        name = payload.get("name") or payload.get("uuid")
        if not isinstance(name, str):
            raise Unhandled("expected string or bytes-like object, got 'NoneType'", "TypeError")
        block_type, language = str(payload.get("type")), str(payload.get("language") or "python")
        uuid = clean_name(name)
        path = _file_path(block_type, uuid, language)
        files = self._project_files()
        if path in files:
            in_pipeline = any(b["uuid"] == uuid and b["type"] == block_type for b in pipeline["blocks"])
            if in_pipeline or payload.get("require_unique_name"):
                raise Unhandled(f"[ERR_BLOCK_EXISTS] Block {uuid} already exists. Please use a different name.")
        else:
            files[path] = _template(block_type, language)
        known = {b["uuid"]: b for b in pipeline["blocks"]}
        upstream = [u for u in payload.get("upstream_blocks") or [] if u in known]
        block = _new_block(name, uuid, block_type, language, upstream)
        pipeline["blocks"].append(block)
        for parent in upstream:
            known[parent]["downstream_blocks"].append(uuid)
        content = payload.get("content")
        if content:
            block["status"] = "updated"
            self._write_file(path, str(content))
        else:
            block["content"] = _as_read(files[path])
        return block

    def _update_block(self, pipeline: dict[str, Any], block: dict[str, Any], payload: Mapping[str, Any]) -> None:
        """Mage's `Block.update`: a new name, then new upstream blocks; `content` is never read here."""
        if "name" in payload and payload["name"] != block["name"]:
            self._rename_block(pipeline, block, str(payload["name"]))
        upstream = payload.get("upstream_blocks")
        if isinstance(upstream, list) and set(upstream) != set(block["upstream_blocks"]):
            self._set_upstream(pipeline, block, [str(u) for u in upstream])

    def _rename_block(self, pipeline: dict[str, Any], block: dict[str, Any], name: str) -> None:
        new_uuid, old_uuid = clean_name(name), block["uuid"]
        if any(b["uuid"] == new_uuid for b in pipeline["blocks"]):  # the block itself too, as in Mage
            raise Unhandled(f"Block {new_uuid} already exists in pipeline. Please use a different name.")
        files = self._project_files()
        old_path = _block_path(block)
        new_path = _file_path(block["type"], new_uuid, block["language"])
        if new_path in files:
            raise Unhandled(f"Block {new_uuid} already exists at {REPO_PATH}/{new_path}. Please use a different name.")
        files[new_path] = files.pop(old_path, "")
        self._file_times.pop(old_path, None)
        for other in self._blocks_using(old_path):
            other["content"] = ""  # their file moved away: Mage reads an empty block
        block["uuid"], block["name"] = new_uuid, name
        for sibling in pipeline["blocks"]:
            for key in ("upstream_blocks", "downstream_blocks"):
                sibling[key] = [new_uuid if u == old_uuid else u for u in sibling[key]]

    def _set_upstream(self, pipeline: dict[str, Any], block: dict[str, Any], upstream: list[str]) -> None:
        known = {b["uuid"]: b for b in pipeline["blocks"]}
        upstream = [u for u in upstream if u in known]
        below = _descendants(known, block["uuid"]) | {block["uuid"]}
        if looped := next((u for u in upstream if u in below), None):
            raise Unhandled(f"A cycle was formed while updating a block: {block['uuid']} --> {looped}")
        for parent in set(block["upstream_blocks"]) - set(upstream):
            if parent in known:
                known[parent]["downstream_blocks"].remove(block["uuid"])
        for parent in set(upstream) - set(block["upstream_blocks"]):
            known[parent]["downstream_blocks"].append(block["uuid"])
        block["upstream_blocks"] = upstream

    def _delete_block(self, pipeline: dict[str, Any], block: dict[str, Any], *, force: bool) -> None:
        known = {b["uuid"]: b for b in pipeline["blocks"]}
        children = [known[d] for d in block["downstream_blocks"] if d in known]
        if children and not force:
            names = [c["uuid"] for c in children]
            raise Unhandled(
                f"Block(s) {names} are depending on block {block['uuid']}. Please remove the downstream blocks first."
            )
        for child in children:  # Mage's re-link keeps a duplicate when the child had one of the new parents
            relinked = [*(u for u in child["upstream_blocks"] if u != block["uuid"]), *block["upstream_blocks"]]
            for parent in set(relinked) - set(child["upstream_blocks"]):
                known[parent]["downstream_blocks"].append(child["uuid"])
            child["upstream_blocks"] = relinked
        for parent in block["upstream_blocks"]:
            if parent in known and block["uuid"] in known[parent]["downstream_blocks"]:
                known[parent]["downstream_blocks"].remove(block["uuid"])
        pipeline["blocks"].remove(block)
        path = _block_path(block)
        if block["type"] in _REMOVED_WITH_LAST_PIPELINE and not self._blocks_using(path):
            self._project_files().pop(path, None)

    # ----------------------------------------------------------------- file_contents
    def _file_contents(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) != 2 or method not in ("GET", "PUT"):
            raise not_served(method, segments)
        path = unquote(segments[1])
        if method == "GET":
            self._authorize("detail", user)
            return detail_response("file_content", self._file_item(path))
        self._authorize("update", user)
        payload = unwrap(body, "file_content")
        if "pipeline_uuid" in payload and "block_uuid" in payload:
            pipeline = self._get_pipeline(str(payload["pipeline_uuid"]))
            block = next((b for b in pipeline["blocks"] if b["uuid"] == payload["block_uuid"]), None)
            path = _block_path(block) if block is not None else path
        content = payload.get("content")
        if content is None:
            raise ApiError(400, "Please provide a content or version in the request payload.", "record_invalid")
        self._write_file(path, str(content))
        return detail_response("file_content", self._file_item(path))

    def _file_item(self, path: str) -> dict[str, Any]:
        text = self._project_files().get(path)
        return {
            "content": "" if text is None else _as_read(text),
            "modified_timestamp": None if text is None else self._file_times.get(path, 1_700_000_000.0),
            "name": path.rsplit("/", 1)[-1],
            "path": f"{REPO_PATH}/{path}",
            "size": None if text is None else len(text.encode()),
        }

    # ----------------------------------------------------------------- the project's files
    def _project_files(self) -> dict[str, str]:
        """The block files; a block added by `add_pipeline` brings its file (its `content`) the first time."""
        for pipeline in self.pipelines.values():
            for block in pipeline["blocks"]:
                if not block.get(_SEEN):
                    block[_SEEN] = True
                    self.block_files.setdefault(_block_path(block), block.get("content") or "")
        return self.block_files

    def _write_file(self, path: str, content: str) -> None:
        stored = self.mangle_file_writes(content) if self.mangle_file_writes else content
        self._project_files()[path] = stored
        self._file_times[path] = time.time()
        for block in self._blocks_using(path):
            block["content"] = _as_read(stored)

    def _blocks_using(self, path: str) -> list[dict[str, Any]]:
        return [b for p in self.pipelines.values() for b in p["blocks"] if _block_path(b) == path]

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


def _new_block(name: str, uuid: str, block_type: str, language: str, upstream: list[str]) -> dict[str, Any]:
    return {
        "all_upstream_blocks_executed": not upstream,
        "color": None,
        "configuration": {},
        "downstream_blocks": [],
        "executor_config": None,
        "executor_type": "local_python",
        "has_callback": False,
        "name": name,
        "language": language,
        "retry_config": None,
        "status": "not_executed",
        "timeout": None,
        "type": block_type,
        "upstream_blocks": upstream,
        "uuid": uuid,
        "content": "",
        _SEEN: True,
    }


def _descendants(known: Mapping[str, Mapping[str, Any]], uuid: str) -> set[str]:
    found: set[str] = set()
    todo = [uuid]
    while todo:
        for child in known.get(todo.pop(), {}).get("downstream_blocks", []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _file_path(block_type: str, uuid: str, language: str) -> str:
    folder = block_type if block_type == "custom" else f"{block_type}s"
    return f"{folder}/{uuid}.{_EXTENSIONS.get(language, 'py')}"


def _block_path(block: Mapping[str, Any]) -> str:
    return _file_path(str(block["type"]), str(block["uuid"]), str(block.get("language") or "python"))


def _as_read(text: str) -> str:
    """Python reads a file in text mode: `\\r\\n` and `\\r` come back as `\\n`."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _template(block_type: str, language: str) -> str:
    """The code Mage writes into a new block file: a decorated function for Python types, else nothing."""
    if language != "python" or block_type not in ("data_loader", "transformer", "data_exporter", "custom", "sensor"):
        return ""
    return default_block_content(block_type, "load_data" if block_type == "data_loader" else block_type)


def default_block_content(block_type: str, block_uuid: str) -> str:
    known_decorators = ("data_loader", "transformer", "data_exporter", "custom", "sensor")
    decorator = block_type if block_type in known_decorators else "custom"
    return (
        f"if '{decorator}' not in globals():\n"
        f"    from mage_ai.data_preparation.decorators import {decorator}\n\n\n"
        f"@{decorator}\n"
        f"def {block_uuid}(*args, **kwargs):\n"
        "    return {}\n"
    )
