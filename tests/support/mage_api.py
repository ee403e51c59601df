"""Mage's own API, spoken raw: the tests' set-up and their view of what reached Mage, never the code under test.

Log in with `X-API-KEY` and the owner's email and password; Mage answers with a JWT whose payload
holds the access token to send as `Authorization: Bearer`. Nothing here matches Mage's error
messages, which are unreliable (mage-real.md, quirk 3).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import anyio
import httpx

# Mage's built-in frontend OAuth client id (public, not a secret), sent as X-API-KEY.
MAGE_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"
TERMINAL_RUN_STATUSES = frozenset({"completed", "failed", "cancelled"})


class ApiFailure(AssertionError):
    """A set-up or check request (not the code under test) failed."""


def _session(response: httpx.Response) -> tuple[str, str]:
    """A login's session token (a JWT) and the access token inside it."""
    body = response.json()
    if "session" not in body:
        raise ApiFailure(f"Mage login -> HTTP {response.status_code}: {(body.get('error') or {}).get('type')}")
    token = str(body["session"]["token"])
    payload = token.split(".")[1]
    return token, str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["token"])


def login_token(url: str, email: str, password: str) -> str:
    """Log in to the Mage at `url` (blocking: for a sync fixture); the access token for `MageApi(url, token=...)`."""
    response = httpx.post(
        f"{url}/api/sessions",
        headers={"X-API-KEY": MAGE_API_KEY},
        json={"session": {"email": email, "password": password}},
        timeout=30,
    )
    return _session(response)[1]


class MageApi:
    """The API of the Mage at `url`, with the access token of `token` or of the last `login`."""

    def __init__(self, url: str, *, token: str | None = None) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=f"{url}/api", headers={"X-API-KEY": MAGE_API_KEY}, timeout=30)
        if token is not None:
            self.http.headers["Authorization"] = f"Bearer {token}"

    async def aclose(self) -> None:
        await self.http.aclose()

    async def status(self, *, seconds: float = 20) -> dict[str, Any] | None:
        """`GET /api/status` (no auth needed), or None when nothing sensible answers there within `seconds`."""
        try:
            body = (await self.http.get("/status", timeout=seconds)).json()
        except (httpx.HTTPError, ValueError):
            return None
        statuses = body.get("statuses") if isinstance(body, dict) else None
        first = statuses[0] if isinstance(statuses, list) and statuses else None
        return dict(first) if isinstance(first, dict) else None

    async def login(self, email: str, password: str) -> str:
        """Log in; later calls send the new access token. Returns the session token Mage handed out."""
        response = await self.http.post("/sessions", json={"session": {"email": email, "password": password}})
        token, access = _session(response)
        self.http.headers["Authorization"] = f"Bearer {access}"
        return token

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or "error" in body:
            error = body.get("error") or {}
            detail = error.get("exception") or error.get("type") or error.get("code")
            raise ApiFailure(f"{method} /api{path} -> HTTP {response.status_code}: {str(detail)[:300]}")
        return body

    async def create_pipeline(self, name: str) -> str:
        body = await self.call("POST", "/pipelines", json={"pipeline": {"name": name, "type": "python"}})
        return str(body["pipeline"]["uuid"])

    async def add_loader_block(self, pipeline_uuid: str, name: str, code: str) -> str:
        block = {"name": name, "type": "data_loader", "language": "python", "content": code}
        body = await self.call("POST", f"/pipelines/{pipeline_uuid}/blocks", json={"block": block})
        return str(body["block"]["uuid"])

    async def block_code(self, pipeline_uuid: str, block_uuid: str) -> str:
        body = await self.call("GET", f"/pipelines/{pipeline_uuid}/blocks/{block_uuid}")
        return str(body["block"]["content"])

    async def schedules(self, pipeline_uuid: str) -> list[dict[str, Any]]:
        body = await self.call("GET", f"/pipelines/{pipeline_uuid}/pipeline_schedules", params={"_limit": 100})
        return list(body["pipeline_schedules"])

    async def runs(self, pipeline_uuid: str) -> list[dict[str, Any]]:
        """Every run of the pipeline, retries not grouped (grouping can show a run twice or hide one)."""
        params = {"pipeline_uuid": pipeline_uuid, "disable_retries_grouping": "true", "_limit": 100}
        return list((await self.call("GET", "/pipeline_runs", params=params))["pipeline_runs"])

    async def run(self, run_id: int) -> dict[str, Any]:
        return dict((await self.call("GET", f"/pipeline_runs/{run_id}"))["pipeline_run"])

    async def block_output(self, block_run_id: int) -> dict[str, Any]:
        """A block run's table output: {"columns": [...], "rows": [[...], ...]}."""
        body = await self.call("GET", f"/block_runs/{block_run_id}/outputs")
        return dict(body["outputs"][0]["sample_data"])

    async def remove_pipeline(self, pipeline_uuid: str) -> None:
        """Stop its unfinished runs, then delete its triggers and the pipeline (Mage keeps both otherwise)."""
        for run in await self.runs(pipeline_uuid):
            if run["status"] not in TERMINAL_RUN_STATUSES:
                await self.call("PUT", f"/pipeline_runs/{run['id']}", json={"pipeline_run": {"status": "cancelled"}})
        for schedule in await self.schedules(pipeline_uuid):
            await self.call("DELETE", f"/pipeline_schedules/{schedule['id']}")
        await self.call("DELETE", f"/pipelines/{pipeline_uuid}")

    async def pipeline_uuids(self) -> list[str]:
        body = await self.call("GET", "/pipelines", params={"_limit": 100})
        return [str(p["uuid"]) for p in body["pipelines"]]

    async def start_run(self, pipeline_uuid: str, variables: dict[str, Any]) -> int:
        """A new API trigger of the pipeline, then a run of it through the trigger's token; the run's id."""
        trigger = {"name": f"test-{time.monotonic_ns()}", "schedule_type": "api"}
        triggers = f"/pipelines/{pipeline_uuid}/pipeline_schedules"
        schedule = (await self.call("POST", triggers, json={"pipeline_schedule": trigger}))["pipeline_schedule"]
        path = f"/pipeline_schedules/{schedule['id']}/pipeline_runs/{schedule['token']}"
        run = await self.call("POST", path, json={"pipeline_run": {"variables": variables}})
        return int(run["pipeline_run"]["id"])

    async def wait_run(self, run_id: int, timeout_s: float) -> dict[str, Any]:
        """The run once it is completed, failed or cancelled; ApiFailure after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while (run := await self.run(run_id))["status"] not in TERMINAL_RUN_STATUSES:
            if time.monotonic() > deadline:
                blocks = {uuid: b.get("status") for uuid, b in (await self.block_runs(run_id)).items()}
                raise ApiFailure(f"run {run_id} still {run['status']} after {timeout_s:g} s; block runs: {blocks}")
            await anyio.sleep(0.25)
        return run

    async def block_runs(self, run_id: int) -> dict[str, dict[str, Any]]:
        """The run's block runs by block uuid."""
        body = await self.call("GET", "/block_runs", params={"pipeline_run_id": run_id})
        return {str(b["block_uuid"]): dict(b) for b in body["block_runs"]}

    async def log_messages(self, pipeline_uuid: str, run_id: int, block_uuid: str) -> list[str]:
        """The `message` of every log entry one block wrote in a run (lines of `<ts> {json}`)."""
        params = {"pipeline_run_id[]": run_id, "block_uuid[]": block_uuid}
        body = await self.call("GET", f"/pipelines/{pipeline_uuid}/logs", params=params)
        messages = []
        for log in body["logs"][0]["block_run_logs"]:
            for line in str(log["content"]).splitlines():
                _, _, entry = line.partition(" ")
                if entry.startswith("{"):
                    messages.append(str(json.loads(entry).get("message")))
        return messages

    async def variables(self, pipeline_uuid: str) -> dict[str, Any]:
        """The pipeline's global variables, name → value (`global_only`: no block outputs read)."""
        body = await self.call("GET", f"/pipelines/{pipeline_uuid}/variables", params={"global_only": "true"})
        (entry,) = [e for e in body["variables"] if e["block"]["uuid"] == "global"]
        return {str(v["uuid"]): v["value"] for v in entry["variables"]}

    async def secret_names(self) -> list[str]:
        names: list[str] = []
        while True:
            body = await self.call("GET", "/secrets", params={"_limit": 100, "_offset": len(names)})
            names += [str(s["name"]) for s in body["secrets"]]
            if not body["metadata"]["next"]:
                return names

    async def delete_secret(self, name: str) -> None:
        await self.call("DELETE", f"/secrets/{name}")

    async def pipeline(self, pipeline_uuid: str) -> dict[str, Any]:
        """The pipeline as Mage shows it (blocks without code); ApiFailure when it does not exist."""
        params = {"includes_content": "false", "includes_outputs": "false"}
        return dict((await self.call("GET", f"/pipelines/{pipeline_uuid}", params=params))["pipeline"])

    async def add_schedule(self, pipeline_uuid: str, name: str, **fields: Any) -> dict[str, Any]:
        """A new trigger of the pipeline (inactive unless `status` says otherwise)."""
        payload = {"name": name, **fields}
        path = f"/pipelines/{pipeline_uuid}/pipeline_schedules"
        return dict((await self.call("POST", path, json={"pipeline_schedule": payload}))["pipeline_schedule"])

    async def all_schedules(self) -> list[dict[str, Any]]:
        """Every trigger of the project, those of deleted pipelines too."""
        schedules: list[dict[str, Any]] = []
        while True:
            params = {"_limit": 100, "_offset": len(schedules)}
            body = await self.call("GET", "/pipeline_schedules", params=params)
            schedules += body["pipeline_schedules"]
            if not body["metadata"]["next"]:
                return schedules

    async def blocks(self, pipeline_uuid: str) -> dict[str, dict[str, Any]]:
        """The pipeline's blocks by uuid (without code), as Mage shows them."""
        return {str(b["uuid"]): dict(b) for b in (await self.pipeline(pipeline_uuid))["blocks"]}

    async def add_block(
        self, pipeline_uuid: str, name: str, block_type: str, code: str | None = None, upstream: list[str] | None = None
    ) -> str:
        """A new python block of the pipeline (Mage's template without `code`); its uuid."""
        block = {"name": name, "type": block_type, "language": "python", "upstream_blocks": upstream or []}
        if code is not None:
            block["content"] = code
        body = await self.call("POST", f"/pipelines/{pipeline_uuid}/blocks", json={"block": block})
        return str(body["block"]["uuid"])

    async def file_size(self, path: str) -> int | None:
        """The size of the project's file at `path` (relative to the project); None when there is no such file."""
        body = await self.call("GET", f"/file_contents/{path.replace('/', '%2F')}")
        size = body["file_content"]["size"]
        return None if size is None else int(size)
