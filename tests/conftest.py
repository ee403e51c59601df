"""Shared pytest configuration for every test folder."""

import os
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """No test reads the user's profiles file or writes to the user's audit log; servers the tests
    start inherit these through `tests.support.environment.server_env`."""
    state = Path(tempfile.mkdtemp(prefix="mage-mcp-tests-"))
    os.environ["MAGE_MCP_AUDIT_LOG"] = str(state / "audit.jsonl")
    os.environ["XDG_CONFIG_HOME"] = str(state / "config")


@pytest.fixture
def anyio_backend() -> str:
    """Run `pytest.mark.anyio` tests on asyncio only."""
    return "asyncio"
