"""Upstream failures and bad input, turned into error text a model can act on.

Every message says what failed and what to do; none repeats an argument's value, since
arguments can carry secrets (environment variable values, run variables).
"""

from __future__ import annotations

from pydantic import ValidationError

from mage_mcp.clients import MageAuthError, MageConnectionError, MageError, MageNotFoundError
from mage_mcp.tools import Plane

_AUTH_HINTS: dict[Plane, str] = {
    "cluster": "Check MAGE_API_KEY, MAGE_EMAIL and MAGE_PASSWORD (an owner or editor account of the cluster).",
    "cloud": "Check MAGE_CLOUD_API_KEY, MAGE_CLOUD_EMAIL and MAGE_CLOUD_PASSWORD.",
}
_UNREACHABLE_HINTS: dict[Plane, str] = {
    "cluster": "get_cluster says whether the cluster runs and answers; a stopped one starts with start_cluster "
    "(wait=true waits until it answers). After a start or an env var change its API takes a while to answer. "
    "Otherwise check MAGE_CLUSTER_URL.",
    "cloud": "Check MAGE_CLOUD_URL and the network.",
}
_NOT_FOUND_HINTS: dict[Plane, str] = {
    "cluster": "list_pipelines lists the pipelines, list_runs the runs with their ids.",
    "cloud": "Check team_id and cluster_id (or MAGE_TEAM_ID and MAGE_CLUSTER_ID).",
}
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


def describe_upstream(error: MageError, plane: Plane) -> str:
    """The text of a tool error for a failed call to Mage, with a hint for the next step."""
    hint = error.hint
    if isinstance(error, MageConnectionError):
        hint = _UNREACHABLE_HINTS[plane]
    elif isinstance(error, MageNotFoundError) and hint is None:
        hint = _NOT_FOUND_HINTS_BY_KIND.get(error.kind or "", _NOT_FOUND_HINTS[plane])
    elif isinstance(error, MageAuthError):
        hint = "Set MAGE_EMAIL and MAGE_PASSWORD." if error.type == "login_required" else _AUTH_HINTS[plane]
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
