"""Triggers (Mage's pipeline schedules), and runs started through them (by token or with a session)."""

from __future__ import annotations

import copy
import json
import uuid as uuid_lib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .core import User
from .helpers import (
    REPO_PATH,
    SCHEDULE_CREATE_KEYS,
    SCHEDULE_INTERVAL_PRESETS,
    SCHEDULE_STATUSES,
    SCHEDULE_TYPES,
    SCHEDULE_UPDATE_KEYS,
    ApiError,
    Unhandled,
    bearer_token,
    detail_response,
    mage_str,
    not_served,
    parse_datetime,
    unwrap,
    utc_now,
    whole_seconds,
)
from .runs import RunsRoutes


class TriggersRoutes(RunsRoutes):
    # ----------------------------------------------------------------- test hooks
    def add_trigger(
        self,
        pipeline_uuid: str,
        name: str = "api_trigger",
        schedule_type: str = "api",
        status: str = "inactive",
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a trigger directly in state (as if through the API) and return the stored dict."""
        if pipeline_uuid not in self.pipelines:
            raise KeyError(pipeline_uuid)
        payload = {"name": name, "schedule_type": schedule_type, "status": status, **fields}
        return self._create_schedule(pipeline_uuid, payload)

    def _get_schedule(self, pk: str) -> dict[str, Any]:
        try:
            schedule_id = int(pk)
        except ValueError:
            raise self._not_found() from None
        schedule = self.pipeline_schedules.get(schedule_id)
        if schedule is None:
            raise self._not_found()
        return schedule

    def _orphan_runs_of(self, schedule_id: int) -> None:
        """Mage nulls the runs' `pipeline_schedule_id`: its run lists and run details then skip (or fail on) them."""
        for run_id in [i for i, r in self.pipeline_runs.items() if r["pipeline_schedule_id"] == schedule_id]:
            self.orphaned_runs[run_id] = self.pipeline_runs.pop(run_id) | {"pipeline_schedule_id": None}

    def _schedules_of(self, pipeline_uuid: str | None, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The triggers a list answers, with the `status[]` and `schedule_type[]` filters Mage applies to both
        routes: one pipeline's newest first; the project's in id order, or by `order_by` (`created_at` newest
        first, `name`, `pipeline_uuid`, `status`, `schedule_type` ascending)."""
        items = sorted(self.pipeline_schedules.values(), key=lambda s: int(s["id"]))
        for key, field in (("schedule_type[]", "schedule_type"), ("status[]", "status")):
            if query.get(key):
                wanted = set(query[key].split(","))
                items = [s for s in items if s.get(field) in wanted]
        order = query.get("order_by")
        if pipeline_uuid is not None:
            items = [s for s in items if s["pipeline_uuid"] == pipeline_uuid][::-1]
        elif order == "created_at":
            items = sorted(items, key=lambda s: s["created_at"], reverse=True)
        elif order in ("name", "pipeline_uuid", "status", "schedule_type"):
            items = sorted(items, key=lambda s: str(s.get(order) or ""))
        return [self._schedule_item(s, kind="list") for s in items]

    def _create_schedule(self, pipeline_uuid: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        for key in payload:
            if key not in SCHEDULE_CREATE_KEYS:
                raise Unhandled(f"'{key}' is an invalid keyword argument for PipelineSchedule", "TypeError")
        name = payload.get("name")
        if not name:
            raise ApiError(
                200,
                "Record is invalid.",
                "record_invalid",
                errors={"error": "name cannot be empty.", "metadata": {"key": "name", "value": name}},
            )
        fields = self._validated_schedule_fields(payload)
        now = utc_now()
        schedule: dict[str, Any] = {
            "id": self._next_schedule_id,
            "name": name,
            "description": payload.get("description"),
            "pipeline_uuid": pipeline_uuid,
            "schedule_type": payload.get("schedule_type"),
            "schedule_interval": payload.get("schedule_interval"),
            "start_time": None,
            "status": "inactive",
            "variables": payload.get("variables"),
            "sla": payload.get("sla"),
            "settings": payload.get("settings"),
            "token": uuid_lib.uuid4().hex,
            "last_enabled_at": None,
            "repo_path": REPO_PATH,
            "global_data_product_uuid": payload.get("global_data_product_uuid"),
            "created_at": whole_seconds(now),
            "updated_at": whole_seconds(now),
            "tags": [],
            "event_matchers": list(payload.get("event_matchers") or []),
        }
        schedule.update(fields)
        if schedule["status"] == "active":
            schedule["last_enabled_at"] = now
        self._next_schedule_id += 1
        self.pipeline_schedules[schedule["id"]] = schedule
        return schedule

    def _validated_schedule_fields(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if "schedule_type" in payload:
            value = payload["schedule_type"]
            if value is not None and value not in SCHEDULE_TYPES:
                raise Unhandled(
                    f"'{value}' is not among the defined enum values. Enum name: scheduletype. "
                    f"Possible values: {', '.join(SCHEDULE_TYPES)}",
                    "LookupError",
                )
            fields["schedule_type"] = value
        if "status" in payload:
            value = payload["status"]
            if value not in SCHEDULE_STATUSES:
                raise Unhandled(
                    f"'{value}' is not among the defined enum values. Enum name: schedulestatus. "
                    f"Possible values: {', '.join(SCHEDULE_STATUSES)}",
                    "LookupError",
                )
            fields["status"] = value
        if payload.get("schedule_interval") is not None:
            interval = payload["schedule_interval"]
            if not isinstance(interval, str) or (
                interval not in SCHEDULE_INTERVAL_PRESETS and not _valid_cron(interval)
            ):
                raise Unhandled("Cron expression is invalid.")
            fields["schedule_interval"] = interval
        if payload.get("start_time") is not None:
            # Mage (SQLite) keeps the wall time and drops the zone: 05:00+02:00 is stored as 05:00.
            fields["start_time"] = parse_datetime(_wall_time(payload["start_time"]))
        if "variables" in payload and payload["variables"] is not None and not isinstance(payload["variables"], dict):
            raise Unhandled("variables must be a dict", "TypeError")
        return fields

    def _schedule_item(self, schedule: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "created_at": mage_str(schedule["created_at"]),
            "description": schedule.get("description"),
            "global_data_product_uuid": schedule.get("global_data_product_uuid"),
            "id": schedule["id"],
            "last_enabled_at": mage_str(schedule.get("last_enabled_at")),
            "name": schedule["name"],
            "pipeline_uuid": schedule["pipeline_uuid"],
            "repo_path": schedule.get("repo_path"),
            "schedule_interval": schedule.get("schedule_interval"),
            "schedule_type": schedule.get("schedule_type"),
            "settings": copy.deepcopy(schedule.get("settings")),
            "sla": schedule.get("sla"),
            "start_time": mage_str(schedule.get("start_time")),
            "status": schedule["status"],
            "token": schedule["token"],
            "updated_at": mage_str(schedule["updated_at"]),
            "variables": copy.deepcopy(schedule.get("variables")),
        }
        if kind in ("detail", "list"):
            item["event_matchers"] = copy.deepcopy(schedule.get("event_matchers") or [])
        if kind == "list":
            runs = [r for r in self.pipeline_runs.values() if r["pipeline_schedule_id"] == schedule["id"]]
            last = max(runs, key=lambda r: int(r["id"])) if runs else None
            item["last_pipeline_run_status"] = last["status"] if last else None
        if kind in ("detail", "list"):
            item["next_pipeline_run_date"] = _next_run_date(schedule.get("schedule_interval"))
        if kind == "list":
            runs = [r for r in self.pipeline_runs.values() if r["pipeline_schedule_id"] == schedule["id"]]
            in_progress = [r for r in runs if r["status"] in ("initial", "running")]
            item["pipeline_in_progress_runs_count"] = len(in_progress) or None
            item["pipeline_runs_count"] = len(runs) or None
        if kind in ("detail", "list"):
            item["tags"] = list(schedule.get("tags") or [])
        return item

    # ----------------------------------------------------------------- routes
    def _schedules(
        self, method: str, segments: list[str], query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if len(segments) == 1:
            return self._schedule_collection(method, query, user)
        if len(segments) == 2:
            return self._schedule_member(method, segments[1], body, user)
        if segments[2] == "pipeline_runs" and len(segments) == 3:
            return self._schedule_runs(method, segments[1], query, body, user)
        raise not_served(method, segments)

    def _schedule_collection(self, method: str, query: Mapping[str, str], user: User) -> Response:
        if method == "POST":
            self._authorize("create", user)
            raise Unhandled("'NoneType' object has no attribute 'uuid'", "AttributeError")
        self._authorize("list", user)
        return self._db_list("pipeline_schedules", self._schedules_of(None, query), query)

    def _schedule_member(self, method: str, pk: str, body: Mapping[str, Any], user: User) -> Response:
        schedule = self._get_schedule(pk)
        if method == "GET":
            self._authorize("detail", user)
        elif method == "DELETE":
            self._authorize("delete", user)
            del self.pipeline_schedules[schedule["id"]]
            self._orphan_runs_of(schedule["id"])
        else:
            self._authorize("update", user)
            self._update_schedule(schedule, unwrap(body, "pipeline_schedule"))
        return detail_response("pipeline_schedule", self._schedule_item(schedule, kind="detail"))

    def _schedule_runs(
        self, method: str, pk: str, query: Mapping[str, str], body: Mapping[str, Any], user: User
    ) -> Response:
        if method == "GET":
            self._authorize("list", user)
            try:
                parent = self.pipeline_schedules.get(int(pk))
            except ValueError:
                parent = None
            # A trigger id that does not exist returns ALL runs (Mage quirk).
            runs = [
                r for r in self.pipeline_runs.values() if parent is None or r["pipeline_schedule_id"] == parent["id"]
            ]
            return self._run_list(runs, query, has_parent=parent is not None)
        schedule = self._get_schedule(pk)
        self._authorize("create", user)
        payload = unwrap(body, "pipeline_run")
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            raise Unhandled("'variables' must be a dict", "TypeError")
        execution_date = parse_datetime(payload["execution_date"]) if payload.get("execution_date") else None
        if (
            schedule["status"] == "inactive"
            and schedule.get("schedule_type") == "time"
            and schedule.get("schedule_interval") == "@once"
        ):
            schedule["status"] = "active"
            schedule["last_enabled_at"] = utc_now()
        run = self._create_run(
            schedule, variables, dict(payload.get("event_variables") or {}), execution_date=execution_date
        )
        return detail_response("pipeline_run", self._run_detail(run))

    def _update_schedule(self, schedule: dict[str, Any], payload: Mapping[str, Any]) -> None:
        for key in payload:
            if key not in SCHEDULE_UPDATE_KEYS:
                raise Unhandled(f"'PipelineSchedule' object has no attribute '{key}'", "AttributeError")
        fields = self._validated_schedule_fields(payload)
        if "name" in payload and not payload["name"]:
            raise Unhandled("name cannot be empty.", "ValidationError")  # on update, unlike create: shape 3
        now = utc_now()
        for key in ("name", "description", "variables", "sla", "settings", "event_matchers"):
            if key in payload:
                schedule[key] = copy.deepcopy(payload[key])
        if "tags" in payload:
            schedule["tags"] = list(payload["tags"] or [])
        if fields.get("status") == "active" and schedule["status"] != "active":
            schedule["last_enabled_at"] = now
        schedule.update(fields)
        if payload.get("rotate_token"):
            schedule["token"] = uuid_lib.uuid4().hex
        schedule["updated_at"] = whole_seconds(now)

    async def _api_trigger(self, request: Request, schedule_pk: str, token: str | None) -> Response:
        try:
            schedule_id = int(schedule_pk)
        except ValueError:
            raise Unhandled(f"invalid literal for int() with base 10: '{schedule_pk}'", "ValueError") from None
        schedule = self.pipeline_schedules.get(schedule_id)
        if schedule is None:
            err = {"code": 404, "message": self._not_found_message, "type": "record_not_found"}
            raise Unhandled(str(err), "ApiError")
        if token is None:
            token = bearer_token(request.headers)
        if schedule.get("token") != token:
            raise Unhandled(f"Invalid token for pipeline schedule ID {schedule_pk}.", "UnauthenticatedRequestException")
        raw_body = await request.body()
        parsed: Any = {}
        if raw_body:
            try:
                parsed = json.loads(raw_body)
            except ValueError as err:
                raise Unhandled(str(err), "JSONDecodeError") from err
        if not isinstance(parsed, dict):
            raise Unhandled(f"'{type(parsed).__name__}' object has no attribute 'items'", "AttributeError")
        payload = parsed.get("pipeline_run") or {}
        if not isinstance(payload, dict):
            raise Unhandled(f"'{type(payload).__name__}' object has no attribute 'get'", "AttributeError")
        variables = payload.get("variables") or {}
        if not isinstance(variables, dict):
            raise Unhandled("'variables' must be a dict", "TypeError")
        event_variables = {k: v for k, v in parsed.items() if k != "pipeline_run"}
        self._get_pipeline(schedule["pipeline_uuid"])
        if schedule["status"] != "active":
            # create_and_start_pipeline_run re-activates an inactive trigger
            schedule["status"] = "active"
            schedule["last_enabled_at"] = utc_now()
            schedule["updated_at"] = whole_seconds(utc_now())
        run = self._create_run(schedule, variables, event_variables)
        return JSONResponse({"pipeline_run": self._run_to_dict(run)})  # no "metadata" on this route


def _valid_cron(expr: str) -> bool:
    """Mage's own check (`croniter.is_valid`); it also takes 6 and 7 fields."""
    return bool(croniter.is_valid(expr))


_PRESET_STEPS = {"@hourly": timedelta(hours=1), "@daily": timedelta(days=1), "@weekly": timedelta(weeks=1)}


def _next_run_date(interval: str | None) -> str | None:
    """`PipelineSchedule.next_execution_date()` as Mage presents it (`2026-12-04 03:00:00+00:00`), whatever
    the status; None for API and event triggers, `@once` and `@always_on`."""
    if interval is None or interval in ("@once", "@always_on"):
        return None
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    if interval == "@monthly":
        return str((day.replace(day=1) + timedelta(days=32)).replace(day=1))
    current = {"@hourly": hour, "@daily": day, "@weekly": day - timedelta(days=now.weekday())}.get(interval)
    if current is not None:
        return str(current + _PRESET_STEPS[interval])
    cron = croniter(interval, now)
    previous = cron.get_prev(datetime)
    return str(croniter(interval, previous).get_next(datetime))


def _wall_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).replace(tzinfo=None).isoformat()
    except ValueError:
        return value
