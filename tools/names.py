"""Names, ids and other values a tool passes to Mage, checked before any request: what Mage would reject or
mangle, or what would address another path, is refused here, and every one has a stated size limit.

Mage derives a pipeline's or block's uuid from its name and writes files under it; it accepts `/`
in a block name and writes nested folders, so a path-like name never reaches it. Uuids and ids go
into URL paths, so the same rules keep a request on the object it names.
"""

import json
import keyword
import re
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

NAME_CHARS = 255
"""A name, uuid or id string: pipelines, blocks, secrets, variables, teams, clusters, workspaces."""
TEXT_CHARS = 1_000
"""A search or filter text."""
CURSOR_CHARS = 100
MAX_ID = 2**53
"""Mage's numeric ids (runs, triggers): positive, and exact in JSON."""
JSON_BYTES = 1_000_000
"""Free-form JSON (run and trigger variables, a variable's value, a cluster config patch), serialized."""

Json = TypeVar("Json")


def _plain_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValueError("must not be empty or blank")
    if "/" in name or "\\" in name or ".." in name:
        raise ValueError("must not contain '/', '\\' or '..' (it names one object, never a path)")
    if not name.isprintable():
        raise ValueError("must not contain control characters such as NUL or a line break")
    return name


def _identifier(value: str) -> str:
    if not value.isidentifier() or not value.isascii() or keyword.iskeyword(value):
        raise ValueError("must be a Python identifier (ASCII letters, digits and _, not starting with a digit)")
    return value


PlainName = Annotated[str, Field(max_length=NAME_CHARS), AfterValidator(_plain_name)]
"""A pipeline, block, secret or workspace name, or a uuid or id: not blank, no path separators, no `..`,
no control characters."""

Identifier = Annotated[str, Field(max_length=NAME_CHARS), AfterValidator(_identifier)]
"""A name Mage hands to Python code as a keyword argument (pipeline variables)."""

PipelineUuid = Annotated[PlainName, Field(description="As list_pipelines shows it")]
BlockUuid = Annotated[PlainName, Field(description="As get_pipeline shows it")]
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A run's or a trigger's id."""
Cursor = Annotated[str | None, Field(max_length=CURSOR_CHARS)]
SearchText = Annotated[str, Field(max_length=TEXT_CHARS)]


def json_up_to(limit: int = JSON_BYTES) -> AfterValidator:
    """A check that a free-form JSON value is at most `limit` bytes once serialized (a schema cannot say it)."""

    def check(value: Json) -> Json:
        size = len(json.dumps(value, default=str).encode())
        if size > limit:
            raise ValueError(f"is {size:,} bytes as JSON; at most {limit:,} are accepted")
        return value

    return AfterValidator(check)


_DROPPED = str.maketrans("", "", '\ufeff"$\n\r\t')


def uuid_from_name(name: str) -> str:
    """The uuid Mage derives from a name (its `clean_name`): some characters dropped, other non-word ones `_`,
    `letter_` before a leading digit, lower case."""
    uuid = re.sub(r"\W", "_", name.translate(_DROPPED))
    return (f"letter_{uuid}" if uuid[:1].isdigit() else uuid).lower()
