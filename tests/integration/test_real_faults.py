"""Faults between mage-mcp and a real Mage OSS 0.9.80, injected by a loopback proxy of the suite's own
(`tests/support/fault_proxy.py`): unavailable answers, Mage's error bodies, answers cut short after Mage
handled the request (settled by reading Mage back where the tool can), and an expired session. What
reached Mage is read through Mage's own API.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from mcp import Client
from pydantic import SecretStr

from mage_mcp.server.app import MageMCPServer, build_server
from mage_mcp.server.config import Settings
from tests.integration.conftest import RealMage
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.mage_api import MageApi
from tests.support.mcp_results import text_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("isolated_environment")]


@pytest.fixture
def proxy(real_mage: RealMage) -> Iterator[tuple[FaultProxy, str]]:
    with fault_proxy(real_mage.url) as running:
        yield running


def through(url: str, real_mage: RealMage) -> MageMCPServer:
    return build_server(
        Settings(
            mage_cluster_url=url,
            mage_email=real_mage.email,
            mage_password=SecretStr(real_mage.password),
            mage_mcp_confirm_fallback="allow",
        )
    )


async def test_reads_outlast_two_unavailable_answers(proxy: tuple[FaultProxy, str], real_mage: RealMage) -> None:
    faults, url = proxy
    faults.inject("GET", "/api/pipelines", "status", times=2, status=503)
    async with Client(through(url, real_mage)) as client:
        result = await client.call_tool("list_pipelines", {})
    assert not result.is_error, text_of(result)
    assert faults.count(faults.requests, "GET", "/api/pipelines") == 3
    assert faults.count(faults.forwarded, "GET", "/api/pipelines") == 1


MAGE_ERRORS = {
    "handled": ({"error": {"code": 404, "message": "Record not found.", "type": "record_not_found"}}, "404"),
    "auth": ({"error": {"code": 401, "message": "Invalid token.", "type": "invalid_api_key"}}, "invalid_api_key"),
    "unhandled": (
        {"error": {"code": 500, "errors": ["frame"], "exception": "database is locked", "message": "Traceback ..."}},
        "database is locked",
    ),
}
"""Mage's three error shapes, each answered with HTTP 200 (reference: mage-api.md section 3)."""


@pytest.mark.parametrize("shape", sorted(MAGE_ERRORS))
async def test_each_of_mages_error_bodies_is_a_clean_error(
    proxy: tuple[FaultProxy, str], real_mage: RealMage, shape: str
) -> None:
    faults, url = proxy
    body, shown = MAGE_ERRORS[shape]
    async with Client(through(url, real_mage)) as client:
        assert not (await client.call_tool("list_pipelines", {})).is_error  # logged in
        faults.inject("GET", "/api/pipelines", "mage_error", body=body)
        result = await client.call_tool("list_pipelines", {})
        again = await client.call_tool("list_pipelines", {})
    assert result.is_error and shown in text_of(result) and "Hint:" in text_of(result), text_of(result)
    assert not again.is_error, text_of(again)  # the server serves on


async def test_an_expired_session_is_renewed_once(proxy: tuple[FaultProxy, str], real_mage: RealMage) -> None:
    faults, url = proxy
    async with Client(through(url, real_mage)) as client:
        assert not (await client.call_tool("list_pipelines", {})).is_error
        faults.inject("GET", "/api/pipelines", "expire_session")
        result = await client.call_tool("list_pipelines", {})
    assert not result.is_error, text_of(result)
    assert faults.count(faults.forwarded, "POST", "/api/sessions") == 2


async def test_a_change_whose_answer_is_cut_is_settled_by_reading_mage_back(
    proxy: tuple[FaultProxy, str], real_mage: RealMage, admin: MageApi
) -> None:
    faults, url = proxy
    name = f"FAULT_{secrets.token_hex(4).upper()}"
    faults.inject("POST", "/api/secrets", "cut")
    try:
        async with Client(through(url, real_mage)) as client:
            result = await client.call_tool("create_secret", {"name": name, "value": secrets.token_urlsafe(12)})
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None and result.structured_content["status"] == "created"
        assert faults.count(faults.forwarded, "POST", "/api/secrets") == 1  # sent once, never again
        assert name in await admin.secret_names()
    finally:
        await admin.delete_secret(name)


async def test_a_pipeline_create_whose_answer_is_cut_is_settled_as_created(
    proxy: tuple[FaultProxy, str], real_mage: RealMage, admin: MageApi
) -> None:
    faults, url = proxy
    name = f"fault_{secrets.token_hex(4)}"
    faults.inject("POST", "/api/pipelines", "cut")
    try:
        async with Client(through(url, real_mage)) as client:
            result = await client.call_tool("create_pipeline", {"name": name})
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None and result.structured_content["status"] == "created"
        assert result.structured_content["pipeline_uuid"] == name
        assert faults.count(faults.forwarded, "POST", "/api/pipelines") == 1  # sent once, never again
        assert name in await admin.pipeline_uuids()
    finally:
        await admin.call("DELETE", f"/pipelines/{name}")


async def test_a_run_start_whose_answer_is_cut_is_unknown_and_names_list_runs(
    proxy: tuple[FaultProxy, str], real_mage: RealMage, admin: MageApi
) -> None:
    faults, url = proxy
    pipeline = await admin.create_pipeline(f"fault_run_{secrets.token_hex(4)}")
    try:
        async with Client(through(url, real_mage)) as client:
            faults.inject("POST", "/api/pipeline_schedules/", "cut")  # the run's POST, after the trigger exists
            result = await client.call_tool("trigger_pipeline", {"pipeline_uuid": pipeline})
        assert result.is_error and "may or may not have been applied" in text_of(result), text_of(result)
        assert "Read it back with list_runs" in text_of(result)
        assert faults.count(faults.forwarded, "POST", "/api/pipeline_schedules/") == 1
        assert len(await admin.runs(pipeline)) == 1  # Mage did start it
    finally:
        await admin.remove_pipeline(pipeline)
