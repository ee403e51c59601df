"""``GET /api/pipeline_runs``'s filters, order and pages, as Mage 0.9.80's ``PipelineRunResource`` has them.

* ``start_timestamp`` / ``end_timestamp`` (unix seconds) bound ``created_at``. Mage's default SQLite
  compares them as text, a stored ``09:02:58`` against ``09:02:58.000000``: so a run created in the
  very second of ``start_timestamp`` is *not* after it, and one created in the second of
  ``end_timestamp`` is before it (measured on a real 0.9.80);
* ``order_by[]`` is ``column [asc|desc]`` items, comma-separated (``asc`` when omitted; NULLs first
  ascending, as SQLite sorts them); the default is ``execution_date desc, id desc``;
* pages hold ``_limit`` runs (40 by default) from ``_offset``; unless ``disable_retries_grouping`` is
  sent, a page of one pipeline's (or one trigger's) runs is reshaped so that runs sharing an
  execution date arrive together, and its length then differs from ``_limit``; such a page past
  the last run is Mage's unhandled ``list index out of range`` (all measured on a real 0.9.80).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .helpers import DEFAULT_LIMIT, Unhandled, int_meta, query_timestamps

RUN_COLUMNS = frozenset(
    {
        "id",
        "pipeline_schedule_id",
        "pipeline_uuid",
        "execution_date",
        "status",
        "started_at",
        "completed_at",
        "created_at",
        "updated_at",
        "passed_sla",
        "backfill_id",
        "executor_type",
    }
)


def filtered(runs: list[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
    if query.get("pipeline_uuid"):
        runs = [r for r in runs if r["pipeline_uuid"] == query["pipeline_uuid"]]
    if query.get("pipeline_uuid[]"):
        wanted = set(query["pipeline_uuid[]"].split(","))
        runs = [r for r in runs if r["pipeline_uuid"] in wanted]
    if query.get("status"):
        runs = [r for r in runs if r["status"] == query["status"]]
    if query.get("status[]"):
        statuses = set(query["status[]"].split(","))
        runs = [r for r in runs if r["status"] in statuses]
    if query.get("pipeline_schedule_id"):
        runs = [r for r in runs if str(r["pipeline_schedule_id"]) == query["pipeline_schedule_id"]]
    start, end = query_timestamps(query)
    if start is not None:
        runs = [r for r in runs if r["created_at"] > start]  # SQLite text comparison, see above
    if end is not None:
        runs = [r for r in runs if r["created_at"] <= end]
    return runs


def ordered(runs: list[dict[str, Any]], order_by: str | None) -> list[dict[str, Any]]:
    """Sorted by ``order_by[]`` (stable sorts from the last key to the first)."""
    default = [["execution_date", "desc"], ["id", "desc"]]
    keys = [part.strip().split(" ") for part in order_by.split(",")] if order_by else default
    for key in reversed(keys):
        column, direction = key[0], (key[1].lower() if len(key) > 1 else "asc")
        if column not in RUN_COLUMNS:
            raise Unhandled(f"type object 'PipelineRun' has no attribute '{column}'", "AttributeError")
        if direction not in ("asc", "desc"):
            raise Unhandled(
                "Neither 'InstrumentedAttribute' object nor 'Comparator' object associated with "
                f"PipelineRun.{column} has an attribute '{direction}'",
                "AttributeError",
            )
        runs = sorted(runs, key=_nulls_first(column), reverse=direction == "desc")
    return runs


def _nulls_first(column: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    """A sort key on one column with SQLite's order: NULL before every value."""
    return lambda run: (run[column] is not None, run[column] if run[column] is not None else 0)


def page(runs: list[dict[str, Any]], query: Mapping[str, str], *, grouped: bool) -> tuple[list[dict[str, Any]], bool]:
    """The page and whether more follow, with Mage's retries grouping when ``grouped``.

    Mage reads one run past the page to know whether more follow, and when grouping widens the
    page it still drops only that one extra run.
    """
    limit = int_meta(query, "_limit", DEFAULT_LIMIT)
    offset = int_meta(query, "_offset", 0)
    results = runs[offset : offset + limit + 1]
    if limit and runs and grouped and query.get("disable_retries_grouping") in (None, "", "false"):
        results = _grouped(runs, results)
    has_next = len(results) > limit
    return (results[:-1] if has_next else results), has_next


def _grouped(runs: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs that share the last run's execution date all join the page; a page that starts inside a
    group of retries drops that group's runs (Mage's own logic, with its asymmetry)."""
    if not results:
        raise Unhandled("list index out of range", "IndexError")  # Mage indexes results[0]
    first, last = results[0], results[-1]
    drop = [last["execution_date"]]
    same_as_first = next(r for r in runs if r["execution_date"] == first["execution_date"])
    if same_as_first["id"] != first["id"]:
        drop.append(first["execution_date"])
    return [r for r in results if r["execution_date"] not in drop] + [
        r for r in runs if r["execution_date"] == last["execution_date"]
    ]
