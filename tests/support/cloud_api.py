"""A Cloud API (the local cloud's) spoken raw, and the cloud.env a local cloud writes for its clients.

Log in with `X-API-KEY` and the account's email and password; the session token goes back as the
`oauth_token` cookie, next to the `X-API-KEY`. Never goes through the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

CLOUD_ENV_NAMES = (
    "MAGE_CLOUD_URL",
    "MAGE_CLOUD_API_KEY",
    "MAGE_CLOUD_EMAIL",
    "MAGE_CLOUD_PASSWORD",
    "MAGE_TEAM_ID",
    "MAGE_CLUSTER_ID",
    "MAGE_CLUSTER_URL",
    "MAGE_EMAIL",
    "MAGE_PASSWORD",
)
SECRET_ENV_NAMES = ("MAGE_CLOUD_API_KEY", "MAGE_CLOUD_PASSWORD", "MAGE_PASSWORD")


def read_env_file(path: Path) -> dict[str, str]:
    """A NAME=VALUE file such as cloud.env, values as written; any other non-blank line fails the test."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            name, sep, value = line.partition("=")
            assert sep and name and name not in values, f"{path}, line {number}: not NAME=VALUE of a new NAME"
            values[name] = value
    return values


def secrets_of(env: dict[str, str]) -> list[str]:
    """The values of a cloud.env that must never be shown or logged."""
    return [env[name] for name in SECRET_ENV_NAMES]


class CloudApi:
    """The Cloud API at `url` (its base, such as .../api/v1) through `http`, as the given account."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        api_key: str,
        email: str,
        password: str,
        team_id: str = "local",
        cluster_id: str = "local-1",
    ) -> None:
        self.http, self.url = http, url
        self.api_key, self.email, self.password = api_key, email, password
        self.team_id, self.cluster_id = team_id, cluster_id
        self.tokens: list[str] = []  # every session token handed out

    @classmethod
    def from_env(cls, env: dict[str, str], *, timeout: float) -> CloudApi:
        """The Cloud API and cluster of a cloud.env, over a client of its own (to `aclose`)."""
        return cls(
            httpx.AsyncClient(timeout=timeout),
            env["MAGE_CLOUD_URL"],
            api_key=env["MAGE_CLOUD_API_KEY"],
            email=env["MAGE_CLOUD_EMAIL"],
            password=env["MAGE_CLOUD_PASSWORD"],
            team_id=env["MAGE_TEAM_ID"],
            cluster_id=env["MAGE_CLUSTER_ID"],
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def key_header(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key}

    def auth(self, token: str) -> dict[str, str]:
        return {**self.key_header(), "Cookie": f"oauth_token={token}"}

    def cluster_url(self, cluster_id: str | None = None, *, team_id: str | None = None) -> str:
        return f"{self.url}/teams/{team_id or self.team_id}/clusters/{cluster_id or self.cluster_id}"

    async def login(self) -> str:
        """A new session token; the login must succeed."""
        credentials = {"email": self.email, "password": self.password}
        response = await self.http.post(
            f"{self.url}/sessions", headers=self.key_header(), json={"session": credentials}
        )
        assert response.status_code == 200, response.text
        token = response.json()["session"]["token"]
        assert isinstance(token, str)
        assert token
        self.tokens.append(token)
        return token

    async def get(
        self, cluster_id: str | None = None, *, team_id: str | None = None, token: str | None = None
    ) -> httpx.Response:
        """GET the cluster with `token` (None: a new login's)."""
        token = token or await self.login()
        return await self.http.get(self.cluster_url(cluster_id, team_id=team_id), headers=self.auth(token))

    async def put(
        self, body: Any, cluster_id: str | None = None, *, team_id: str | None = None, token: str | None = None
    ) -> httpx.Response:
        """PUT `body` with `token` (None: a new login's): bytes are sent as they are, anything else as JSON."""
        token = token or await self.login()
        headers = {**self.auth(token), "Content-Type": "application/json"}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.put(self.cluster_url(cluster_id, team_id=team_id), headers=headers, content=content)

    async def cluster(self, cluster_id: str | None = None, *, token: str | None = None) -> dict[str, Any]:
        """The cluster, as a GET that must succeed returns it."""
        return _cluster_of(await self.get(cluster_id, token=token))

    async def put_cluster(self, update: dict[str, Any], cluster_id: str | None = None) -> dict[str, Any]:
        """PUT {"cluster": update}, which must succeed (set-up only); the cluster it returns."""
        return _cluster_of(await self.put({"cluster": update}, cluster_id))


def _cluster_of(response: httpx.Response) -> dict[str, Any]:
    request = response.request
    assert response.status_code == 200, (
        f"{request.method} {request.url} -> HTTP {response.status_code}: {response.text}"
    )
    return dict(response.json()["cluster"])
