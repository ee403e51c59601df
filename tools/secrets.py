"""Project secrets: names only ever come back; a value goes to Mage and nowhere else.

No plan, prompt, result, log or error carries a value: the plans never see it, and the client
drops any Mage answer that holds it. Mage cannot change a secret's value, and a second create of a
name fails deep in its database, so an existing name is refused before anyone is asked.
"""

import re
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AfterValidator, BaseModel, Field

from mage_mcp.clients import MageApiError, MageNotFoundError
from mage_mcp.server.confirmation import MutationOutcome, Plan
from mage_mcp.server.redaction import Sensitive
from mage_mcp.server.runtime import Runtime

from .base import Toolset, ToolSpec, changes, reads, runtime
from .names import Cursor, PlainName
from .paging import cut, next_cursor, offset_from

GIT_SECRET_PREFIXES = ("mage_git_ssh_private_key_b64", "mage_git_ssh_public_key_b64", "mage_git_access_token")
"""Names Mage keeps for its Git sync settings and hides from the list of secrets."""
_UNIQUE_VIOLATION = re.compile(r"unique|duplicate", re.IGNORECASE)
"""A second secret of one name fails in the database: "unique" (SQLite, PostgreSQL) or "duplicate" (MySQL)."""


def _not_reserved(name: str) -> str:
    if name.startswith(GIT_SECRET_PREFIXES):
        raise ValueError(f"names starting with {', '.join(GIT_SECRET_PREFIXES)} are kept for Mage's Git sync settings")
    return name


SecretName = Annotated[PlainName, AfterValidator(_not_reserved), Field(description="Blocks read it by this name")]
SecretValue = Annotated[
    str, Field(min_length=1, max_length=32_768, description="Sent to Mage only, never shown"), Sensitive()
]
ExistingName = PlainName


class SecretList(BaseModel):
    names: list[str]
    total: int | None
    next_cursor: str | None


class SecretChange(MutationOutcome):
    name: str | None = None


async def list_secrets(
    ctx: Context[Runtime, Any],
    limit: Annotated[int, Field(ge=1, le=100)] = 50,
    cursor: Cursor = None,
) -> SecretList:
    """List the names of the project's secrets (Mage never returns their values)."""
    offset = offset_from(cursor, "list_secrets")
    page = await runtime(ctx).cluster.list_secrets(limit=limit, offset=offset)
    return SecretList(
        names=[cut(secret.name, 255) for secret in page.items],
        total=page.total,
        next_cursor=next_cursor(offset, len(page.items), page.has_more),
    )


def _already_exists(name: str) -> ToolError:
    return ToolError(
        f"A secret named {name!r} already exists, and Mage cannot change a secret's value. "
        "To replace it: delete_secret, then create_secret."
    )


async def plan_create(ctx: Context[Runtime, Any], name: SecretName) -> Plan:
    rt = runtime(ctx)
    if await rt.cluster.find_secret(name) is not None:
        raise _already_exists(name)
    return Plan(
        summary=f"Create the project secret {name!r} on {rt.cluster.base_url}; blocks read it with "
        f"get_secret_value({name!r}). The value goes to Mage only and is never shown.",
        changes={"name": name},
    )


async def create_secret(ctx: Context[Runtime, Any], plan: Plan, name: SecretName, value: SecretValue) -> SecretChange:
    """Create a project secret that blocks read with get_secret_value(name); returns its name, never the value."""
    try:
        secret = await runtime(ctx).cluster.create_secret(name, value)
    except MageApiError as exc:
        if _UNIQUE_VIOLATION.search(exc.message):  # created by someone else since the plan
            raise _already_exists(name) from None
        raise
    return _changed(secret.name, "created")


async def plan_delete(ctx: Context[Runtime, Any], name: ExistingName) -> Plan:
    rt = runtime(ctx)
    if await rt.cluster.find_secret(name) is None:
        raise MageNotFoundError(f"Secret {name!r} was not found.", kind="secret")
    return Plan(
        summary=f"Delete the project secret {name!r} on {rt.cluster.base_url}. Blocks that call "
        f"get_secret_value({name!r}) get nothing afterwards; the value cannot be recovered.",
        changes={"name": name},
    )


async def delete_secret(ctx: Context[Runtime, Any], plan: Plan, name: ExistingName) -> SecretChange:
    """Delete a project secret by name."""
    await runtime(ctx).cluster.delete_secret(name)
    return _changed(name, "deleted")


async def settle_create(
    ctx: Context[Runtime, Any], plan: Plan, name: SecretName, value: SecretValue
) -> SecretChange | None:
    if await runtime(ctx).cluster.find_secret(name) is None:  # the plan saw no secret of that name
        return None
    return _changed(name, "created")


async def settle_delete(ctx: Context[Runtime, Any], plan: Plan, name: ExistingName) -> SecretChange | None:
    if await runtime(ctx).cluster.find_secret(name) is not None:
        return None
    return _changed(name, "deleted")


def _changed(name: str, status: str) -> SecretChange:
    return SecretChange(status=status, name=name, message=f"Secret {name!r} {status}.")


TOOLSET: Toolset = "secrets"
TOOLS: tuple[ToolSpec, ...] = (
    reads(list_secrets, "List secrets", "cluster"),
    changes(
        create_secret,
        "Create secret",
        "cluster",
        plan=plan_create,
        destructive=False,
        idempotent=True,
        settle=settle_create,
    ),
    changes(
        delete_secret,
        "Delete secret",
        "cluster",
        plan=plan_delete,
        destructive=True,
        idempotent=True,
        settle=settle_delete,
    ),
)
