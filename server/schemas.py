"""Compact JSON Schemas for `tools/list`: the same constraints in fewer tokens.

Pydantic's schemas are correct but wordy; every byte is paid for in each model's context.
The rewrites keep validation meaning: generated `title`s go, `anyOf [T, null]` becomes
`type: [T, "null"]` (just `T` for an optional argument, where null means "not given"),
single-use `$defs` are inlined, `default: null` and
`additionalProperties: true` (both the defaults anyway) are dropped.

Output schemas go further, matching how results are sent: a result never carries a null
(the server drops null fields from structured content), so `[T, "null"]` is just `T` and no
field is `required`; descriptions and formats, which only document, are dropped too.
"""

from __future__ import annotations

from typing import Any


def compact_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return _Compactor(schema, output=False).run()


def compact_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return _Compactor(schema, output=True).run()


class _Compactor:
    def __init__(self, schema: dict[str, Any], *, output: bool) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.output = output

    def run(self) -> dict[str, Any]:
        result = self.node({k: v for k, v in self.schema.items() if k != "$defs"})
        assert isinstance(result, dict)
        return result

    def node(self, node: Any, *, optional: bool = False) -> Any:
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = self.deref(node)
        options = node.get("anyOf")
        if options and (merged := self._nullable([self.deref(o) for o in options], optional)) is not None:
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **merged}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if self._drop(key, value):
                continue
            if key == "properties":
                required = set(node.get("required", ()))
                out[key] = {name: self.node(prop, optional=name not in required) for name, prop in value.items()}
            else:
                out[key] = self.node(value)
        return out

    def deref(self, node: Any) -> Any:
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not (isinstance(ref, str) and ref.startswith("#/$defs/")):
            return node
        target = self.defs[ref.removeprefix("#/$defs/")]
        return self.deref({**target, **{k: v for k, v in node.items() if k != "$ref"}})

    def _nullable(self, options: list[Any], optional: bool) -> dict[str, Any] | None:
        """`[S, {"type": "null"}]` → S with "null" added to its type, when S has a plain type.

        Where null only ever means "not given" (an optional argument, any output field), it is just S.
        """
        if len(options) != 2 or {"type": "null"} not in options:
            return None
        (other,) = [o for o in options if o != {"type": "null"}]
        if not isinstance(other, dict) or not isinstance(other.get("type"), str):
            return None
        return other if self.output or optional else {**other, "type": [other["type"], "null"]}

    def _drop(self, key: str, value: Any) -> bool:
        if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            return True
        return self.output and key in ("description", "required", "format")


def without_nulls(value: Any) -> Any:
    """Structured content as sent: null fields left out, at every depth."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value
