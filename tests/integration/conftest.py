"""Fixtures for tests against a real Mage OSS server (started through mage_mcp.local.mage).

Every test collected under this folder is marked ``mage``; deselect them with ``-m "not mage"``.
The first run on a machine without the Mage venv installs it (about 70 s, 1.4 GB).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from mage_mcp.local import mage
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
