"""Git: the project's status, a pull from its sync remote, and Mage Pro deployments of a commit."""

from .base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
