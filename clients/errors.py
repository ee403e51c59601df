"""One exception tree for everything that can go wrong talking to Mage.

Messages are written for the person (or model) reading them: what failed, Mage's own
code and type when there is one, and a hint for what to do next. They never carry a
password, a token, an API key or a URL that embeds one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    """The object a request addresses: its kind (`pipeline`, `block`, `trigger`, ...) and its id or name."""

    kind: str
    key: str | int

    def __str__(self) -> str:
        return f"{self.kind} {self.key!r}" if isinstance(self.key, str) else f"{self.kind} {self.key}"


class MageError(Exception):
    """Base class: a call to Mage (Cloud or cluster) did not succeed."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        type: str | None = None,
        hint: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.type = type
        self.hint = hint
        self.kind = kind
        """The kind of object the failed call addressed (a `Subject.kind`), when the client knows it."""

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None or self.type:
            tag = ", ".join(p for p in (str(self.code) if self.code is not None else "", self.type or "") if p)
            parts.append(f"(Mage error {tag})")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return " ".join(parts)


class MageConnectionError(MageError):
    """Mage did not answer: wrong URL, stopped cluster, network trouble or a timeout."""


class MageOutcomeUnknownError(MageConnectionError):
    """A change was sent (or may have been), and its answer never came: it may or may not have been applied."""


class MageAuthError(MageError):
    """Mage refused our credentials (bad API key, failed login, expired token)."""


HIDDEN_RUN = "hidden pipeline run"
"""The `kind` of the not-found error for a run Mage keeps but no longer shows (its trigger was deleted)."""


class MageNotFoundError(MageError):
    """The pipeline, run, trigger, team or cluster does not exist."""


class MageInvalidRequestError(MageError):
    """Mage rejected what we sent (validation error, malformed body)."""


class MageApiError(MageError):
    """Any other error Mage reported, including its unhandled server exceptions."""


class MageUnsupportedError(MageError):
    """This Mage does not serve the feature (workspaces or deployments on a plain Mage OSS)."""
