"""Shared pytest configuration for every test folder."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run `pytest.mark.anyio` tests on asyncio only."""
    return "asyncio"
