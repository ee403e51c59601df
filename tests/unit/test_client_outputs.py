"""Block run outputs as Mage serialises them, the status probe, and what importing the clients loads."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mage_mcp.clients import BlockOutput, ClusterClient
from tests.fakes import FakeMage
from tests.fakes.cluster import table_output, text_output

pytestmark = pytest.mark.anyio

SAMPLES = json.loads((Path(__file__).resolve().parents[1] / "fakes/samples/mage_block_outputs.json").read_text())


@pytest.fixture
def block_run(mage: FakeMage) -> dict[str, Any]:
    trigger = mage.add_trigger("example_pipeline", status="active")
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"])
    return dict(run["block_runs"][0])


# -- block_run_outputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("DataFrame (3 rows)", [("table", ["a", "b"], [[1, "x"], [2, "y"], [3, None]], 3, None)]),
        ("dict", [("table", ["n", "name"], [[3, "probe"]], 1, None)]),
        ("nested dict", [("table", ["a", "c"], [[{"b": [1, 2]}, "d"]], 1, None)]),
        ("pandas Series", [("table", ["ser"], [[1], [2], [3]], 3, None)]),
        ("str", [("text", None, None, None, "hello probe string")]),
        ("int", [("text", None, None, None, "42")]),
        ("list of three ints", [("text", None, None, None, str(n)) for n in (1, 2, 3)]),
        ("None", []),
        ("a failed block", []),
    ],
)
async def test_real_output_shapes_are_modelled(
    cluster: ClusterClient, mage: FakeMage, block_run: dict[str, Any], returned: str, expected: list[tuple[Any, ...]]
) -> None:
    mage.set_block_output(block_run["id"], SAMPLES[returned]["outputs"])
    outputs = await cluster.block_run_outputs(block_run["id"])
    assert [(o.type, o.columns, o.rows, o.total_rows, o.text) for o in outputs] == expected
    assert [o.variable_uuid for o in outputs] == [f"output_{i}" for i in range(len(expected))]


async def test_a_big_table_gives_its_sample_and_its_full_row_count(
    cluster: ClusterClient, mage: FakeMage, block_run: dict[str, Any]
) -> None:
    rows = [[i, f"v{i}"] for i in range(5000)]
    mage.set_block_output(block_run["id"], table_output(["i", "s"], rows))
    (output,) = await cluster.block_run_outputs(block_run["id"])
    assert output.total_rows == 5000 and output.rows is not None and len(output.rows) == 1000
    request = mage.recorder.requests[-1]
    assert request.path == f"/api/block_runs/{block_run['id']}/outputs" and request.query == {}


async def test_an_unknown_block_run_has_no_outputs(cluster: ClusterClient, mage: FakeMage) -> None:
    assert await cluster.block_run_outputs(987654) == []  # Mage answers so, not with a 404


def test_outputs_parse_leniently() -> None:
    odd = BlockOutput.model_validate({"sample_data": {"columns": [0, 1], "rows": [5, [6, 7]]}, "shape": "?"})
    assert (odd.columns, odd.rows, odd.total_rows, odd.type) == (["0", "1"], [[5], [6, 7]], None, None)
    assert BlockOutput.model_validate(text_output("t")).text == "t"
    assert BlockOutput.model_validate({"text_data": 7, "type": "text"}).text == "7"


# -- is_answering -------------------------------------------------------------------------------


async def test_a_mage_that_answers_is_answering_without_a_login(cluster: ClusterClient, mage: FakeMage) -> None:
    assert await cluster.is_answering(timeout_s=2) is True
    assert [r.path for r in mage.recorder.requests] == ["/api/statuses"]


async def test_nothing_listening_is_not_answering() -> None:
    async with ClusterClient("http://127.0.0.1:9") as client:
        started = time.monotonic()
        assert await client.is_answering(timeout_s=2) is False
    assert time.monotonic() - started < 3


def _app(handler: Any) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", handler)])


async def _slow(request: Request) -> Response:
    await anyio.sleep(5)
    return JSONResponse({"statuses": [{}]})


async def _not_mage(request: Request) -> Response:
    return PlainTextResponse("404: Not Found", status_code=404)


async def _error_body(request: Request) -> Response:
    return JSONResponse({"error": {"code": 500, "exception": "boom"}})


@pytest.mark.parametrize("handler", [_slow, _not_mage, _error_body])
async def test_a_slow_or_foreign_server_is_not_answering(handler: Any) -> None:
    async with ClusterClient("http://other.test", transport=httpx.ASGITransport(app=_app(handler))) as client:
        started = time.monotonic()
        assert await client.is_answering(timeout_s=0.3) is False
    assert time.monotonic() - started < 2


# -- imports ------------------------------------------------------------------------------------


def test_the_clients_package_and_the_log_parser_load_without_httpx() -> None:
    probe = (
        "import sys\n"
        "from mage_mcp.clients import BlockOutput, LogLine, RunLogs, parse_log_lines, MageError\n"
        "assert 'httpx' not in sys.modules, 'httpx was imported'\n"
        "from mage_mcp.clients import ClusterClient\n"
        "assert 'httpx' in sys.modules and ClusterClient.__name__ == 'ClusterClient'\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
