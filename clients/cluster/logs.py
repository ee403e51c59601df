"""Logs of pipeline runs, as whole files; `clients.log_lines` parses them."""

from __future__ import annotations

import re
from typing import Any, Literal

from ..errors import Subject
from ..models import LogFile, RunLogs
from .session import ClusterSession, segment

# Mage appends the logs of the pipeline's notebook (editor) block runs to every answer; they
# live under `.logs/edit_pipeline/` and belong to no run.
_EDITOR_LOGS = "edit_pipeline"


class LogsApi(ClusterSession):
    async def run_logs(self, pipeline_uuid: str, run_id: int) -> RunLogs:
        """The run's scheduler, pipeline and block log files, in one request.

        Only the array form `pipeline_run_id[]` filters: Mage silently ignores a plain
        `pipeline_run_id` and answers with the logs of every run of the pipeline. A run id Mage
        does not know gives no files (Mage says nothing else).
        """
        body = await self.request(
            "GET",
            f"/pipelines/{segment(pipeline_uuid)}/logs",
            params={"pipeline_run_id[]": str(run_id)},
            what=Subject("pipeline", pipeline_uuid),
        )
        logs = body.get("logs") or [{}]
        found = logs[0] if isinstance(logs[0], dict) else {}
        files = [
            *_files(found.get("pipeline_run_logs"), "pipeline"),
            *_files(found.get("block_run_logs"), "block"),
        ]
        return RunLogs(pipeline_uuid=pipeline_uuid, run_id=run_id, files=files)


def _files(items: Any, kind: Literal["pipeline", "block"]) -> list[LogFile]:
    if not isinstance(items, list):
        return []
    return [
        LogFile(name=str(item.get("name") or ""), kind=kind, content=item.get("content"))
        for item in items
        if isinstance(item, dict) and _EDITOR_LOGS not in re.split(r"[\\/]", str(item.get("path") or ""))
    ]
