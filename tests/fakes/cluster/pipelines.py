"""Pipelines: list, read, create, delete; the ``add_pipeline`` test hook.

A pipeline's children are routed from here: its blocks, variables, triggers, logs and its (crashing) runs list.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from .blocks import BlocksRoutes, default_block_content
from .core import User
from .helpers import (
    Unhandled,
    classify,
    clean_name,
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
            return self._pipeline_member(method, pipeline, query, user)
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
        new_uuid = clean_name(name)
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

    def _pipeline_member(self, method: str, pipeline: dict[str, Any], query: Mapping[str, str], user: User) -> Response:
        if method == "GET":
            self._authorize("detail", user)
            return detail_response("pipeline", self._pipeline_item(pipeline, detail=True, query=query))
        if method == "DELETE":
            self._authorize("delete", user)
            del self.pipelines[pipeline["uuid"]]
            return detail_response("pipeline", self._pipeline_item(pipeline, detail=False, query=query))
        raise Unhandled(f"FakeMage does not serve {method} /api/pipelines/{{uuid}}", "NotImplementedError")

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
            items = [
                self._schedule_item(s, kind="list")
                for s in sorted(self.pipeline_schedules.values(), key=lambda s: -int(s["id"]))
                if s["pipeline_uuid"] == pipeline["uuid"]
            ]
            return self._db_list("pipeline_schedules", items, query)
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
            "cache_block_output_in_memory": False,
            "concurrency_config": {},
            "created_at": pipeline.get("created_at"),
            "data_integration": None,
            "description": pipeline.get("description"),
            "executor_config": {},
            "executor_count": 1,
            "executor_type": None,
            "name": pipeline["name"],
            "notification_config": {},
            "remote_variables_dir": None,
            "retry_config": {},
            "run_pipeline_in_one_process": False,
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
