"""Triggers (Mage's pipeline schedules): list, read, create, update, delete. Their tokens never leave the server."""

from .base import ToolSpec

TOOLS: tuple[ToolSpec, ...] = ()
