"""Pin the Mage fake's pipeline list (pagination, case-insensitive search) and detail (blocks with content)."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes import FakeMage
from tests.unit.fake_clients import auth_headers

pytestmark = pytest.mark.anyio


async def test_pipeline_list_pagination_and_search(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    mage.add_pipeline("Zeta_Pipe", blocks=["a"])
    mage.add_pipeline("alpha_pipe", blocks=["b", "c"])
    headers = await auth_headers(mc, mage)
    r = await mc.get("/api/pipelines", headers=headers)
    body = r.json()
    assert [p["uuid"] for p in body["pipelines"]] == ["Zeta_Pipe", "alpha_pipe", "example_pipeline"]
    assert body["metadata"] == {"count": 3, "results": 3, "next": None}
    assert all("content" not in b for p in body["pipelines"] for b in p["blocks"])
    r = await mc.get("/api/pipelines", params={"_limit": 1, "_offset": 1}, headers=headers)
    assert r.json()["metadata"] == {"count": 3, "results": 1, "next": True}
    r = await mc.get("/api/pipelines", params={"_limit": 2, "_offset": 2}, headers=headers)
    assert r.json()["metadata"] == {"count": 3, "results": 1, "next": False}
    r = await mc.get("/api/pipelines", params={"search": "A_P"}, headers=headers)
    assert [p["uuid"] for p in r.json()["pipelines"]] == ["Zeta_Pipe", "alpha_pipe"]
    r = await mc.get("/api/pipelines/example_pipeline", headers=headers)
    detail = r.json()
    assert detail["metadata"] is None
    assert [b["uuid"] for b in detail["pipeline"]["blocks"]] == [
        "load_titanic",
        "fill_in_missing_values",
        "export_titanic_clean",
    ]
    assert all("content" in b for b in detail["pipeline"]["blocks"])
