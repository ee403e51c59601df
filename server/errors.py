"""Upstream failures and bad input, turned into error text a model can act on.

Every message says what failed and what to do; none repeats an argument's value, since
arguments can carry secrets (environment variable values, run variables).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from mage_mcp.clients import (
    MageApiError,
    MageAuthError,
    MageConnectionError,
    MageError,
    MageNotFoundError,
    MageOutcomeUnknownError,
)
from mage_mcp.tools import Plane

Setting = Callable[[str], str]
"""How an operator sets a profile field: `Profile.setting` (a variable name, or a key of the profiles file)."""

_AUTH_FIELDS: dict[Plane, tuple[str, str, str]] = {
    "cluster": ("api_key", "email", "password"),
    "cloud": ("cloud_api_key", "cloud_email", "cloud_password"),
}


def _auth_hint(plane: Plane, setting: Setting) -> str:
    key, email, password = (setting(field) for field in _AUTH_FIELDS[plane])
    account = " (an owner or editor account of the cluster)" if plane == "cluster" else ""
    return f"Check {key}, {email} and {password}{account}."


def _unreachable_hint(plane: Plane, setting: Setting) -> str:
    if plane == "cloud":
        return f"Check {setting('cloud_url')} and the network."
    return (
        "get_cluster says whether the cluster runs and answers; a stopped one starts with start_cluster "
        "(wait=true waits until it answers). After a start or an env var change its API takes a while to answer. "
        f"Otherwise check {setting('cluster_url')}."
    )


def _not_found_hint(plane: Plane, setting: Setting) -> str:
    if plane == "cloud":
        return f"Check team_id and cluster_id (or {setting('team_id')} and {setting('cluster_id')})."
    return "list_pipelines lists the pipelines, list_runs the runs with their ids."


_NOT_FOUND_HINTS_BY_KIND: dict[str, str] = {
    "pipeline": "list_pipelines lists the pipelines by uuid (a rename changes a pipeline's uuid).",
    "block": "get_pipeline lists the pipeline's blocks by uuid.",
    "trigger": "list_triggers lists the triggers with their ids.",
    "pipeline run": "list_runs lists the runs with their ids.",
    "hidden pipeline run": "delete_run still deletes it.",
    "block run": "get_run lists a run's block runs with their ids.",
    "variable": "list_variables lists the pipeline's variables.",
    "secret": "list_secrets lists the secret names.",
    "workspace": "list_workspaces lists the workspaces by name.",
}


_FAILED_UPSTREAM_HINTS: dict[Plane, str] = {
    "cluster": "Mage failed on its own side; the same call may work a little later (after a change, read it "
    "back first). get_cluster shows whether the cluster is healthy.",
    "cloud": "Mage Cloud failed on its own side; the same call may work a little later. get_cluster shows the "
    "cluster's state.",
}

READ_BACK_BY_TOOLSET: dict[str, str] = {
    "clusters": "get_cluster",
    "pipelines": "get_pipeline",
    "blocks": "get_block",
    "triggers": "list_triggers",
    "runs": "list_runs",
    "variables": "list_variables",
    "secrets": "list_secrets",
    "workspaces": "get_workspace",
    "git": "git_status",
}
"""The tool that shows whether a change of each toolset took effect."""


def describe_upstream(error: MageError, plane: Plane, setting: Setting, toolset: str | None = None) -> str:
    """The text of a tool error for a failed call to Mage, with a hint for the next step that names
    the settings of the profile the call used (and, after a lost answer, the tool that reads it back)."""
    hint = error.hint
    if isinstance(error, MageOutcomeUnknownError):
        read_back = READ_BACK_BY_TOOLSET.get(toolset or "", "the matching list or get tool")
        hint = f"Read it back with {read_back} before repeating the call: a change applied twice may differ."
    elif isinstance(error, MageConnectionError):
        hint = _unreachable_hint(plane, setting)
    elif isinstance(error, MageNotFoundError) and hint is None:
        hint = _NOT_FOUND_HINTS_BY_KIND.get(error.kind or "") or _not_found_hint(plane, setting)
    elif isinstance(error, MageApiError) and hint is None and (error.code or 500) >= 500:
        hint = _FAILED_UPSTREAM_HINTS[plane]
    elif isinstance(error, MageAuthError):
        login = f"Set {setting('email')} and {setting('password')}."
        hint = login if error.type == "login_required" else _auth_hint(plane, setting)
    return str(type(error)(error.message, code=error.code, type=error.type, hint=hint, kind=error.kind))


def describe_invalid_arguments(error: ValidationError) -> str:
    """Pydantic's own text quotes the rejected values; this names the fields and the rule only."""
    problems = [
        f"{'.'.join(str(part) for part in issue['loc']) or 'arguments'}: {issue['msg']}"
        for issue in error.errors(include_input=False, include_url=False)
    ]
    return "Invalid arguments: " + "; ".join(problems)


def describe_invalid_value(error: ValidationError, name: str) -> str:
    """`name: rule`, for one value checked on its own (a resource's or prompt's argument); never the value."""
    problems = [issue["msg"] for issue in error.errors(include_input=False, include_url=False)]
    return f"{name}: {'; '.join(problems)}"


def describe_unexpected(error: BaseException | None, mutating: bool) -> str:
    """A failure inside mage-mcp itself: its kind only (its text may quote an argument), and what to do."""
    kind = type(error).__name__ if error is not None else "unknown"
    after = (
        " It may have stopped after sending a change: read the object back before repeating the call."
        if mutating
        else " Nothing was changed; a retry with other arguments may work."
    )
    return f"mage-mcp failed unexpectedly ({kind}); the server's log has the details.{after}"
