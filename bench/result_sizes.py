"""Result sizes of the run tools whatever Mage holds: a 50 MB run log, 5,000 runs.

`.venv/bin/python bench/result_sizes.py [--json]` (from the repository root; about 20 s) serves the cluster fake
in process (tests/fakes: a failed run whose log files hold 50 MB, and 5,000 runs), calls each tool through the
in-memory MCP client, and prints each result's size in bytes and estimated tokens (bytes/4) and the call's time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mage_mcp.server.app import build_server
from mage_mcp.server.config import Settings
from mage_mcp.server.runtime import Runtime
from tests.fakes import FakeMage

LOG_MB = 50
RUNS = 5_000
# A record as Mage writes one (its keys and their usual sizes), with a message of a typical length.
LINE = json.dumps(
    {
        "block_type": "data_loader",
        "block_uuid": "load_titanic",
        "pipeline_uuid": "example_pipeline",
        "block_run_id": 1,
        "pipeline_run_id": 1,
        "level": "INFO",
        "message": "Loaded batch of 500 rows from s3://bucket/raw/titanic/part-0001.csv in 0.42 s",
        "timestamp": 1796288636.443242,
        "uuid": "3c8de2d8d2c0467e981bee66bae0573b",
    }
)


@dataclass(frozen=True)
class Size:
    call: str
    bytes: int
    tokens_est: int
    seconds: float


def seeded() -> tuple[FakeMage, int]:
    """The fake with a failed run (a traceback, then a 50 MB block log) and 5,000 more runs."""
    mage = FakeMage()
    trigger = mage.add_trigger("example_pipeline", status="active")
    run = mage.trigger_run(trigger["id"])
    mage.complete_run(run["id"], "failed")
    lines = LOG_MB * 1_000_000 // (len(LINE) + 21)
    mage.add_raw_log(run["id"], "load_titanic.log", "\n".join(f"2026-12-03T08:00:00 {LINE}" for _ in range(lines)))
    failing = run["block_runs"][0]["block_uuid"]
    mage.add_log(run["id"], failing, "ERROR", "Failed", error="boom", stacktrace="Traceback\nValueError: boom")
    for _ in range(RUNS):
        mage.complete_run(mage.trigger_run(trigger["id"])["id"], "completed")
    return mage, int(run["id"])


async def measure() -> list[Size]:
    mage, run_id = seeded()
    settings = Settings(mage_cluster_url="http://mage.test", mage_email=mage.email, mage_password=mage.password)
    server = build_server(runtime=Runtime(settings, cluster_transport=httpx.ASGITransport(app=mage.app)))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_run_logs", {"run_id": run_id}),
        ("get_run_logs", {"run_id": run_id, "tail": 2000}),
        ("get_run_logs", {"run_id": run_id, "level": "error"}),
        ("diagnose_run", {"run_id": run_id}),
        ("list_runs", {}),
        ("list_runs", {"limit": 100}),
    ]
    sizes = []
    async with Client(server) as client:
        for tool, arguments in calls:
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            elapsed = time.perf_counter() - started
            assert not result.is_error, result.content
            size = len(result.content[0].text.encode())  # type: ignore[union-attr]
            sizes.append(Size(f"{tool} {json.dumps(arguments)}", size, round(size / 4), round(elapsed, 2)))
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/result_sizes.py", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    opts = parser.parse_args()
    sizes = anyio.run(measure)
    if opts.json:
        print(json.dumps([asdict(s) for s in sizes], indent=2))
        return 0
    print(f"| call ({LOG_MB} MB log, {RUNS:,} runs) | bytes | tokens (est.) | time |\n|---|---|---|---|")
    for s in sizes:
        print(f"| `{s.call}` | {s.bytes:,} | {s.tokens_est:,} | {s.seconds:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
