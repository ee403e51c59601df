"""Block run outputs: ``GET /api/block_runs/{id}/outputs``, and the hook that sets them.

Mage 0.9.80 answers ``{"outputs": [...], "metadata": {}}``; an unknown block run id, or a block that
returned nothing (or failed), gives an empty list, never an error. Each item is
``{"outputs", "sample_data", "shape", "text_data", "type", "variable_uuid"}``: a DataFrame, a dict
(one row) or a Series is ``type: table`` with ``sample_data: {columns, rows}`` (at most 1,000 rows)
and the full ``shape``; a str or a number is ``type: text`` with ``text_data``; a list is one
output per item (``output_0``, ``output_1``, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response

from .core import FakeCore, User

SAMPLE_ROWS = 1000


def table_output(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    total_rows: int | None = None,
    variable_uuid: str = "output_0",
) -> dict[str, Any]:
    """An output as Mage serialises a DataFrame: the first 1,000 rows and the full shape."""
    return {
        "outputs": None,
        "sample_data": {"columns": list(columns), "rows": [list(row) for row in rows[:SAMPLE_ROWS]]},
        "shape": [len(rows) if total_rows is None else total_rows, len(columns)],
        "text_data": None,
        "type": "table",
        "variable_uuid": variable_uuid,
    }


def text_output(text: str, *, variable_uuid: str = "output_0") -> dict[str, Any]:
    """An output as Mage serialises a str or a number."""
    return {
        "outputs": None,
        "sample_data": None,
        "shape": None,
        "text_data": text,
        "type": "text",
        "variable_uuid": variable_uuid,
    }


class OutputsRoutes(FakeCore):
    # ----------------------------------------------------------------- test hooks
    def set_block_output(
        self, block_run_id: int, output: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> None:
        """What the block run returned: one Mage output item, or a list of them (see `table_output`)."""
        items = [output] if isinstance(output, Mapping) else list(output)
        self._block_outputs[block_run_id] = [copy.deepcopy(dict(item)) for item in items]

    # ----------------------------------------------------------------- routes
    def _block_run_outputs(self, pk: str, user: User) -> Response:
        self._authorize("list", user)
        outputs: list[dict[str, Any]] = []
        if pk.isdigit() and self._find_block_run(int(pk)) is not None:
            outputs = copy.deepcopy(self._block_outputs.get(int(pk), []))
        return JSONResponse({"outputs": outputs, "metadata": {}})
