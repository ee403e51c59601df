"""Fixtures for tests against a real Mage OSS server (started through mage_mcp.local.mage).

Every test collected under this folder is marked ``mage``; deselect them with ``-m "not mage"``.
The first run on a machine without the Mage venv installs it (about 70 s, 1.4 GB).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from mage_mcp.local import mage
from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import ConfirmFallback, Settings
from tests.support.mage_api import MageApi, login_token
from tests.support.ports import free_port

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.mage)


@dataclass(frozen=True)
class RealMage:
    """The session's Mage server: auth ON, owner ``email``/``password`` (never admin/admin)."""

    url: str
    email: str
    password: str
    project_dir: Path

    @property
    def port(self) -> int:
        port = urlsplit(self.url).port
        assert port is not None
        return port


@pytest.fixture(scope="session")
def real_mage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealMage]:
    """One real Mage (auth on) for the whole test session, stopped at the end even on failure."""
    project_dir = tmp_path_factory.mktemp("real-mage")
    email = f"owner-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    try:
        instance = mage.start(project_dir, free_port(), auth=True, owner_email=email, owner_password=password)
        yield RealMage(url=instance.url, email=email, password=password, project_dir=project_dir)
    finally:
        mage.stop(project_dir)


@pytest.fixture
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come only from what a test passes: no MAGE_* variable or .env file leaks in; the audit
    log is the test's own."""
    for name in [n for n in os.environ if n.startswith("MAGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MAGE_MCP_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def admin_token(real_mage: RealMage) -> str:
    """One owner login for the module (a login costs about 1 s of bcrypt in Mage)."""
    return login_token(real_mage.url, real_mage.email, real_mage.password)


@pytest.fixture
async def admin(real_mage: RealMage, admin_token: str) -> AsyncIterator[MageApi]:
    """Mage's own API as the owner: test set-up and the test's view of what reached Mage."""
    async with aclosing(MageApi(real_mage.url, token=admin_token)) as api:
        yield api


ServerFactory = Callable[..., MageMCPServer]


@pytest.fixture
def make_server(real_mage: RealMage) -> ServerFactory:
    """Servers for the session's Mage. The fallback defaults to `deny`, so a test that expects a
    prompt fails loudly if the server never asks."""

    def make(*, password: str | None = None, fallback: ConfirmFallback = "deny") -> MageMCPServer:
        return build_server(
            Settings(
                mage_cluster_url=real_mage.url,
                mage_email=real_mage.email,
                mage_password=SecretStr(password if password is not None else real_mage.password),
                mage_mcp_confirm_fallback=fallback,
            )
        )

    return make
