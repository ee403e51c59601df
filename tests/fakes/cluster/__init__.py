"""A fake of the Mage OSS cluster API (mage-ai 0.9.80), served under ``/api``.

It reproduces what ``mage-api.md`` and ``mage-real.md`` describe, quirks included:

* errors are HTTP 200 with an ``error`` body in three shapes: handled
  ``{"error": {"code", "message", "type"}, "status": 200}``, auth failures (the same body but HTTP
  401), and unhandled exceptions ``{"error": {"code": 500, "errors", "exception", "message"},
  "url_parameters": {...}}`` (no ``type``, no ``status``);
* auth: ``X-API-KEY`` on every call except ``/api/status(es)`` and the API-trigger routes; the session
  token is a JWT (HS256, secret ``materia``) wrapping a raw token. Bearer/OAUTH-TOKEN take the raw
  token, the ``oauth_token`` cookie takes the whole JWT;
* after any password login, 404 messages read "Email/username and/or password invalid." (Mage mutates
  a shared error dict);
* pipelines paginate with ``{"count", "results", "next"}`` (``next`` null without ``_limit``), the
  DB-backed lists with ``{"count", "next"}`` and a default limit of 40;
* a missing pipeline is an unhandled error (shape 3), a missing run/trigger a handled 404;
* runs start ``initial``; API triggers need only the trigger token and re-activate inactive triggers;
* datetimes come in Mage's inconsistent formats; PATCH is a bare HTTP 405.

* logs come whole per file from ``GET /api/pipelines/{uuid}/logs``, filtered only by the array forms
  (``pipeline_run_id[]``; the plain ``pipeline_run_id`` is ignored); block run outputs answer an
  unknown id with an empty list; run lists filter, order and group retries as Mage does.

Test hooks: ``expire_tokens()``, ``logins``, ``recorder``, ``complete_run()``, ``auto_complete``,
``add_pipeline()``, ``add_trigger()``, ``trigger_run()``, ``add_runs()``, ``add_log()``, ``add_raw_log()``,
``add_editor_log()``, ``set_block_output()``, ``block_file()``, ``add_secret()``, ``secret_value()``,
``init_repo()``, ``commit()``, ``configure_sync()``, ``push_to_remote()``, ``add_workspace()``,
``add_deployment_setting()``, ``pro`` (serve workspaces and deployments as Mage Pro does), and the live state
dicts ``pipelines``, ``pipeline_schedules``, ``pipeline_runs``, ``orphaned_runs`` (runs of deleted triggers).
Each resource module's docstring says what it reproduces.

One module per resource (``sessions``, ``pipelines``, ``blocks``, ``variables``, ``triggers``, ``runs``,
``logs``, ``outputs``, ``secrets``, ``workspaces``, ``git``)
on a shared ``core``; ``FakeMage`` combines them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import Handler
from .git import GitRoutes
from .helpers import (
    MAGE_PUBLIC_API_KEY,
    clean_name,
    inner_token,
    jwt_decode,
    jwt_encode,
)
from .outputs import table_output, text_output
from .pipelines import PipelinesRoutes
from .secrets import SecretsRoutes
from .sessions import SessionsRoutes
from .workspaces import WorkspacesRoutes


class FakeMage(SessionsRoutes, PipelinesRoutes, SecretsRoutes, WorkspacesRoutes, GitRoutes):
    """In-memory Mage OSS API. ``fake.app`` is an ASGI app (httpx.ASGITransport or uvicorn)."""

    def __init__(self, *, seed_example_pipeline: bool = True, **settings: Any) -> None:
        """`settings` are `FakeCore`'s: require_auth, email, password, api_key, username, auto_complete."""
        super().__init__(**settings)
        if seed_example_pipeline:
            self._seed_example_pipeline()

    def _handlers(self) -> Mapping[str, Handler]:
        return {
            "sessions": self._sessions,
            "pipelines": self._pipelines,
            "pipeline_schedules": self._schedules,
            "pipeline_runs": self._runs,
            "block_runs": self._block_runs,
            "file_contents": self._file_contents,
            "secrets": self._secrets,
            "workspaces": self._workspaces,
            "syncs": self._syncs,
            "git_custom_branches": self._git_custom_branches,
            "deployment_settings": self._deployment_settings,
        }


__all__ = [
    "MAGE_PUBLIC_API_KEY",
    "FakeMage",
    "clean_name",
    "inner_token",
    "jwt_decode",
    "jwt_encode",
    "table_output",
    "text_output",
]
