"""The Mage targets this server can act on: `list_profiles`, listed whatever the toolsets."""

from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mage_mcp.server.runtime import Runtime

from .base import ToolSpec, about_server

MAX_PROFILES = 100


class ProfileItem(BaseModel):
    name: str
    default: bool
    cluster_url: str | None = Field(description="Without any user:password part")
    planes: list[Literal["cluster", "cloud"]] = Field(description="The APIs it has configured")
    team_id: str | None
    cluster_id: str | None
    read_only: bool = Field(description="Its changing tools are refused")
    confirm_fallback: Literal["token", "deny", "allow"]


class ProfileList(BaseModel):
    profiles: list[ProfileItem]
    total: int
    source: str = Field(description="The profiles file, or 'environment' (one profile from MAGE_* variables)")


async def list_profiles(ctx: Context[Runtime, Any]) -> ProfileList:
    """List the Mage targets (profiles) this server acts on; pass a name as `profile` to any tool. No credentials."""
    profiles = ctx.request_context.lifespan_context.profiles
    items = [
        ProfileItem(
            name=p.name,
            default=p.name == profiles.default,
            cluster_url=_without_userinfo(p.cluster_url),
            planes=p.planes,
            team_id=p.team_id,
            cluster_id=p.cluster_id,
            read_only=p.read_only,
            confirm_fallback=p.confirm_fallback,
        )
        for p in profiles.by_name.values()
    ]
    source = str(profiles.source) if profiles.source is not None else "environment"
    return ProfileList(profiles=items[:MAX_PROFILES], total=len(items), source=source)


def _without_userinfo(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


TOOLSET = None
TOOLS: tuple[ToolSpec, ...] = (about_server(list_profiles, "List profiles"),)
