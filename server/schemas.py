"""Compact JSON Schemas for `tools/list`: the same constraints in fewer tokens.

Pydantic's schemas are correct but wordy, and every byte is paid for in each model's context.
The rewrites keep what validates: generated `title`s go; `anyOf [T, null]` becomes
`type: [T, "null"]`, or just `T` for an optional argument, where null means "not given";
`$defs` are inlined; `default: null` and `additionalProperties: true` (the defaults anyway) go.

Output schemas go further, matching how results are sent: a result never carries a null
(the server drops null fields from structured content), so `[T, "null"]` is just `T` and no
field is `required`; descriptions and formats, which only document, go too, and so does
`type: object` beside `properties` below the top level.
"""

from __future__ import annotations

from typing import Any


def compact_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return _Compactor(schema.get("$defs", {}), output=False).top(schema)


def compact_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return _Compactor(schema.get("$defs", {}), output=True).top(schema)


def without_nulls(value: Any) -> Any:
    """Structured content as sent: null fields left out, at every depth."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


class _Compactor:
    def __init__(self, defs: dict[str, Any], *, output: bool) -> None:
        self.defs = defs
        self.output = output

    def top(self, schema: dict[str, Any]) -> dict[str, Any]:
        compact: dict[str, Any] = self.node({k: v for k, v in schema.items() if k != "$defs"}, nested=False)
        return compact

    def node(self, node: Any, *, optional: bool = False, nested: bool = True) -> Any:
        if isinstance(node, list):
            return [self.node(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = self.deref(node)
        options = node.get("anyOf")
        if options and (merged := self.nullable([self.deref(o) for o in options], optional)) is not None:
            node = {**{k: v for k, v in node.items() if k != "anyOf"}, **merged}
        required = set(node.get("required", ()))
        out: dict[str, Any] = {}
        for key, value in node.items():
            if self.drop(key, value, node, nested):
                continue
            if key == "properties":
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

    def nullable(self, options: list[Any], optional: bool) -> dict[str, Any] | None:
        """`[S, {"type": "null"}]` as one schema, when S has a plain type."""
        if len(options) != 2 or {"type": "null"} not in options:
            return None
        (other,) = [o for o in options if o != {"type": "null"}]
        if not isinstance(other, dict) or not isinstance(other.get("type"), str):
            return None
        return other if self.output or optional else {**other, "type": [other["type"], "null"]}

    def drop(self, key: str, value: Any, node: dict[str, Any], nested: bool) -> bool:
        if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            return True
        if not self.output:
            return False
        implied_object = nested and key == "type" and value == "object" and "properties" in node
        return implied_object or key in ("description", "required", "format")
