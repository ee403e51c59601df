"""What of a call's arguments may be written down (audit log, plans): secret values become `***`.

Every argument goes through `redacted`: values under credential-like names (an argument's own name too),
and the value of every `{"name", "value"}` entry (the shape of an environment variable), are masked at any
depth. A tool
marks what that cannot see in its argument's type: `Sensitive` masks the whole value (a secret's
value), `SensitiveValues` every value of a mapping, keeping its keys (env vars by name).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel

MASK = "***"
CREDENTIAL = re.compile(r"password|secret|token|key|credential", re.IGNORECASE)


class Sensitive:
    """`Annotated[str, Sensitive()]`: the whole value is a secret."""

    def mask(self, value: Any) -> Any:
        return MASK


class SensitiveValues(Sensitive):
    """`Annotated[dict[str, str], SensitiveValues()]`: the keys may be shown, the values never."""

    def mask(self, value: Any) -> Any:
        return {key: MASK for key in value} if isinstance(value, Mapping) else MASK


def redacted(value: Any) -> Any:
    """`value` with the values under credential-like keys and of env-var-shaped entries masked, at any depth."""
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    env_var = "name" in value and "value" in value
    return {
        key: MASK if CREDENTIAL.search(str(key)) or (env_var and key == "value") else redacted(item)
        for key, item in value.items()
    }


def argument_masker(fn: Callable[..., Any]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function giving the arguments of a call to `fn` as they may be written down."""
    marks = {
        name: _mark(getattr(hint, "__metadata__", ()))
        for name, hint in typing.get_type_hints(fn, include_extras=True).items()
    }

    def masked(arguments: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: MASK if CREDENTIAL.search(name) and value is not None else _masked(value, marks.get(name))
            for name, value in arguments.items()
        }

    return masked


def _mark(metadata: Iterable[Any]) -> Sensitive | None:
    return next((mark for mark in metadata if isinstance(mark, Sensitive)), None)


def _masked(value: Any, mark: Sensitive | None) -> Any:
    if value is None:
        return None
    if mark is not None:
        return mark.mask(value)
    if isinstance(value, BaseModel):  # its fields may carry marks of their own
        data, fields = value.model_dump(mode="json"), type(value).model_fields
        return {
            name: _masked(attribute if isinstance(attribute, BaseModel) else data[name], _mark(fields[name].metadata))
            for name in fields
            if (attribute := getattr(value, name)) is not None
        }
    return redacted(value)
