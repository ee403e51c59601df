"""Project secrets: names only ever come back; a value goes to Mage and nowhere else."""

from .base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
