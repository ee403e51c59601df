"""The environment of a server process a test starts: nothing of the user's own configuration."""

from __future__ import annotations

import os

INHERITED = ("PATH", "HOME", "XDG_CONFIG_HOME", "MAGE_MCP_AUDIT_LOG")
"""PATH and HOME to run; the last two point at the test session's own directory (tests/conftest.py)."""


def server_env(**extra: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(extra)
    return env
