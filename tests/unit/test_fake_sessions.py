"""Pin how the Mage fake authenticates and fails: status, API key, login JWTs, token transports, expiry,
and the error shapes clients must tell apart (as the references describe them)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re

import httpx
import pytest

from tests.fakes import FakeMage, inner_token
from tests.unit.fake_clients import asgi_client, assert_shape3, auth_headers, login

pytestmark = pytest.mark.anyio


# -- status, key, login, tokens -----------------------------------------------------------------


async def test_status_needs_no_auth(mc: httpx.AsyncClient) -> None:
    for path in ("/api/status", "/api/statuses"):
        r = await mc.get(path)
        assert r.status_code == 200
        body = r.json()
        assert body["metadata"] == {}
        status = body["statuses"][0]
        assert status["require_user_authentication"] is True
        assert status["scheduler_status"] == "running"


async def test_missing_or_wrong_key_is_http_401_with_status_200_in_body(mc: httpx.AsyncClient) -> None:
    expected = {
        "error": {"code": 401, "message": "Invalid API key.", "type": "invalid_api_key"},
        "status": 200,
    }
    r = await mc.get("/api/pipelines")
    assert (r.status_code, r.json()) == (401, expected)
    r = await mc.get("/api/pipelines", headers={"X-API-KEY": "wrong"})
    assert (r.status_code, r.json()) == (401, expected)


async def test_key_without_token_is_http_200_with_403_body(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    key = {"X-API-KEY": mage.api_key}
    r = await mc.get("/api/pipelines", headers=key)
    assert r.status_code == 200
    assert r.json() == {
        "error": {
            "code": 403,
            "message": "Private access for list only, invalid scope.",
            "type": "unauthorized_access",
        },
        "status": 200,
    }
    r = await mc.get("/api/pipelines/example_pipeline", headers=key)
    assert r.json()["error"]["message"] == "Private access for detail only, invalid scope."


async def test_login_returns_hs256_jwt_wrapping_raw_token(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    r = await mc.post(
        "/api/sessions",
        headers={"X-API-KEY": mage.api_key},
        json={"session": {"username": mage.username, "password": mage.password}},
    )
    body = r.json()
    assert body["metadata"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+", body["session"]["expires"])
    assert body["session"]["user"]["owner"] is True
    header_b64, payload_b64, sig_b64 = body["session"]["token"].split(".")
    expected = hmac.new(b"materia", f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4)) == expected
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    assert set(payload) == {"expires", "token"}
    assert payload["token"] in mage.issued_tokens
    assert mage.logins == 1


async def test_token_transports(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    jwt = await login(mc, mage)
    raw = inner_token(jwt)
    key = {"X-API-KEY": mage.api_key}

    async def get(headers: dict[str, str]) -> httpx.Response:
        return await mc.get("/api/pipelines", headers={**key, **headers})

    # raw token as Bearer / OAUTH-TOKEN, whole JWT as cookie: accepted
    for ok in ({"Authorization": f"Bearer {raw}"}, {"OAUTH-TOKEN": raw}, {"Cookie": f"oauth_token={jwt}"}):
        r = await get(ok)
        assert r.status_code == 200 and "pipelines" in r.json(), ok
    # JWT as Bearer: HTTP 401 invalid_oauth_token
    r = await get({"Authorization": f"Bearer {jwt}"})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_oauth_token"
    # raw token in the cookie: HTTP 200, shape 3 (a JWT decode exception)
    r = await get({"Cookie": f"oauth_token={raw}"})
    assert r.status_code == 200
    assert_shape3(r.json(), "Not enough segments")
    # a token but no key is still a 401 invalid_api_key
    r = await mc.get("/api/pipelines", headers={"Authorization": f"Bearer {raw}"})
    assert (r.status_code, r.json()["error"]["type"]) == (401, "invalid_api_key")


async def test_expired_token_then_relogin(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await auth_headers(mc, mage)
    mage.expire_tokens()
    r = await mc.get("/api/pipelines", headers=headers)
    assert r.status_code == 401
    assert r.json() == {
        "error": {"code": 401, "message": "Expired OAuth token.", "type": "expired_oauth_token"},
        "status": 200,
    }
    headers = await auth_headers(mc, mage)
    assert (await mc.get("/api/pipelines", headers=headers)).status_code == 200
    assert mage.logins == 2


async def test_failed_login_is_http_200_and_logins_corrupt_later_404_messages(
    mc: httpx.AsyncClient, mage: FakeMage
) -> None:
    # Mage mutates its shared RESOURCE_NOT_FOUND dict on every password login (even a good one),
    # so clients must branch on code/type, never on message.
    headers = await auth_headers(mc, mage)
    r = await mc.post(
        "/api/sessions",
        headers={"X-API-KEY": mage.api_key},
        json={"session": {"email": mage.email, "password": "nope"}},
    )
    assert r.status_code == 200
    assert r.json() == {
        "error": {
            "code": 404,
            "message": "Email/username and/or password invalid.",
            "type": "record_not_found",
        },
        "status": 200,
    }
    r = await mc.get("/api/pipeline_runs/999999", headers=headers)
    assert r.json()["error"]["code"] == 404
    assert r.json()["error"]["type"] == "record_not_found"
    assert r.json()["error"]["message"] == "Email/username and/or password invalid."


async def test_auth_off_needs_nothing() -> None:
    mage = FakeMage(require_auth=False)
    async with asgi_client(mage.app, "http://mage.test") as mc:
        assert (await mc.get("/api/status")).json()["statuses"][0]["require_user_authentication"] is False
        r = await mc.get("/api/pipelines", headers={"X-API-KEY": "wrong"})
        assert r.status_code == 200 and r.json()["metadata"]["count"] == 1
        r = await mc.get("/api/pipeline_runs/999999")
        assert r.json() == {
            "error": {"code": 404, "message": "Record not found.", "type": "record_not_found"},
            "status": 200,
        }


# -- error shapes -------------------------------------------------------------------------------


async def test_three_error_shapes_and_odd_methods(mc: httpx.AsyncClient, mage: FakeMage) -> None:
    headers = await auth_headers(mc, mage)
    # shape 1: handled, HTTP 200
    r = await mc.get("/api/pipeline_schedules/999999", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == 200
    assert (body["error"]["code"], body["error"]["type"]) == (404, "record_not_found")
    # ?_http_error_codes=1 turns shape 1 into a real status
    r = await mc.get("/api/pipeline_runs/999999", params={"_http_error_codes": "1"}, headers=headers)
    assert r.status_code == 404 and r.json()["status"] == 404
    # shape 3: unhandled, HTTP 200
    r = await mc.get("/api/pipelines/does_not_exist", headers=headers)
    assert r.status_code == 200
    assert_shape3(r.json(), "Pipeline does_not_exist does not exist.")
    assert r.json()["url_parameters"] == {"resource": "pipelines", "pk": "does_not_exist"}
    r = await mc.get("/api/nonexistent_resource", headers=headers)
    assert_shape3(r.json(), "No module named 'mage_ai.api.policies.NonexistentResourcePolicy'")
    # PATCH: bare 405
    r = await mc.patch("/api/pipelines/example_pipeline", headers=headers, json={})
    assert r.status_code == 405 and r.content == b""
