"""Pipeline runs and their block runs: list, read, cancel, retry, delete; the run test hooks."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from starlette.responses import JSONResponse, Response

from . import runs_listing
from .core import User
from .helpers import (
    REPO_PATH,
    RUN_STATUSES,
    Unhandled,
    detail_response,
    mage_iso,
    mage_str,
    not_served,
    unwrap,
    utc_now,
    whole_seconds,
)
from .outputs import OutputsRoutes


class RunsRoutes(OutputsRoutes):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.orphaned_runs: dict[int, dict[str, Any]] = {}
        """Runs of deleted triggers: still in Mage's database; the lists skip them, a detail fails, a delete works."""

    # ----------------------------------------------------------------- test hooks
    def trigger_run(self, schedule_id: int, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Create a run on a trigger directly in state (status ``initial``); returns the stored run."""
        schedule = self.pipeline_schedules[schedule_id]
        return self._create_run(schedule, dict(variables or {}), {})

    def add_runs(
        self,
        schedule_id: int,
        count: int,
        *,
        status: str = "completed",
        first_created_at: datetime | None = None,
        spacing: timedelta = timedelta(seconds=1),
    ) -> list[dict[str, Any]]:
        """``count`` runs on a trigger at once (5,000 in well under a second), ``spacing`` apart in
        ``created_at`` and execution date, ending now unless ``first_created_at`` says when they start."""
        schedule = self.pipeline_schedules[schedule_id]
        start = first_created_at or utc_now() - spacing * count
        runs = []
        for index in range(count):
            moment = start + spacing * index
            run = self._create_run(schedule, {}, {}, execution_date=moment)
            run["created_at"] = run["updated_at"] = whole_seconds(moment)
            if status != "initial":
                self.complete_run(int(run["id"]), status)
            runs.append(run)
        return runs

    def complete_run(self, run_id: int, status: str = "completed") -> dict[str, Any]:
        """Move a run (and its block runs) to ``status``: completed, failed, cancelled or running."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        run = self.pipeline_runs[run_id]
        now = utc_now()
        if run["started_at"] is None and status != "initial":
            run["started_at"] = now
        run["status"] = status
        run["updated_at"] = whole_seconds(now)
        if status == "completed":
            run["completed_at"] = now
            for br in run["block_runs"]:
                br["started_at"] = br["started_at"] or now
                br["completed_at"] = br["completed_at"] or now
                br["status"] = "completed"
                br["metrics"] = br["metrics"] or {}
                br["updated_at"] = whole_seconds(now)
        elif status == "failed":
            run["completed_at"] = None  # Mage leaves completed_at null on failed runs
            failed_one = False
            for br in run["block_runs"]:
                if br["status"] == "completed":
                    continue
                br["started_at"] = br["started_at"] or now
                br["status"] = "upstream_failed" if failed_one else "failed"
                br["updated_at"] = whole_seconds(now)
                failed_one = True
        elif status == "cancelled":
            for br in run["block_runs"]:
                if br["status"] not in ("completed", "failed"):
                    br["status"] = "cancelled"
                    br["updated_at"] = whole_seconds(now)
        elif status == "running":
            run["completed_at"] = None
        return run

    def _create_run(
        self,
        schedule: Mapping[str, Any],
        variables: Mapping[str, Any],
        event_variables: Mapping[str, Any],
        *,
        execution_date: datetime | None = None,
    ) -> dict[str, Any]:
        now = utc_now()
        execution = execution_date or now
        run_id = self._next_run_id
        self._next_run_id += 1
        partition = f"{schedule['id']}/{execution.strftime('%Y%m%dT%H%M%S_%f')}"
        pipeline = self.pipelines.get(schedule["pipeline_uuid"])
        block_runs = []
        for block in pipeline["blocks"] if pipeline else []:
            block_runs.append(
                {
                    "id": self._next_block_run_id,
                    "pipeline_run_id": run_id,
                    "block_uuid": block["uuid"],
                    "status": "initial",
                    "started_at": None,
                    "completed_at": None,
                    "metrics": None,
                    "created_at": whole_seconds(now),
                    "updated_at": whole_seconds(now),
                }
            )
            self._next_block_run_id += 1
        run: dict[str, Any] = {
            "id": run_id,
            "pipeline_schedule_id": schedule["id"],
            "pipeline_uuid": schedule["pipeline_uuid"],
            "execution_date": execution,
            "status": "initial",
            "started_at": None,
            "completed_at": None,
            "variables": {**copy.deepcopy(dict(variables)), "execution_partition": partition},
            "passed_sla": False,
            "event_variables": copy.deepcopy(dict(event_variables)),
            "metrics": None,
            "backfill_id": None,
            "executor_type": "local_python",
            "created_at": whole_seconds(now),
            "updated_at": whole_seconds(now),
            "block_runs": block_runs,
        }
        self.pipeline_runs[run_id] = run
        return run

    def _get_run(self, pk: str) -> dict[str, Any]:
        try:
            run_id = int(pk)
        except ValueError:
            raise self._not_found() from None
        run = self.pipeline_runs.get(run_id)
        if run is None:
            raise self._not_found()
        return run

    def _run_to_dict(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """``PipelineRun.to_dict()``, as the API-trigger route writes it."""
        return {
            "pipeline_schedule_id": run["pipeline_schedule_id"],
            "pipeline_uuid": run["pipeline_uuid"],
            "execution_date": mage_str(run["execution_date"]),
            "status": run["status"],
            "started_at": mage_str(run["started_at"]),
            "completed_at": mage_str(run["completed_at"]),
            "variables": copy.deepcopy(run["variables"]),
            "passed_sla": run["passed_sla"],
            "event_variables": copy.deepcopy(run["event_variables"]),
            "metrics": copy.deepcopy(run["metrics"]),
            "backfill_id": run["backfill_id"],
            "executor_type": run["executor_type"],
            "id": run["id"],
            "created_at": mage_str(run["created_at"]),
            "updated_at": mage_str(run["updated_at"]),
        }

    def _block_run_item(
        self, br: Mapping[str, Any], run: Mapping[str, Any], *, with_schedule: bool, iso: bool = True
    ) -> dict[str, Any]:
        fmt = mage_iso if iso else mage_str
        schedule = self.pipeline_schedules.get(int(run["pipeline_schedule_id"])) if with_schedule else None
        return {
            "block_uuid": br["block_uuid"],
            "completed_at": fmt(br["completed_at"]),
            "created_at": fmt(br["created_at"]),
            "id": br["id"],
            "pipeline_run_id": br["pipeline_run_id"],
            "started_at": fmt(br["started_at"]),
            "status": br["status"],
            "updated_at": fmt(br["updated_at"]),
            "pipeline_schedule_id": run["pipeline_schedule_id"] if with_schedule else None,
            "pipeline_schedule_name": schedule["name"] if schedule else None,
        }

    def _run_detail(self, run: Mapping[str, Any]) -> dict[str, Any]:
        schedule = self.pipeline_schedules.get(int(run["pipeline_schedule_id"]))
        item = self._run_to_dict(run)
        item["block_runs"] = [
            {
                **_embedded_block_run(br),
                "pipeline_schedule_id": run["pipeline_schedule_id"],
                "pipeline_schedule_name": schedule["name"] if schedule else None,
            }
            for br in run["block_runs"]
        ]
        return item

    def _run_list_item(self, run: Mapping[str, Any]) -> dict[str, Any]:
        schedule = self.pipeline_schedules.get(int(run["pipeline_schedule_id"]))
        pipeline = self.pipelines.get(str(run["pipeline_uuid"]))
        item = self._run_to_dict(run)
        item["block_runs"] = [_embedded_block_run(br) for br in run["block_runs"]]
        item["block_runs_count"] = len(run["block_runs"])
        item["completed_block_runs_count"] = sum(1 for br in run["block_runs"] if br["status"] == "completed")
        item["pipeline_schedule_name"] = schedule["name"] if schedule else None
        item["pipeline_schedule_token"] = schedule["token"] if schedule else None
        item["pipeline_schedule_type"] = schedule.get("schedule_type") if schedule else None
        item["pipeline_tags"] = (pipeline.get("tags") or None) if pipeline else None
        item["pipeline_type"] = None
        item["repo_path"] = REPO_PATH
        return item

    def _run_list(self, runs: list[dict[str, Any]], query: Mapping[str, str], *, has_parent: bool = False) -> Response:
        """A list of runs: filtered, ordered and paged as Mage does (see `runs_listing`)."""
        chosen = runs_listing.ordered(runs_listing.filtered(runs, query), query.get("order_by[]"))
        grouped = has_parent or bool(query.get("pipeline_uuid"))
        shown, has_next = runs_listing.page(chosen, query, grouped=grouped)
        return JSONResponse(
            {
                "pipeline_runs": [self._run_list_item(r) for r in shown],
                "metadata": {"count": len(chosen), "next": has_next},
            }
        )

    # ----------------------------------------------------------------- routes
    def _runs(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        n = len(segments)
        if n == 1:
            if method == "POST":
                self._authorize("create", user)
                raise Unhandled("FakeMage does not serve POST /api/pipeline_runs", "NotImplementedError")
            self._authorize("list", user)
            return self._run_list(list(self.pipeline_runs.values()), query)
        if n == 2 and (orphan := self._orphaned(segments[1])) is not None:
            return self._orphan_member(method, orphan, user)
        run = self._get_run(segments[1])
        if n == 2:
            return self._run_member(method, run, body, user)
        if segments[2] == "block_runs" and n == 3 and method == "GET":
            self._authorize("list", user)
            items = [self._block_run_item(br, run, with_schedule=False) for br in run["block_runs"]]
            return self._db_list("block_runs", items, query)
        raise not_served(method, segments)

    def _orphaned(self, pk: str) -> dict[str, Any] | None:
        return self.orphaned_runs.get(int(pk)) if pk.isdigit() else None

    def _orphan_member(self, method: str, run: dict[str, Any], user: User) -> Response:
        """Mage's presenter reads the run's trigger, which is gone: only a delete gets through."""
        self._authorize("delete" if method == "DELETE" else "detail", user)
        if method != "DELETE":
            raise Unhandled("'NoneType' object has no attribute 'id'", "AttributeError")
        del self.orphaned_runs[int(run["id"])]
        return detail_response("pipeline_run", self._run_to_dict(run))

    def _run_member(self, method: str, run: dict[str, Any], body: Mapping[str, Any], user: User) -> Response:
        if method == "GET":
            self._authorize("detail", user)
            if self.auto_complete and run["status"] in ("initial", "running"):
                self.complete_run(int(run["id"]))
            return detail_response("pipeline_run", self._run_detail(run))
        if method == "DELETE":
            self._authorize("delete", user)
            del self.pipeline_runs[int(run["id"])]
        else:
            self._authorize("update", user)
            payload = unwrap(body, "pipeline_run")
            if payload.get("pipeline_run_action") == "retry_blocks":
                self._retry(run, payload.get("from_block_uuid"))
            elif payload.get("status") == "cancelled":
                self._cancel(run)
            # any other status is silently ignored (HTTP 200, unchanged)
        return detail_response("pipeline_run", self._run_to_dict(run))  # no block runs on a change

    def _cancel(self, run: dict[str, Any]) -> None:
        """``stop_pipeline_run``: only an initial or running run; its unfinished block runs with it."""
        if run["status"] not in ("initial", "running"):
            return
        now = utc_now()
        run["status"] = "cancelled"
        run["updated_at"] = whole_seconds(now)
        for br in run["block_runs"]:
            if br["status"] in ("initial", "queued", "running"):
                br["status"] = "cancelled"
                br["updated_at"] = whole_seconds(now)

    def _retry(self, run: dict[str, Any], from_block_uuid: Any) -> None:
        """``retry_blocks``: the block and all its downstream blocks, else a not completed run's
        unfinished blocks, go back to initial; the run is marked running in every case."""
        if from_block_uuid is not None:
            chosen = self._block_and_downstream(str(run["pipeline_uuid"]), str(from_block_uuid))
            retried = [br for br in run["block_runs"] if br["block_uuid"] in chosen]
        elif run["status"] != "completed":
            retried = [br for br in run["block_runs"] if br["status"] != "completed"]
        else:
            retried = []
        for br in retried:
            br.update(status="initial", started_at=None, completed_at=None)
        run.update(status="running", completed_at=None, updated_at=whole_seconds(utc_now()))

    def _block_and_downstream(self, pipeline_uuid: str, block_uuid: str) -> set[str]:
        """The block and its descendants; empty when the pipeline has no such block."""
        blocks = {b["uuid"]: b for b in (self.pipelines.get(pipeline_uuid) or {"blocks": []})["blocks"]}
        if block_uuid not in blocks:
            return set()
        chosen, todo = {block_uuid}, [block_uuid]
        while todo:
            for child in blocks[todo.pop()]["downstream_blocks"]:
                if child in blocks and child not in chosen:
                    chosen.add(child)
                    todo.append(child)
        return chosen

    def _block_runs(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) == 3 and segments[2] == "outputs" and method == "GET":
            return self._block_run_outputs(segments[1], user)
        if len(segments) != 1 or method != "GET":
            raise not_served(method, segments)
        self._authorize("list", user)
        runs = list(self.pipeline_runs.values())
        if query.get("pipeline_run_id"):
            runs = [r for r in runs if str(r["id"]) == query["pipeline_run_id"]]
        if query.get("pipeline_uuid"):
            runs = [r for r in runs if r["pipeline_uuid"] == query["pipeline_uuid"]]
        items = [self._block_run_item(br, run, with_schedule=True) for run in runs for br in run["block_runs"]]
        return self._db_list("block_runs", items, query)



def _embedded_block_run(br: Mapping[str, Any]) -> dict[str, Any]:
    """A block run as a run's detail and its list item embed it (Mage's run presenter)."""
    return {
        "pipeline_run_id": br["pipeline_run_id"],
        "block_uuid": br["block_uuid"],
        "status": br["status"],
        "started_at": mage_str(br["started_at"]),
        "completed_at": mage_str(br["completed_at"]),
        "metrics": copy.deepcopy(br["metrics"]),
        "id": br["id"],
        "created_at": mage_str(br["created_at"]),
        "updated_at": mage_str(br["updated_at"]),
    }
