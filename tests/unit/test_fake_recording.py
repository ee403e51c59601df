"""Pin `serve_in_thread`: a fake served on a real loopback port, recorded, and closed on exit."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.fakes import FakeMage, serve_in_thread


def test_serve_in_thread_over_a_real_port() -> None:
    mage = FakeMage()
    with serve_in_thread(mage.app) as base_url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        with httpx.Client(base_url=base_url) as client:
            r = client.get("/api/status")
            assert r.status_code == 200 and "statuses" in r.json()
            r = client.get("/api/pipelines")
            assert r.status_code == 401
    assert [req.path for req in mage.recorder.requests] == ["/api/status", "/api/pipelines"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/api/status", timeout=1)
