"""The confirmation gate every mutating tool passes through before anything changes.

A mutating tool is one declaration: a plan function (reads only) and an apply function
(the change). `confirmed(apply, plan)` builds the tool the SDK registers from the two: its
arguments are the apply function's, plus `confirmation_token`; two resolved parameters
(SDK 2.3 `Resolve`) carry the plan and the person's answer to it. The built tool answers a
no-op plan without asking or sending, and otherwise settles consent before `apply` runs.

When the client can show a form, the person is asked (`Elicit`, which the SDK carries as a
live request on older protocol versions and as an input-required round on 2026-07-28).
When it cannot, `MAGE_MCP_CONFIRM_FALLBACK` decides: `token` hands back the plan and a
signed, single-use token bound to the tool and every argument of the call; `deny`
refuses; `allow` proceeds (trusted automation only).
"""

# No `from __future__ import annotations` here: the resolver made in `asks_person` is
# introspected by the SDK, and its annotations must be real objects, not strings that
# name a closure variable.

import base64
import functools
import hashlib
import hmac
import inspect
import json
import secrets
import time
import typing
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
    Resolve,
)
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, PrivateAttr
from pydantic.json_schema import SkipJsonSchema

from mage_mcp.clients.errors import MageError, MageOutcomeUnknownError

from .attempts import Attempt
from .audit import AuditLog, AuditOutcome
from .config import ConfirmFallback
from .profiles import Profile
from .redaction import argument_masker
from .state import MAX_ENTRIES, SharedState, StateFullError


class Plan(BaseModel):
    """What a mutating call will change: in words for the person, and as data.

    A plan without `changes` is a no-op: the tool answers at once, without asking anyone
    and without sending anything, with the result fields given to `nothing_to_do`.
    """

    summary: str
    changes: dict[str, Any] = Field(default_factory=dict)
    profile: str | None = None
    """The profile the change is for, when the server has several (set by the gate, not by tools)."""
    _unchanged: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def nothing_to_do(cls, summary: str, **result: Any) -> "Plan":
        """A no-op plan; `result` holds the fields of the tool's answer (`status` defaults to `unchanged`)."""
        plan = cls(summary=summary)
        plan._unchanged = {"status": "unchanged", **result}
        return plan

    def unchanged_result(self, result_type: "type[Outcome]") -> "Outcome":
        return result_type.model_validate({**self._unchanged, "message": f"{self.summary} No request sent."})


class ConfirmForm(BaseModel):
    """The elicitation form: one required boolean, nothing a model could pre-fill."""

    confirm: bool = Field(description="Apply this change?")


class NoPrompt:
    """What the consent resolver returns when the client cannot show a form."""


_NO_PROMPT = NoPrompt()


def client_can_elicit(ctx: Context[Any, Any]) -> bool:
    """True when the client declared form elicitation (a bare `elicitation: {}` counts)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


Consent = ElicitationResult[Any]
"""A person's answer to a plan: the form's data, a decline or a cancel, or `NoPrompt`."""


def asks_person(plan_fn: Callable[..., Any]) -> Resolve:
    """The resolver of a tool's consent parameter: it asks a person about the plan `plan_fn` builds."""

    async def ask_person(
        plan: Annotated[Plan, Resolve(plan_fn)], ctx: Context[Any, Any]
    ) -> Elicit[ConfirmForm] | NoPrompt:
        if not plan.changes or not client_can_elicit(ctx):
            return _NO_PROMPT  # nothing to change, or no way to ask: the gate's fallback decides
        holder: GateHolder = ctx.request_context.lifespan_context
        on = f"On profile {holder.profile().name!r}: " if holder.names_profiles else ""
        return Elicit(f"{on}{plan.summary}\n\nApply this change? Nothing changes unless you confirm.", ConfirmForm)

    return Resolve(ask_person)


Outcome = TypeVar("Outcome", bound="MutationOutcome")


class MutationOutcome(BaseModel):
    """Fields every mutating tool's result carries; a tool's own result model extends it.

    `status` is the new state after a change, or `declined` / `cancelled` /
    `confirmation_required` when nothing changed. The confirmation fields are the same for
    every mutating tool, so the server instructions describe them once instead of each
    tool's output schema repeating them (they are still validated and sent).
    """

    status: str
    message: SkipJsonSchema[str | None] = None
    plan: SkipJsonSchema[Plan | None] = None
    confirmation_token: SkipJsonSchema[str | None] = None
    expires_at: SkipJsonSchema[datetime | None] = None


class Halt(MutationOutcome):
    """The gate's answer when the change must not be applied now (not an error)."""

    def into(self, result_type: type[Outcome]) -> Outcome:
        """This answer as the tool's own result type."""
        return result_type.model_validate(self.model_dump())


class TokenError(ToolError):
    """A confirmation token was refused: nothing was sent to Mage."""


class DeniedError(ToolError):
    """The client cannot ask a person and the fallback is `deny`: nothing was sent to Mage."""


class ConfirmationTokens:
    """HMAC-signed, single-use tokens bound to a tool and its exact arguments.

    The key is this process's own unless a shared secret is given (`MAGE_MCP_CONFIRM_SECRET`), which
    lets every replica honour the others' tokens. A used token is claimed in the shared state until
    it expires, which is when it would be refused anyway.
    """

    def __init__(
        self,
        ttl_s: int,
        state: SharedState,
        *,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ttl_s = ttl_s
        self._state = state
        self._clock = clock
        self._key = derived_key(secret, "confirmation tokens") if secret else secrets.token_bytes(32)

    def issue(self, tool: str, arguments: Mapping[str, Any]) -> tuple[str, datetime]:
        expires = int(self._clock()) + self._ttl_s
        claims = {"t": tool, "a": self._digest(arguments), "e": expires, "n": secrets.token_urlsafe(12)}
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}", datetime.fromtimestamp(expires, UTC)

    async def redeem(self, token: str, tool: str, arguments: Mapping[str, Any]) -> None:
        """Accept the token once for exactly this call, or raise `TokenError` saying why."""
        claims = self._verified_claims(token)
        if claims.get("t") != tool:
            raise TokenError(f"This confirmation token was issued for {claims.get('t')!r}, not {tool!r}. {_RETRY}")
        if claims.get("a") != self._digest(arguments):
            raise TokenError(f"This confirmation token was issued for other arguments. {_RETRY}")
        if self._clock() >= claims["e"]:
            raise TokenError(f"This confirmation token has expired. {_RETRY}")
        try:
            first_use = await self._state.claim(f"token:{claims['n']}", claims["e"])
        except StateFullError:
            raise TokenError(
                f"More than {MAX_ENTRIES:,} changes were confirmed within {self._ttl_s} s; nothing was changed. "
                "Repeat the call with this token in a little while."
            ) from None
        if not first_use:
            raise TokenError(f"This confirmation token was already used; a token works once. {_RETRY}")

    def _verified_claims(self, token: str) -> dict[str, Any]:
        body, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise TokenError(f"This confirmation token was not issued by this server. {_RETRY}")
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return claims

    def _digest(self, arguments: Mapping[str, Any]) -> str:
        """Keyed, so a token's argument digest reveals nothing about secret argument values."""
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
        return _b64(hmac.new(self._key, canonical.encode(), hashlib.sha256).digest()[:16])

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def derived_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so one shared secret never serves two."""
    return hmac.new(secret, f"mage-mcp {purpose}".encode(), hashlib.sha256).digest()


_RETRY = "Nothing was changed. Call the tool again without confirmation_token to get a new plan and token."


ConfirmedBy = Literal["elicitation", "token", "allow"]


class ConfirmationGate:
    """Turns a consent outcome into how the change was confirmed, a `Halt` result, or a refusal."""

    def __init__(self, fallback: ConfirmFallback, tokens: ConfirmationTokens) -> None:
        self.fallback = fallback
        self.tokens = tokens

    async def settle(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        plan: Plan,
        consent: Consent,
        confirmation_token: str | None,
        *,
        fallback: ConfirmFallback | None = None,
    ) -> Halt | ConfirmedBy:
        """How the change was confirmed, or the `Halt` to answer; `fallback` overrides the gate's own."""
        if isinstance(consent, DeclinedElicitation):
            return _halt("declined", "Nothing changed: the change was declined.")
        if isinstance(consent, CancelledElicitation):
            return _halt("cancelled", "Nothing changed: the confirmation was cancelled.")
        assert isinstance(consent, AcceptedElicitation)
        if isinstance(consent.data, ConfirmForm):
            if consent.data.confirm:
                return "elicitation"
            return _halt("declined", "Nothing changed: the change was not confirmed.")
        return await self._fallback(tool, arguments, plan, confirmation_token, fallback or self.fallback)

    async def _fallback(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        plan: Plan,
        confirmation_token: str | None,
        fallback: ConfirmFallback,
    ) -> Halt | ConfirmedBy:
        if fallback == "allow":
            return "allow"
        if fallback == "deny":
            raise DeniedError(_DENIED)
        if confirmation_token is not None:
            await self.tokens.redeem(confirmation_token, tool, arguments)
            return "token"
        token, expires_at = self.tokens.issue(tool, arguments)
        return Halt(
            status="confirmation_required",
            message=_CONFIRM_BY_REPEATING,
            plan=plan,
            confirmation_token=token,
            expires_at=expires_at,
        )


def _halt(status: Literal["declined", "cancelled"], message: str) -> Halt:
    return Halt(status=status, message=message)


_DENIED = (
    "Not applied: this change needs a person's confirmation, and this client cannot show a "
    "confirmation prompt (MCP elicitation). Use a client that supports elicitation, or set "
    "MAGE_MCP_CONFIRM_FALLBACK=token (confirm by repeating the call with a token) or "
    "MAGE_MCP_CONFIRM_FALLBACK=allow (trusted automation only)."
)
_CONFIRM_BY_REPEATING = (
    "Nothing changed yet. Show this plan to the user and ask them to approve it. If they do, "
    "repeat the same call with the same arguments plus confirmation_token (single use, valid until expires_at)."
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- a mutating tool as one declaration ------------------------------------------------------

TOKEN_CHARS = 1_000
"""An issued token has about 150 characters."""
ConfirmationToken = Annotated[str | None, Field(max_length=TOKEN_CHARS)]
"""Explained once, in the server instructions, instead of in every mutating tool's schema."""

_OWN_PARAMETERS = ("plan", "consent", "confirmation_token")


class GateHolder(typing.Protocol):
    """What the server's lifespan context offers a mutating tool: the gate, the audit log, the call's profile."""

    gate: ConfirmationGate
    audit: AuditLog

    @property
    def names_profiles(self) -> bool: ...

    def profile(self, name: str | None = None) -> Profile: ...


def confirmed(
    apply: Callable[..., Awaitable[Outcome]],
    plan: Callable[..., Awaitable[Plan]],
    settle: Callable[..., Awaitable[Outcome | None]] | None = None,
) -> Callable[..., Awaitable[Outcome]]:
    """The tool to register for a mutating operation, declared as its `plan` and its `apply` step.

    `apply(ctx, plan, **arguments)` is the tool's own body: it runs only once the change is
    confirmed, and its return annotation (a `MutationOutcome`) is the tool's result type.
    `plan` takes the context and any of the tool's arguments by name, and only reads. The
    tool's arguments are `apply`'s (without `ctx` and `plan`) plus `confirmation_token`; the
    token binds the tool's name and every one of them, so none can be forgotten. `settle`, called
    like `apply` when the answer to its change was lost, reads Mage: the outcome when the change
    took effect, None when it did not, and `Undecided` when Mage shows part of it.
    """
    hints = typing.get_type_hints(apply, include_extras=True)
    result_type: type[Outcome] = hints["return"]
    context, _plan, *arguments = inspect.signature(apply).parameters.values()
    if _plan.name != "plan" or any(p.name in _OWN_PARAMETERS for p in arguments):
        raise TypeError(
            f"{apply.__name__}: apply(ctx, plan, **arguments); 'consent' and 'confirmation_token' are the gate's"
        )
    name = apply.__name__
    masked = argument_masker(apply)

    @functools.wraps(apply)
    async def tool(**call: Any) -> Outcome:
        ctx: Context[GateHolder, Any] = call.pop(context.name)
        the_plan: Plan = call.pop("plan")
        consent: Consent = call.pop("consent")
        token: str | None = call.pop("confirmation_token")
        if not the_plan.changes:
            return the_plan.unchanged_result(result_type)
        holder = ctx.request_context.lifespan_context
        profile = holder.profile()
        if holder.names_profiles:
            the_plan = the_plan.model_copy(update={"profile": profile.name})
        attempt = Attempt(holder.audit, profile.name, name, masked(call))
        bound = {**call, "profile": profile.name}  # a token for one target never applies to another
        try:
            settled = await holder.gate.settle(name, bound, the_plan, consent, token, fallback=profile.confirm_fallback)
        except ToolError as exc:
            # denied by the fallback; refused for a bad token or a shared state that did not answer
            await attempt.ended("denied" if isinstance(exc, DeniedError) else "refused", message=str(exc))
            raise
        if isinstance(settled, Halt):
            await attempt.ended(typing.cast(AuditOutcome, settled.status))
            return settled.into(result_type)
        return await attempt.applying(settled, lambda: _applied_or_settled(apply, settle, ctx, the_plan, call))

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        context.replace(kind=keyword, annotation=hints[context.name]),
        inspect.Parameter("plan", keyword, annotation=Annotated[Plan, Resolve(plan)]),
        inspect.Parameter("consent", keyword, annotation=Annotated[Consent, asks_person(plan)]),
        *(p.replace(kind=keyword, annotation=hints[p.name]) for p in arguments),
        inspect.Parameter("confirmation_token", keyword, default=None, annotation=ConfirmationToken),
    ]
    del tool.__wrapped__  # the SDK must see the signature below, not apply's
    tool.__signature__ = inspect.Signature(parameters, return_annotation=result_type)  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": result_type}
    return tool


async def _applied_or_settled(
    apply: Callable[..., Awaitable[Outcome]],
    settle: Callable[..., Awaitable[Outcome | None]] | None,
    ctx: Context[Any, Any],
    plan: Plan,
    call: dict[str, Any],
) -> Outcome:
    try:
        return await apply(ctx, plan, **call)
    except MageOutcomeUnknownError as lost:
        if settle is None:
            raise
        try:
            outcome = await settle(ctx, plan, **call)
        except MageError:  # Mage cannot be read either: the outcome stays unknown
            raise lost from None
        except Undecided as seen:
            raise MageOutcomeUnknownError(f"{lost.message} Reading Mage back: {seen}", hint=lost.hint) from None
    if outcome is None:
        raise ToolError(_NOT_APPLIED)
    return outcome


class Undecided(Exception):
    """What a `settle` raises when Mage shows part of the change, or a state the change cannot explain:
    the outcome stays unknown, and the message says what Mage shows."""


_NOT_APPLIED = (
    "Mage's answer to the change was lost, and reading it back shows the change was not applied: nothing "
    "changed. The call can be repeated."
)
