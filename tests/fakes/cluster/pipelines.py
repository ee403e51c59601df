"""Pipelines: list, read, create, update (a rename moves the triggers and runs), delete (which keeps them);
the ``add_pipeline`` test hook.

A pipeline's children are routed from here: its blocks, variables, triggers, logs and its (crashing) runs list.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from .blocks import BlocksRoutes, _block_path, default_block_content
from .core import User
from .helpers import (
    Unhandled,
    classify,
    detail_response,
    int_meta,
    mage_str,
    unwrap,
)
from .logs import LogsRoutes
from .triggers import TriggersRoutes
from .variables import VariablesRoutes

# Children of a pipeline that Mage has and this fake does not serve.
_UNSERVED_CHILDREN = ("backfills", "pipeline_triggers", "block_outputs")
PIPELINE_TYPES = ("python", "pyspark", "integration", "streaming", "databricks", "execution_framework")
# Settings ``Pipeline.update`` sets as given (and the item shows).
_KEPT_SETTINGS = ("cache_block_output_in_memory", "concurrency_config", "executor_type", "run_pipeline_in_one_process")
_DROPPED = str.maketrans("", "", '\ufeff"$\n\r\t')


def mage_clean_name(name: str) -> str:
    """Mage's ``clean_name`` as pipelines use it: some characters dropped, other non-word ones ``_``,
    ``letter_`` before a leading digit, lower case (no stripping)."""
    uuid = re.sub(r"\W", "_", name.translate(_DROPPED))
    return (f"letter_{uuid}" if uuid[:1].isdigit() else uuid).lower()


class PipelinesRoutes(TriggersRoutes, LogsRoutes, BlocksRoutes, VariablesRoutes):
    # ----------------------------------------------------------------- test hooks
    def add_pipeline(
        self,
        uuid: str,
        name: str | None = None,
        type: str = "python",
        blocks: Sequence[str | Mapping[str, Any]] | None = None,
        *,
        description: str | None = None,
        tags: Iterable[str] = (),
        created_at: str | None = "now",
    ) -> dict[str, Any]:
        """Add (or replace) a pipeline. Blocks are uuids or dicts (``uuid`` plus any block field).

        Unless a block gives ``upstream_blocks``, blocks form a linear chain in list order. Types
        default to data_loader / transformer / data_exporter by position.
        """
        now = datetime.now(UTC)
        created = None if created_at is None else (str(now) if created_at == "now" else created_at)
        specs: list[dict[str, Any]] = [{"uuid": b} if isinstance(b, str) else dict(b) for b in (blocks or [])]
        built: list[dict[str, Any]] = []
        for index, spec in enumerate(specs):
            if "uuid" not in spec:
                raise ValueError(f"block spec without uuid: {spec!r}")
            if index == 0:
                default_type = "data_loader"
            elif index == len(specs) - 1:
                default_type = "data_exporter"
            else:
                default_type = "transformer"
            upstream = spec.get("upstream_blocks")
            if upstream is None:
                upstream = [specs[index - 1]["uuid"]] if index > 0 else []
            block_type = spec.get("type", default_type)
            block: dict[str, Any] = {
                "all_upstream_blocks_executed": not upstream,
                "color": None,
                "configuration": {},
                "downstream_blocks": [],
                "executor_config": None,
                "executor_type": "local_python",
                "has_callback": False,
                "name": spec.get("name", spec["uuid"]),
                "language": spec.get("language", "python"),
                "retry_config": None,
                "status": "not_executed",
                "timeout": None,
                "type": block_type,
                "upstream_blocks": list(upstream),
                "uuid": spec["uuid"],
                "content": spec.get("content", default_block_content(block_type, spec["uuid"])),
            }
            for key, value in spec.items():
                if key not in ("uuid", "upstream_blocks"):
                    block[key] = value
            built.append(block)
        by_uuid = {b["uuid"]: b for b in built}
        for b in built:
            for up in b["upstream_blocks"]:
                if up in by_uuid and b["uuid"] not in by_uuid[up]["downstream_blocks"]:
                    by_uuid[up]["downstream_blocks"].append(b["uuid"])
        pipeline: dict[str, Any] = {
            "uuid": uuid,
            "name": name if name is not None else uuid,
            "type": type,
            "description": description,
            "tags": list(tags),
            "created_at": created,
            "updated_at": now.isoformat(),
            "blocks": built,
            "variables": None,
        }
        self.pipelines[uuid] = pipeline
        return pipeline

    def _seed_example_pipeline(self) -> None:
        pipeline = self.add_pipeline(
            "example_pipeline",
            blocks=[
                {"uuid": "load_titanic", "type": "data_loader"},
                {"uuid": "fill_in_missing_values", "type": "transformer"},
                {"uuid": "export_titanic_clean", "type": "data_exporter"},
            ],
            created_at=None,  # a new project's example pipeline has created_at null
        )
        for block in pipeline["blocks"]:
            block["has_callback"] = None
            block["status"] = None

    # ----------------------------------------------------------------- routes
    def _pipelines(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) == 1:
            return self._pipeline_collection(method, query, body, user)
        pipeline = self._get_pipeline(segments[1])
        if len(segments) == 2:
            return self._pipeline_member(method, pipeline, query, body, user)
        return self._pipeline_child(method, segments, pipeline, query, body, user)

    def _pipeline_collection(
        self, method: str, query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if method == "GET":
            self._authorize("list", user)
            return self._list_pipelines(query)
        self._authorize("create", user)
        payload = unwrap(body, "pipeline")
        name = payload.get("name")
        if not name or not isinstance(name, str):
            raise Unhandled("'NoneType' object has no attribute 'strip'", "AttributeError")
        new_uuid = mage_clean_name(name)
        if new_uuid in self.pipelines:
            raise Unhandled(f"Pipeline {name} already exists.")
        pipeline = self.add_pipeline(
            new_uuid,
            name=name,
            type=str(payload.get("type") or "python"),
            description=payload.get("description"),
            tags=payload.get("tags") or [],
        )
        return detail_response("pipeline", self._pipeline_item(pipeline, detail=True, query=query))

    def _pipeline_member(
        self, method: str, pipeline: dict[str, Any], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if method == "GET":
            self._authorize("detail", user)
            return detail_response("pipeline", self._pipeline_item(pipeline, detail=True, query=query))
        if method == "DELETE":
            # Mage removes the folder only: the triggers, runs and block files stay.
            self._authorize("delete", user)
            del self.pipelines[pipeline["uuid"]]
            return detail_response("pipeline", self._pipeline_item(pipeline, detail=False, query=query))
        self._authorize("update", user)
        self._update_pipeline(pipeline, unwrap(body, "pipeline"), update_content=query.get("update_content") == "true")
        return detail_response("pipeline", self._pipeline_item(pipeline, detail=False, query=query))

    def _update_pipeline(self, pipeline: dict[str, Any], payload: Mapping[str, Any], *, update_content: bool) -> None:
        """``Pipeline.update`` and the resource's status actions, for the keys this fake keeps."""
        if "name" in payload and pipeline.get("name") and payload["name"] != pipeline["name"]:
            self._rename_pipeline(pipeline, payload["name"])
        if "tags" in payload and sorted(payload["tags"] or []) != sorted(pipeline.get("tags") or []):
            pipeline["tags"] = list(payload["tags"] or [])
        if "type" in payload and payload["type"] not in PIPELINE_TYPES:
            raise Unhandled(f"{payload['type']!r}", "KeyError")  # PIPELINE_TO_KERNEL_NAME[type]
        for key in ("description", "type", *_KEPT_SETTINGS):
            if key in payload:
                pipeline[key] = copy.deepcopy(payload[key])
        if payload.get("blocks"):
            self._reorder_blocks(pipeline, [b["uuid"] for b in payload["blocks"] if b and "uuid" in b])
            if update_content:  # the block's file: every pipeline using it reads the new code
                by_uuid = {b["uuid"]: b for b in pipeline["blocks"]}
                for data in payload["blocks"]:
                    if data and data.get("uuid") in by_uuid and "content" in data:
                        self._write_file(_block_path(by_uuid[data["uuid"]]), str(data["content"]))
        pipeline["updated_at"] = datetime.now(UTC).isoformat()
        self._pipeline_status_action(pipeline["uuid"], payload.get("status"))

    def _rename_pipeline(self, pipeline: dict[str, Any], name: Any) -> None:
        """A new name is a new uuid: the folder moves, and Mage moves the triggers and runs to the new uuid."""
        if not isinstance(name, str) or not name:
            raise Unhandled("[Errno 2] No such file or directory", "FileNotFoundError")
        old_uuid, new_uuid = pipeline["uuid"], mage_clean_name(name)
        if new_uuid in self.pipelines:  # its own uuid too: a rename that keeps the uuid fails
            raise Unhandled(f"Pipeline {new_uuid} already exists. Choose a different name.")
        del self.pipelines[old_uuid]
        pipeline.update(name=name, uuid=new_uuid)
        self.pipelines[new_uuid] = pipeline
        for row in (*self.pipeline_schedules.values(), *self.pipeline_runs.values()):
            if row["pipeline_uuid"] == old_uuid:
                row["pipeline_uuid"] = new_uuid

    def _reorder_blocks(self, pipeline: dict[str, Any], order: list[str]) -> None:
        """``__update_block_order``: when the order differs, only the listed blocks stay, in that order."""
        current = [b["uuid"] for b in pipeline["blocks"]]
        common = min(len(order), len(current))
        if common == 0 or order[:common] == current[:common]:
            return
        by_uuid = {b["uuid"]: b for b in pipeline["blocks"]}
        pipeline["blocks"] = [by_uuid[uuid] for uuid in order if uuid in by_uuid]

    def _pipeline_status_action(self, pipeline_uuid: str, status: Any) -> None:
        if status in ("active", "inactive"):
            for schedule in self.pipeline_schedules.values():
                if schedule["pipeline_uuid"] == pipeline_uuid:
                    schedule["status"] = status
        elif status == "cancelled":
            for run in self.pipeline_runs.values():
                if run["pipeline_uuid"] == pipeline_uuid:
                    self._cancel(run)

    def _pipeline_child(
        self,
        method: str,
        segments: list[str],
        pipeline: dict[str, Any],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: User,
    ) -> Response:
        child, n = segments[2], len(segments)
        if child == "pipeline_schedules" and n == 3:
            return self._pipeline_schedules(method, pipeline, query, body, user)
        if child == "pipeline_runs":
            raise Unhandled("'Pipeline' object has no attribute 'id'", "AttributeError")
        if child == "logs" and n == 3 and method == "GET":
            self._authorize("list", user)
            return self._pipeline_logs(pipeline, query)
        if child == "blocks":
            return self._blocks(method, segments, pipeline, query, body, user)
        if child == "variables":
            return self._variables(method, segments, pipeline, query, body, user)
        if child in (*_UNSERVED_CHILDREN, "logs"):
            raise Unhandled(f"FakeMage does not serve {method} /api/pipelines/{{uuid}}/{child}", "NotImplementedError")
        raise Unhandled(f"No module named 'mage_ai.api.policies.{classify(child)}Policy'", "ModuleNotFoundError")

    def _pipeline_schedules(
        self, method: str, pipeline: dict[str, Any], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if method == "GET":
            self._authorize("list", user)
            return self._db_list("pipeline_schedules", self._schedules_of(pipeline["uuid"], query), query)
        self._authorize("create", user)
        schedule = self._create_schedule(pipeline["uuid"], unwrap(body, "pipeline_schedule"))
        return detail_response("pipeline_schedule", self._schedule_item(schedule, kind="create"))

    def _list_pipelines(self, query: Mapping[str, str]) -> Response:
        items = sorted(self.pipelines.values(), key=lambda p: str(p["uuid"]))
        search = query.get("search")
        if search:
            items = [p for p in items if search.lower() in str(p["uuid"]).lower()]
        types = query.get("type[]")
        if types:
            wanted = set(types.split(","))
            items = [p for p in items if p["type"] in wanted]
        tags = query.get("tag[]")
        if tags:
            wanted_tags = set(tags.split(","))
            items = [p for p in items if wanted_tags & set(p.get("tags") or [])]
        order = query.get("_order_by[]")
        if order:
            key = order.lstrip("-")
            items = sorted(items, key=lambda p: str(p.get(key) or ""), reverse=order.startswith("-"))
        include_schedules = query.get("include_schedules") not in (None, "", "0", "false")
        count = len(items)
        offset = int_meta(query, "_offset", 0)
        limit_text = query.get("_limit")
        if limit_text is None:
            page = items[offset:]
            has_next: bool | None = None
        else:
            limit = int_meta(query, "_limit", 0)
            page = items[offset : offset + limit]
            has_next = offset + limit < count
        presented = []
        for p in page:
            item = self._pipeline_item(p, detail=False, query=query)
            if include_schedules:
                item["schedules"] = [
                    {
                        "id": s["id"],
                        "name": s["name"],
                        "pipeline_uuid": s["pipeline_uuid"],
                        "schedule_interval": s["schedule_interval"],
                        "schedule_type": s["schedule_type"],
                        "start_time": mage_str(s["start_time"]),
                        "status": s["status"],
                        "created_at": mage_str(s["created_at"]),
                        "updated_at": mage_str(s["updated_at"]),
                    }
                    for s in self.pipeline_schedules.values()
                    if s["pipeline_uuid"] == p["uuid"]
                ]
            presented.append(item)
        return JSONResponse(
            {"pipelines": presented, "metadata": {"count": count, "results": len(page), "next": has_next}}
        )

    def _pipeline_item(self, pipeline: Mapping[str, Any], *, detail: bool, query: Mapping[str, str]) -> dict[str, Any]:
        item: dict[str, Any] = {
            "cache_block_output_in_memory": pipeline.get("cache_block_output_in_memory", False),
            "concurrency_config": copy.deepcopy(pipeline.get("concurrency_config") or {}),
            "created_at": pipeline.get("created_at"),
            "data_integration": None,
            "description": pipeline.get("description"),
            "executor_config": {},
            "executor_count": 1,
            "executor_type": pipeline.get("executor_type"),
            "name": pipeline["name"],
            "notification_config": {},
            "remote_variables_dir": None,
            "retry_config": {},
            "run_pipeline_in_one_process": pipeline.get("run_pipeline_in_one_process", False),
            "settings": {"triggers": None},
            "tags": list(pipeline.get("tags") or []),
            "type": pipeline["type"],
            "uuid": pipeline["uuid"],
            "variables_dir": "/home/src/mage_data/fake_project",
            "spark_config": {},
        }
        if pipeline.get("variables"):
            item["variables"] = copy.deepcopy(pipeline["variables"])
        include_content = query.get("includes_content", "true") != "false"
        include_outputs = query.get("includes_outputs", "true") != "false"
        blocks = []
        for block in pipeline["blocks"]:
            b = self._block_item(block, with_content=False)
            if detail:
                b["callback_blocks"] = []
                b["conditional_blocks"] = []
                if include_content:
                    b["content"] = block.get("content")
                if include_outputs:
                    b["outputs"] = []
                b["metadata"] = {}
                b["tags"] = []
            blocks.append(b)
        item["blocks"] = blocks
        item["callbacks"] = []
        item["conditionals"] = []
        item["widgets"] = []
        if detail:
            item["extensions"] = {}
        item["updated_at"] = pipeline.get("updated_at")
        return item
