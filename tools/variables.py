"""Pipeline variables: the globals every run of a pipeline sees as block kwargs."""

from .base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
