"""Names a tool passes to Mage, checked before any request: what Mage would reject or mangle is refused here.

Mage derives a pipeline's or block's uuid from its name and writes files under it; it accepts `/`
in a block name and writes nested folders, so a path-like name never reaches it.
"""

import keyword
import re
from typing import Annotated

from pydantic import AfterValidator, Field


def _plain_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValueError("must not be empty or blank")
    if "/" in name or "\\" in name or ".." in name:
        raise ValueError("must not contain '/', '\\' or '..' (Mage would write the files in other folders)")
    return name


def _identifier(value: str) -> str:
    if not value.isidentifier() or not value.isascii() or keyword.iskeyword(value):
        raise ValueError("must be a Python identifier (ASCII letters, digits and _, not starting with a digit)")
    return value


PlainName = Annotated[str, Field(max_length=255), AfterValidator(_plain_name)]
"""A pipeline, block or secret name: not blank, no path separators, no `..`."""

Identifier = Annotated[str, Field(max_length=255), AfterValidator(_identifier)]
"""A name Mage hands to Python code as a keyword argument (pipeline variables)."""


_DROPPED = str.maketrans("", "", '\ufeff"$\n\r\t')


def uuid_from_name(name: str) -> str:
    """The uuid Mage derives from a name (its `clean_name`): some characters dropped, other non-word ones `_`,
    `letter_` before a leading digit, lower case."""
    uuid = re.sub(r"\W", "_", name.translate(_DROPPED))
    return (f"letter_{uuid}" if uuid[:1].isdigit() else uuid).lower()
