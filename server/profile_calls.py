"""What a tool call's profile adds around the tools: the `profile` argument in the listing, the profile
in error messages, and the refusal of changes on a read-only profile.

Only a server with a profiles file names profiles; with one profile from the environment, tools
are listed and answer exactly as without profiles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError

from .attempts import Attempt
from .profiles import Profile, Profiles
from .redaction import argument_masker

if TYPE_CHECKING:
    from .runtime import Runtime

MAX_ENUMERATED_PROFILES = 20


def with_profile_argument(schema: dict[str, Any], profiles: Profiles) -> dict[str, Any]:
    """A tool's input schema with the optional `profile` argument (the instructions explain it once)."""
    argument: dict[str, Any] = {"type": "string"}
    if len(profiles.by_name) <= MAX_ENUMERATED_PROFILES:
        argument["enum"] = list(profiles.by_name)
    return {**schema, "properties": {**schema.get("properties", {}), "profile": argument}}


def on_profile(message: str, tool: str, profile: str) -> str:
    """An error message of `tool` that names the profile the call was for."""
    prefix = f"Error executing tool {tool}:"
    if message.startswith(prefix):
        return f"Error executing tool {tool} on profile {profile!r}:{message.removeprefix(prefix)}"
    return f"On profile {profile!r}: {message}"


async def refuse_on_read_only_profile(
    runtime: Runtime, profile: Profile, tool: str, arguments: Mapping[str, Any], fn: Callable[..., Any]
) -> None:
    """Records the refused attempt and raises the refusal; nothing is asked or sent."""
    attempt = Attempt(runtime.audit, profile.name, tool, argument_masker(fn)(arguments))
    await attempt.ended("refused", message="read-only profile")
    raise ToolError(
        f"Profile {profile.name!r} is read-only (read_only = true in [profiles.{profile.name}] of "
        f"{runtime.profiles.source}): {tool} changes Mage, so it was refused and nothing was sent. "
        "Use a profile that allows changes (list_profiles), or set read_only = false there."
    )
