"""Run logs: ``GET /api/pipelines/{uuid}/logs``, and the hooks that write log files.

As Mage 0.9.80's ``LogResource`` does:

* the filters are the array forms ``pipeline_run_id[]``, ``block_run_id[]``, ``block_uuid[]`` (a SQL
  ``LIKE 'x%'``: a prefix, case-insensitive, where ``_`` matches any character) and
  ``pipeline_schedule_id[]``, each one comma-separated value; ``start_timestamp`` / ``end_timestamp``
  bound the runs' execution date and ``_limit`` the rows. The plain ``pipeline_run_id`` is ignored, so
  every run of the pipeline answers;
* ``pipeline_run_logs`` holds each run's ``pipeline.log`` and ``scheduler.log`` (newest run first),
  and is empty as soon as a block filter is given; ``block_run_logs`` holds ``<block>.log`` of each
  block run (latest started first); each list stops at 20 files. Then the notebook (editor) logs of
  the pipeline's blocks are appended whatever the filters;
* a file never written answers with ``content`` "" and ``size`` / ``modified_timestamp`` null.

Contents are kept as appended chunks and joined once when read, so a 50 MB log costs no more
than its size.
"""

from __future__ import annotations

import json
import re
import time
import uuid as uuid_lib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse, Response

from .core import FakeCore
from .helpers import clean_name, int_meta, query_timestamps, utc_now

MAX_LOG_FILES = 20
VARIABLES_DIR = "/home/src/mage_data/fake_project"
# Frames of Mage's own logger call, which it writes as `error_stack` on every failure record.
_LOGGER_STACK = [
    '  File "/usr/local/lib/python3.11/site-packages/mage_ai/data_preparation/logging/logger.py", line 30, '
    "in exception\n    self.__send_message('exception', message, **kwargs)\n",
    '  File "/usr/local/lib/python3.11/site-packages/mage_ai/data_preparation/logging/logger.py", line 65, '
    "in __send_message\n    data['error_stack'] = traceback.format_stack()\n",
]


class LogsRoutes(FakeCore):
    # ----------------------------------------------------------------- test hooks
    def add_log(
        self,
        run_id: int,
        block_uuid: str | None = None,
        level: str = "INFO",
        message: str = "",
        error: str | None = None,
        stacktrace: str | None = None,
        *,
        at: datetime | None = None,
    ) -> str:
        """Append one record, written as Mage writes it, to the block's log (or ``scheduler.log``).

        ``error`` is the exception's text and ``stacktrace`` its formatted traceback: Mage stores
        them as ``error_stacktrace`` and ``error`` (its names are the other way round), and after
        an ``EXCEPTION`` record Python's logging writes the traceback again as plain lines.
        Returns the text appended.
        """
        run = self.pipeline_runs[run_id]
        moment = at or utc_now()
        record = self._record_tags(run, block_uuid)
        record.update(level=level.upper(), message=message)
        record.update(timestamp=moment.replace(tzinfo=UTC).timestamp(), uuid=uuid_lib.uuid4().hex)
        if error is not None or stacktrace is not None:
            record.update(error=stacktrace or "", error_stack=list(_LOGGER_STACK), error_stacktrace=error or "")
        text = f"{moment:%Y-%m-%dT%H:%M:%S} {json.dumps(record)}\n"
        if level.upper() == "EXCEPTION" and stacktrace:
            text += stacktrace.rstrip("\n") + "\n"
        self.add_raw_log(run_id, f"{clean_name(block_uuid)}.log" if block_uuid else "scheduler.log", text)
        return text

    def add_raw_log(self, run_id: int, file_name: str, text: str) -> None:
        """Append ``text`` as it is (plus a final newline) to one of the run's log files.

        Mage serves only ``pipeline.log``, ``scheduler.log`` and ``<block uuid>.log`` of the run's
        block runs; anything else is kept and never answered, as on a real server.
        """
        key = (run_id, file_name)
        self._log_chunks.setdefault(key, []).append(text if text.endswith("\n") else text + "\n")
        self._log_modified[key] = time.time()

    def add_editor_log(self, pipeline_uuid: str, block_uuid: str, text: str, *, at: datetime | None = None) -> None:
        """A log of a notebook run of the block: Mage appends it to every logs answer of the pipeline."""
        name = f"{(at or utc_now()):%Y%m%dT%H%M%S}.log"
        self._editor_logs.setdefault(pipeline_uuid, []).append((block_uuid, name, text))

    def log_text(self, run_id: int, file_name: str) -> str:
        """The whole content of one log file ("" when never written)."""
        chunks = self._log_chunks.get((run_id, file_name))
        if not chunks:
            return ""
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]  # joined once, then kept joined
        return chunks[0]

    # ----------------------------------------------------------------- routes
    def _pipeline_logs(self, pipeline: dict[str, Any], query: Mapping[str, str]) -> Response:
        runs = self._log_runs(pipeline, query)
        block_rows = self._log_block_rows(runs, query)
        limit = int_meta(query, "_limit", 0) if "_limit" in query else None
        by_block = query.get("block_uuid[]") or query.get("block_run_id[]")
        run_files = [] if by_block else self._run_files(runs[:limit] if limit is not None else runs)
        block_files = self._block_files(block_rows[:limit] if limit is not None else block_rows)
        block_files += self._editor_files(pipeline, query)
        logs = {
            "block_run_logs": block_files,
            "pipeline_run_logs": run_files,
            "total_block_run_log_count": len(block_rows),
            "total_pipeline_run_log_count": 0 if by_block else len(runs),
        }
        return JSONResponse({"logs": [logs], "metadata": {}})

    def _log_runs(self, pipeline: Mapping[str, Any], query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The pipeline's runs that pass the run filters, newest created first."""
        start, end = query_timestamps(query)
        run_ids = _ids(query, "pipeline_run_id[]")
        schedule_ids = _ids(query, "pipeline_schedule_id[]")
        runs = [
            r
            for r in self.pipeline_runs.values()
            if r["pipeline_uuid"] == pipeline["uuid"]
            and (run_ids is None or r["id"] in run_ids)
            and (schedule_ids is None or r["pipeline_schedule_id"] in schedule_ids)
            and (start is None or r["execution_date"] >= start)
            and (end is None or r["execution_date"] <= end)
        ]
        return sorted(runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)

    def _log_block_rows(
        self, runs: list[dict[str, Any]], query: Mapping[str, str]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(block run, run) pairs that pass the block filters, latest started first (never started last)."""
        like = _like_prefixes(query.get("block_uuid[]"))
        block_run_ids = _ids(query, "block_run_id[]")
        rows = [
            (br, run)
            for run in runs
            for br in run["block_runs"]
            if (like is None or like.match(br["block_uuid"])) and (block_run_ids is None or br["id"] in block_run_ids)
        ]
        return sorted(rows, key=lambda row: (row[0]["started_at"] is not None, row[0]["started_at"] or 0), reverse=True)

    def _run_files(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        for run in runs:
            files += [self._log_file(run, name) for name in ("pipeline.log", "scheduler.log")]
            if len(files) >= MAX_LOG_FILES:
                break
        return files

    def _block_files(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[dict[str, Any]]:
        files: list[dict[str, Any]] = []
        seen: set[str] = set()
        for block_run, run in rows:
            file = self._log_file(run, f"{clean_name(block_run['block_uuid'])}.log")
            if file["path"] not in seen:
                seen.add(file["path"])
                files.append(file)
            if len(files) >= MAX_LOG_FILES:
                break
        return files

    def _editor_files(self, pipeline: Mapping[str, Any], query: Mapping[str, str]) -> list[dict[str, Any]]:
        start, end = query_timestamps(query)
        files = []
        for block_uuid, name, content in self._editor_logs.get(str(pipeline["uuid"]), []):
            written = datetime.strptime(name.split(".")[0], "%Y%m%dT%H%M%S")
            if (start is None or start <= written) and (end is None or written <= end):
                path = f"{VARIABLES_DIR}/pipelines/{pipeline['uuid']}/.logs/edit_pipeline/{block_uuid}/{name}"
                files.append(_file_dict(name, path, content, time.time()))
        return files

    def _log_file(self, run: Mapping[str, Any], name: str) -> dict[str, Any]:
        partition = run["variables"].get("execution_partition", "")
        path = f"{VARIABLES_DIR}/pipelines/{run['pipeline_uuid']}/.logs/{partition}/{name}"
        key = (int(run["id"]), name)
        if key not in self._log_chunks:
            return {"name": name, "path": path, "size": None, "modified_timestamp": None, "content": ""}
        return _file_dict(name, path, self.log_text(*key), self._log_modified[key])

    def _record_tags(self, run: Mapping[str, Any], block_uuid: str | None) -> dict[str, Any]:
        """The tags Mage's loggers put first in a record: a block logger's, or the scheduler's."""
        if block_uuid is None:
            return {
                "pipeline_run_id": run["id"],
                "pipeline_schedule_id": run["pipeline_schedule_id"],
                "pipeline_uuid": run["pipeline_uuid"],
            }
        pipeline = self.pipelines.get(str(run["pipeline_uuid"])) or {"blocks": []}
        block = next((b for b in pipeline["blocks"] if b["uuid"] == block_uuid), None)
        block_run = next((b for b in run["block_runs"] if b["block_uuid"] == block_uuid), None)
        return {
            "block_type": block["type"] if block else None,
            "block_uuid": block_uuid,
            "pipeline_uuid": run["pipeline_uuid"],
            "block_run_id": block_run["id"] if block_run else None,
            "pipeline_run_id": run["id"],
        }


def _file_dict(name: str, path: str, content: str, modified: float) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "size": len(content.encode()),
        "modified_timestamp": modified,
        "content": content,
    }


def _ids(query: Mapping[str, str], key: str) -> set[int] | None:
    """An array filter of ids (one comma-separated value); None when absent or empty."""
    text = query.get(key)
    if not text:
        return None
    return {int(part) for part in text.split(",") if part.strip().lstrip("-").isdigit()}


def _like_prefixes(text: str | None) -> re.Pattern[str] | None:
    """``block_uuid LIKE 'x%' OR ...`` in SQLite: case-insensitive, ``_`` any one character, ``%`` any run."""
    if not text:
        return None
    wildcards = {"%": ".*", "_": "."}
    patterns = ["".join(wildcards.get(c) or re.escape(c) for c in part) for part in text.split(",")]
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE | re.DOTALL)
