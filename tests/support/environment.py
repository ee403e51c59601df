"""The environment of a server process a test starts: nothing of the user's own configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

INHERITED = ("PATH", "HOME", "XDG_CONFIG_HOME", "MAGE_MCP_AUDIT_LOG")
"""PATH and HOME to run; the last two point at the test session's own directory (tests/conftest.py)."""


def server_env(**extra: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come only from what a test passes: no MAGE_* variable or .env file leaks in; the audit log
    is the test's own. Autouse wherever a conftest or test module imports it."""
    for name in [n for n in os.environ if n.startswith("MAGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("MAGE_MCP_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.chdir(tmp_path)
