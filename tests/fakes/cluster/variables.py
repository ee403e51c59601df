"""Pipeline variables (``/api/pipelines/{uuid}/variables``), kept in the pipeline's ``variables``.

As Mage 0.9.80's ``VariableResource``: the list holds one ``global`` entry (sorted by name, as Mage
re-reads them from YAML) and, without ``global_only``, one entry per block with its outputs; a
create and an update both set the value under the name in the *body* (not the URL); a name that
is not an identifier or a null value is a 400 ``record_invalid``; deleting an unknown name is a
``KeyError`` (shape 3) once the pipeline has variables, and a silent success while it has none.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from .core import FakeCore, User
from .helpers import ApiError, Unhandled, detail_response, not_served, unwrap


class VariablesRoutes(FakeCore):
    def _variables(
        self,
        method: str,
        segments: list[str],
        pipeline: dict[str, Any],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        user: User,
    ) -> Response:
        if len(segments) == 3 and method == "GET":
            self._authorize("list", user)
            return self._list_variables(pipeline, global_only=query.get("global_only") not in (None, "", "false"))
        if len(segments) == 3 and method == "POST":
            self._authorize("create", user)
            return self._set_variable(pipeline, unwrap(body, "variable"))
        name = segments[3] if len(segments) == 4 else None
        if name is not None and method == "PUT":
            self._authorize("update", user)
            return self._set_variable(pipeline, unwrap(body, "variable"))
        if name is not None and method == "DELETE":
            self._authorize("delete", user)
            return self._delete_variable(pipeline, name)
        if name is not None and method == "GET":
            self._authorize("detail", user)
            return detail_response("variable", _bare(name))
        raise not_served(method, segments)

    def _list_variables(self, pipeline: dict[str, Any], *, global_only: bool) -> Response:
        globals_ = pipeline.get("variables") or {}
        entries = [] if global_only else [_entry(pipeline, block["uuid"], []) for block in pipeline["blocks"]]
        variables = [
            {"uuid": name, "type": f"<class '{type(value).__name__}'>", "value": copy.deepcopy(value)}
            for name, value in sorted(globals_.items())
        ]
        entries.append(_entry(pipeline, "global", variables))
        return JSONResponse({"variables": entries, "metadata": {}})

    def _set_variable(self, pipeline: dict[str, Any], payload: Mapping[str, Any]) -> Response:
        name = payload.get("name")
        if not isinstance(name, str):
            raise Unhandled(f"'{type(name).__name__}' object has no attribute 'isidentifier'", "AttributeError")
        if not name.isidentifier():
            raise ApiError(400, f"Invalid variable name syntax for variable name {name}.", "record_invalid")
        value = payload.get("value")
        if value is None:
            raise ApiError(400, f"Value is empty for variable name {name}.", "record_invalid")
        variables = pipeline["variables"] = dict(pipeline.get("variables") or {})
        variables[name] = copy.deepcopy(value)
        item = _entry(pipeline, "global", sorted(variables)) | {"name": name, "value": value}
        return detail_response("variable", item)

    def _delete_variable(self, pipeline: dict[str, Any], name: str) -> Response:
        variables = pipeline.get("variables")
        if variables is not None:
            if name not in variables:
                raise Unhandled(repr(name), "KeyError")
            pipeline["variables"] = {k: v for k, v in variables.items() if k != name}
        return detail_response("variable", _bare(name))


def _entry(pipeline: Mapping[str, Any], block_uuid: str, variables: list[Any]) -> dict[str, Any]:
    return {
        "block": {"uuid": block_uuid},
        "name": None,
        "pipeline": {"uuid": pipeline["uuid"]},
        "value": None,
        "variables": variables,
    }


def _bare(name: str) -> dict[str, Any]:
    """What Mage presents for a member it only knows by name (a delete, a detail)."""
    return {"block": None, "name": name, "pipeline": None, "value": None, "variables": None}
