"""Helpers the fake-API tests share: an in-process HTTP client on a fake, a Mage login, the shape-3 error check."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes import FakeMage, inner_token


def asgi_client(app: Any, base_url: str) -> httpx.AsyncClient:
    """An HTTP client that calls `app` in process, with no socket."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def login(mc: httpx.AsyncClient, mage: FakeMage) -> str:
    """Log in; return the session JWT as Mage returns it."""
    r = await mc.post(
        "/api/sessions",
        headers={"X-API-KEY": mage.api_key},
        json={"session": {"email": mage.email, "password": mage.password}},
    )
    assert r.status_code == 200
    return str(r.json()["session"]["token"])


async def auth_headers(mc: httpx.AsyncClient, mage: FakeMage) -> dict[str, str]:
    """Log in; return the headers an authenticated request carries (the key and the raw token as Bearer)."""
    jwt = await login(mc, mage)
    return {"X-API-KEY": mage.api_key, "Authorization": f"Bearer {inner_token(jwt)}"}


def assert_shape3(body: dict[str, Any], exception: str) -> None:
    """Assert `body` is Mage's unhandled-exception error (shape 3) carrying `exception`."""
    assert set(body) == {"error", "url_parameters"}
    err = body["error"]
    assert err["code"] == 500
    assert err["exception"] == exception
    assert err["message"].startswith("Traceback (most recent call last):")
    assert isinstance(err["errors"], list)
    assert "type" not in err
