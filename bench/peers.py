"""mage-mcp next to the official mage-agent 0.2.0 and a bare SDK server, measured in one run.

    .venv/bin/python bench/peers.py [--quick] [--json] [--wait-idle SECONDS]

1. cold start over stdio (spawn -> initialize response) of the three servers, interleaved;
2. per call over stdio with a raw JSON-RPC line client against one real Mage (auth on): mage-mcp
   `list_pipelines`, mage-agent `pipeline_list` and raw httpx GETs of what each sends;
3. tools/list in bytes and cl100k_base tokens, per tool and in total;
4. result sizes for the same data (2,000 pipelines; a run's logs) from a fake Mage on 127.0.0.1.

mage-agent and tiktoken are installed into the benchmark's own venv (see bench/peers_env.py). Progress goes
to stderr, the table (or JSON) to stdout; the exit code is 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx

from mage_mcp.local import mage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench.py and the peers_* helpers are scripts next to this one
sys.path.insert(1, str(HERE.parent))  # tests.fakes, after HERE so that `bench` is bench/bench.py

from peers_env import AGENT_VERSION, PeerVenv, Tokenizer, ensure_venv, log, tokenizer  # noqa: E402
from peers_stdio import LineClient, Reply  # noqa: E402

from bench import (  # noqa: E402
    BARE_SERVER,
    PIPELINES_PARAMS,
    PIPELINES_PATH,
    CpuIdle,
    Machine,
    RealMage,
    Stats,
    _body,
    _closed_port,
    _inner_token,
    _seed,
    _terminate,
    machine,
    real_mage,
    rounded,
    spawn_to_initialize,
    wait_for_idle,
)
from tests.fakes import FakeMage, serve_in_thread  # noqa: E402

MAGE_MCP, BARE, AGENT = "mage-mcp", "bare SDK", "mage-agent"
LISTED_PIPELINES = 2_000
LOG_BLOCKS = ("load_orders", "clean_orders", "export_orders")
LOG_RECORDS_PER_BLOCK = 1_000


# --------------------------------------------------------------------------- where the servers run


@dataclass(frozen=True)
class Workspace:
    """A private HOME (mage-agent's config), an empty working directory and a bytecode cache for every server."""

    root: Path
    venv: PeerVenv

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    def commands(self) -> dict[str, list[str]]:
        return {
            MAGE_MCP: [sys.executable, "-m", "mage_mcp"],
            BARE: [sys.executable, str(BARE_SERVER)],
            AGENT: [str(self.venv.mage_agent), "mcp"],
        }

    def env(self, **extra: str) -> dict[str, str]:
        """The same environment for every server; bytecode goes to a private cache filled by the warm-ups."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "PYTHONPYCACHEPREFIX": str(self.root / "pycache"),
            **extra,
        }

    def agent_config(self, cluster_url: str, api_key: str, oauth_token: str) -> None:
        """mage-agent reads ~/.mage-agent/config.json on every tools/call, so it can change between sections."""
        path = self.home / ".mage-agent" / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"cluster_url": cluster_url, "api_key": api_key, "oauth_token": oauth_token}))
        path.chmod(0o600)


@contextmanager
def workspace(venv: PeerVenv) -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(prefix="mage-mcp-peers-") as tmp:
        space = Workspace(Path(tmp), venv)
        space.home.mkdir()
        space.cwd.mkdir()
        yield space


def _nowhere() -> str:
    return f"http://127.0.0.1:{_closed_port()}"


def _rotated(names: Sequence[str], i: int) -> list[str]:
    """Each name takes each position in turn, so no server always runs first or last."""
    shift = i % len(names)
    return [*names[shift:], *names[:shift]]


# --------------------------------------------------------------------------- 1. cold start


@dataclass(frozen=True)
class ColdStarts:
    runs: int
    ms: dict[str, Stats]
    cpu_ms: dict[str, Stats]
    cpu_idle_percent: float | None


def coldstart(space: Workspace, runs: int) -> ColdStarts:
    space.agent_config(_nowhere(), "dummy", "dummy")
    env = space.env(MAGE_CLUSTER_URL=_nowhere())
    commands = space.commands()
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    log(f"cold start: 1 warm-up + {runs} runs each of {', '.join(commands)}, interleaved")
    with CpuIdle.measure() as idle:
        for argv in commands.values():
            spawn_to_initialize(argv, env, space.cwd)
        for i in range(runs):
            for name in _rotated(list(commands), i):
                elapsed, cpu = spawn_to_initialize(commands[name], env, space.cwd)
                times[name].append(elapsed * 1000)
                cpus[name].append(cpu * 1000)
    return ColdStarts(
        runs=runs,
        ms={name: Stats.of(t) for name, t in times.items()},
        cpu_ms={name: Stats.of(c) for name, c in cpus.items()},
        cpu_idle_percent=idle.percent,
    )


# --------------------------------------------------------------------------- 2. tools/list


@dataclass(frozen=True)
class Cost:
    bytes: int
    tokens: int


@dataclass(frozen=True)
class Listing:
    server: str
    tools: dict[str, Cost]  # compact JSON of each tool
    total: Cost  # compact JSON of the `tools` array
    response_line_bytes: int
    instructions: Cost


def _listing(space: Workspace, count: Tokenizer, server: str, argv: list[str], env: dict[str, str]) -> Listing:
    with LineClient(argv, env, space.cwd) as client:
        reply = client.request("tools/list", {})
        assert client.initialize is not None
        instructions = str(client.initialize.result.get("instructions") or "")
    tools = reply.result["tools"]
    texts = [_compact_text(t) for t in tools] + [_compact_text(tools), instructions]
    costs = [Cost(len(t.encode()), n) for t, n in zip(texts, count.count(texts), strict=True)]
    per_tool = {t["name"]: c for t, c in zip(tools, costs[: len(tools)], strict=True)}
    return Listing(server, per_tool, costs[-2], reply.line_bytes, costs[-1])


def _compact_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def tools_lists(space: Workspace, count: Tokenizer) -> list[Listing]:
    log("tools/list of mage-mcp (every tool, read-only) and mage-agent")
    commands = space.commands()
    return [
        _listing(space, count, f"{MAGE_MCP} (every tool)", commands[MAGE_MCP], space.env(MAGE_CLUSTER_URL=_nowhere())),
        _listing(
            space,
            count,
            f"{MAGE_MCP} (MAGE_MCP_READ_ONLY=1)",
            commands[MAGE_MCP],
            space.env(MAGE_CLUSTER_URL=_nowhere(), MAGE_MCP_READ_ONLY="1"),
        ),
        _listing(space, count, f"{AGENT} {AGENT_VERSION}", commands[AGENT], space.env()),
    ]


# --------------------------------------------------------------------------- 3. per call against a real Mage

RAW_MCP = "raw GET as mage-mcp sends it"
RAW_AGENT = "raw GET as mage-agent sends it"
CALL_MCP = "mage-mcp list_pipelines {}"
CALL_AGENT = "mage-agent pipeline_list {}"


@dataclass(frozen=True)
class PerCall:
    rounds: int
    calls: int
    warmup: int
    pipelines: int
    requests: dict[str, str]
    response_bytes: dict[str, int]
    us: dict[str, Stats]
    round_medians_us: dict[str, list[float]]
    cpu_idle_percent: float | None

    def ratio(self, path: str, baseline: str) -> float:
        return self.us[path].median / self.us[baseline].median


async def _session_jwt(url: str, email: str, password: str, seed: int) -> str:
    """Log in as `mage-agent login` does (the session token, JWT-wrapped) and seed the pipelines."""
    headers = {"X-API-KEY": mage.MAGE_API_KEY}
    async with httpx.AsyncClient(base_url=f"{url}/api", headers=headers, timeout=30) as http:
        response = await http.post("/sessions", json={"session": {"email": email, "password": password}})
        jwt = str(_body(response, "session")["session"]["token"])
        http.headers["Authorization"] = f"Bearer {_inner_token(jwt)}"
        await _seed(http, seed)
    return jwt


def _uuids_of_raw(response: httpx.Response) -> list[str]:
    return sorted(p["uuid"] for p in _body(response, "pipelines")["pipelines"])


def _uuids_of_mcp(reply: Reply) -> list[str]:
    return sorted(p["uuid"] for p in json.loads(reply.tool_text())["pipelines"])


def _uuids_of_agent(reply: Reply) -> list[str]:
    return sorted(p["uuid"] for p in json.loads(reply.tool_text())["data"]["pipelines"])


@dataclass
class _Paths:
    """The four timed paths; each returns the size of what it received."""

    http: httpx.Client
    mcp: LineClient
    agent: LineClient
    sizes: dict[str, int] = field(default_factory=dict)

    def run(self) -> dict[str, Callable[[], Any]]:
        return {
            RAW_MCP: lambda: self.http.get(PIPELINES_PATH, params=PIPELINES_PARAMS),
            RAW_AGENT: lambda: self.http.get(PIPELINES_PATH),
            CALL_MCP: lambda: self.mcp.call_tool("list_pipelines", {}),
            CALL_AGENT: lambda: self.agent.call_tool("pipeline_list", {}),
        }

    def check(self) -> int:
        """Every path sees the same pipelines (and works at all); the number of pipelines."""
        raw_mcp, raw_agent = self.http.get(PIPELINES_PATH, params=PIPELINES_PARAMS), self.http.get(PIPELINES_PATH)
        mcp, agent = self.mcp.call_tool("list_pipelines", {}), self.agent.call_tool("pipeline_list", {})
        seen = [_uuids_of_raw(raw_mcp), _uuids_of_raw(raw_agent), _uuids_of_mcp(mcp), _uuids_of_agent(agent)]
        if any(s != seen[0] for s in seen):
            raise RuntimeError(f"the paths disagree on the pipelines: {seen}")
        self.sizes = {
            RAW_MCP: len(raw_mcp.content),
            RAW_AGENT: len(raw_agent.content),
            CALL_MCP: mcp.line_bytes,
            CALL_AGENT: agent.line_bytes,
        }
        return len(seen[0])


def _timed_rounds(paths: dict[str, Callable[[], Any]], rounds: int, calls: int) -> dict[str, list[list[float]]]:
    samples: dict[str, list[list[float]]] = {name: [] for name in paths}
    names = list(paths)
    for r in range(rounds):
        current: dict[str, list[float]] = {name: [] for name in names}
        for i in range(calls):
            for name in _rotated(names, i + r):
                started = time.perf_counter_ns()
                paths[name]()
                current[name].append((time.perf_counter_ns() - started) / 1000)
        for name in names:
            samples[name].append(current[name])
        log(f"  round {r + 1}: " + ", ".join(f"{n} {statistics.median(current[n]):,.0f} µs" for n in names))
    return samples


def _measure_calls(space: Workspace, running: RealMage, rounds: int, calls: int, warmup: int) -> PerCall:
    jwt = anyio.run(_session_jwt, running.url, running.email, running.password, 4)
    space.agent_config(running.url, mage.MAGE_API_KEY, jwt)
    env = space.env(MAGE_CLUSTER_URL=running.url, MAGE_EMAIL=running.email, MAGE_PASSWORD=running.password)
    headers = {"X-API-KEY": mage.MAGE_API_KEY, "Authorization": f"Bearer {_inner_token(jwt)}"}
    commands = space.commands()
    with (
        httpx.Client(base_url=f"{running.url}/api", headers=headers, timeout=30) as http,
        LineClient(commands[MAGE_MCP], env, space.cwd) as mcp_client,
        LineClient(commands[AGENT], env, space.cwd) as agent_client,
    ):
        paths = _Paths(http, mcp_client, agent_client)
        pipelines = paths.check()
        timed = paths.run()
        for _ in range(warmup):
            for call in timed.values():
                call()
        log(f"per call: {warmup} warm-ups, then {rounds} rounds x {calls} calls of each of 4 paths, interleaved")
        with CpuIdle.measure() as idle:
            samples = _timed_rounds(timed, rounds, calls)
    return PerCall(
        rounds=rounds,
        calls=calls,
        warmup=warmup,
        pipelines=pipelines,
        requests={
            RAW_MCP: f"httpx.Client keep-alive: GET /api{PIPELINES_PATH}?_limit=20&_offset=0",
            RAW_AGENT: f"httpx.Client keep-alive: GET /api{PIPELINES_PATH}",
            CALL_MCP: "tools/call over stdio (raw line client) -> GET /api/pipelines?_limit=20&_offset=0",
            CALL_AGENT: "tools/call over stdio (raw line client) -> requests GET /api/pipelines",
        },
        response_bytes=paths.sizes,
        us={name: Stats.of_rounds(r) for name, r in samples.items()},
        round_medians_us={name: [statistics.median(x) for x in r] for name, r in samples.items()},
        cpu_idle_percent=idle.percent,
    )


def percall(space: Workspace, rounds: int, calls: int, warmup: int) -> PerCall:
    with real_mage() as running:
        return _measure_calls(space, running, rounds, calls, warmup)


# --------------------------------------------------------------------------- 4. result sizes


@dataclass(frozen=True)
class ResultSize:
    data: str
    call: str
    text: Cost  # content[0].text for a tool; the compact JSON body for upstream
    line_bytes: int  # the whole JSON-RPC response line (for a tool: text plus structuredContent, if any)
    returns: str


@dataclass(frozen=True)
class Seeded:
    fake: FakeMage
    pipeline: str
    run_id: int


@dataclass(frozen=True)
class _Row:
    data: str
    call: str
    text: str
    line_bytes: int
    returns: str


def seeded_fake() -> Seeded:
    """A fake Mage with 2,000 pipelines and one failed run whose three block logs hold 1,000 records each."""
    fake = FakeMage(seed_example_pipeline=False)
    for i in range(LISTED_PIPELINES):
        fake.add_pipeline(
            f"orders_pipeline_{i:04d}", description=f"Daily orders load #{i}", tags=["orders"], blocks=list(LOG_BLOCKS)
        )
    pipeline = "orders_pipeline_0000"
    run = fake.trigger_run(fake.add_trigger(pipeline)["id"])
    fake.complete_run(run["id"], "failed")
    for block in LOG_BLOCKS:
        for n in range(LOG_RECORDS_PER_BLOCK):
            fake.add_log(run["id"], block, "INFO", f"{block}: batch {n} of 500 rows from s3://bucket/raw/orders/{n}")
    fake.add_log(run["id"], LOG_BLOCKS[-1], "ERROR", "Export failed", error="boom", stacktrace="Traceback\nValueError")
    return Seeded(fake, pipeline, int(run["id"]))


def _pipelines_returned(server: str, text: str) -> str:
    body = json.loads(text)
    if server == AGENT:
        listed = body["data"]["pipelines"]
        return f"{len(listed):,} pipelines, {len(listed[0])} fields each (Mage's), no paging"
    listed = body["pipelines"]
    more = "next_cursor set" if body.get("next_cursor") else "no next_cursor"
    return f"{len(listed):,} of total {body.get('total')} pipelines, {len(listed[0])} fields each, {more}"


def _logs_returned(server: str, text: str) -> str:
    body = json.loads(text)
    if server == AGENT:
        files = body["data"]["log_files"]
        chars = sum(len(f.get("content") or "") for f in files)
        return f"{len(files)} log files, each cut to 8,000 chars and sent twice (content, error_excerpt): {chars:,}"
    return f"{body['returned']:,} of {body['matched']:,} lines (truncated: {body['truncated']})"


def _upstream_rows(seeded: Seeded, url: str) -> list[_Row]:
    """What Mage itself answers, as compact JSON: the reference for both servers."""
    token = _inner_token(seeded.fake.session_jwt())
    headers = {"X-API-KEY": seeded.fake.api_key, "Authorization": f"Bearer {token}"}
    logs_path = f"/pipelines/{seeded.pipeline}/logs"
    with httpx.Client(base_url=f"{url}/api", headers=headers, timeout=60) as http:
        pipelines = _body(http.get(PIPELINES_PATH), "pipelines")
        logs = _body(http.get(logs_path, params={"pipeline_run_id[]": seeded.run_id}), "logs")
    return [
        _Row("pipelines", f"upstream GET /api{PIPELINES_PATH}", _compact_text(pipelines), 0, "Mage's whole list"),
        _Row("logs", "upstream GET /api/pipelines/{uuid}/logs?pipeline_run_id[]=", _compact_text(logs), 0, ""),
    ]


def _tool_rows(seeded: Seeded, space: Workspace, url: str) -> list[_Row]:
    fake, run_id = seeded.fake, seeded.run_id
    space.agent_config(url, fake.api_key, fake.session_jwt())
    env = space.env(MAGE_CLUSTER_URL=url, MAGE_EMAIL=fake.email, MAGE_PASSWORD=fake.password)
    calls: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        MAGE_MCP: [
            ("pipelines", "list_pipelines", {}),
            ("pipelines", "list_pipelines", {"limit": 100}),
            ("logs", "get_run_logs", {"run_id": run_id}),
            ("logs", "get_run_logs", {"run_id": run_id, "tail": 2000}),
        ],
        AGENT: [
            ("pipelines", "pipeline_list", {}),
            ("logs", "run_logs", {"pipeline_uuid": seeded.pipeline, "run_id": run_id}),
        ],
    }
    rows = []
    commands = space.commands()
    for server, server_calls in calls.items():
        with LineClient(commands[server], env, space.cwd) as client:
            for data, tool, arguments in server_calls:
                reply = client.call_tool(tool, arguments)
                text = reply.tool_text()
                returned = (_pipelines_returned if data == "pipelines" else _logs_returned)(server, text)
                rows.append(_Row(data, f"{server} {tool} {_compact_text(arguments)}", text, reply.line_bytes, returned))
    return rows


def result_sizes(space: Workspace, count: Tokenizer) -> list[ResultSize]:
    log(f"result sizes: a fake Mage with {LISTED_PIPELINES:,} pipelines and a run's logs, on 127.0.0.1")
    seeded = seeded_fake()
    with serve_in_thread(seeded.fake.app) as url:
        rows = _upstream_rows(seeded, url) + _tool_rows(seeded, space, url)
    tokens = count.count([row.text for row in rows])
    return [
        ResultSize(row.data, row.call, Cost(len(row.text.encode()), n), row.line_bytes, row.returns)
        for row, n in zip(rows, tokens, strict=True)
    ]


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Report:
    machine: Machine
    mage_agent: str
    tokenizer: str
    coldstart: ColdStarts | None
    tools_list: list[Listing] | None
    percall: PerCall | None
    result_sizes: list[ResultSize] | None
    seconds: float


def _idle(percent: float | None) -> str:
    return "" if percent is None else f"; CPU idle {percent:.0f} %"


def _render_coldstart(cold: ColdStarts) -> list[str]:
    out = [
        f"1. Cold start over stdio: spawn -> initialize response line, 1 warm-up + {cold.runs} runs each, "
        f"interleaved{_idle(cold.cpu_idle_percent)}",
        f"   {'server':<38} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'CPU/start ms':>13}",
    ]
    labels = {
        MAGE_MCP: "mage-mcp (python -m mage_mcp)",
        BARE: "bare SDK server (bare_server.py)",
        AGENT: f"mage-agent {AGENT_VERSION} (mage-agent mcp)",
    }
    for name, label in labels.items():
        t, c = cold.ms[name], cold.cpu_ms[name]
        out.append(f"   {label:<38} {t.min:>8.1f} {t.median:>10.1f} {t.max:>8.1f} {c.median:>13.1f}")
    mcp = cold.ms[MAGE_MCP].median
    out.append(
        f"   ratio of medians: mage-mcp / mage-agent {mcp / cold.ms[AGENT].median:.2f}, "
        f"mage-mcp / bare SDK {mcp / cold.ms[BARE].median:.3f}"
    )
    return out


def _render_tools(listings: list[Listing]) -> list[str]:
    out = ["3. tools/list: compact JSON of each tool and of the `tools` array; tokens: cl100k_base"]
    for listing in listings:
        out.append(f"   {listing.server}: {len(listing.tools)} tools")
        width = max(len(name) for name in listing.tools)
        out.append(f"     {'tool':<{width}} {'bytes':>7} {'tokens':>7}")
        for name, cost in listing.tools.items():
            out.append(f"     {name:<{width}} {cost.bytes:>7,} {cost.tokens:>7,}")
    agent = listings[-1]
    out.append(
        f"   {'server':<34} {'tools':>5} {'bytes':>7} {'tokens':>7} {'B/tool':>7} {'tok/tool':>8} "
        f"{'instructions B/tok':>19} {'tokens / mage-agent':>20}"
    )
    for listing in listings:
        n = len(listing.tools)
        out.append(
            f"   {listing.server:<34} {n:>5} {listing.total.bytes:>7,} {listing.total.tokens:>7,} "
            f"{listing.total.bytes / n:>7,.0f} {listing.total.tokens / n:>8,.1f} "
            f"{f'{listing.instructions.bytes:,} / {listing.instructions.tokens:,}':>19} "
            f"{listing.total.tokens / agent.total.tokens:>20.2f}"
        )
    return out


def _render_percall(calls: PerCall, mage_version: str) -> list[str]:
    out = [
        f"2. Per call over stdio vs a real Mage {mage_version} (auth on, {calls.pipelines} pipelines): "
        f"{calls.warmup} warm-ups, {calls.rounds} rounds x {calls.calls} calls of each path, interleaved"
        f"{_idle(calls.cpu_idle_percent)}",
        f"   {'path':<32} {'min µs':>8} {'median µs':>10} {'max µs':>8} {'bytes':>7}   round medians µs",
    ]
    for name, stats in calls.us.items():
        rounds = ", ".join(f"{m:,.0f}" for m in calls.round_medians_us[name])
        out.append(
            f"   {name:<32} {stats.min:>8,.0f} {stats.median:>10,.0f} {stats.max:>8,.0f} "
            f"{calls.response_bytes[name]:>7,}   {rounds}"
        )
    out.append(
        f"   ratio vs its own raw GET: mage-mcp {calls.ratio(CALL_MCP, RAW_MCP):.3f} "
        f"({calls.us[CALL_MCP].median - calls.us[RAW_MCP].median:+,.0f} µs), "
        f"mage-agent {calls.ratio(CALL_AGENT, RAW_AGENT):.3f} "
        f"({calls.us[CALL_AGENT].median - calls.us[RAW_AGENT].median:+,.0f} µs); "
        f"mage-mcp / mage-agent {calls.ratio(CALL_MCP, CALL_AGENT):.3f}"
    )
    out.append("   (median of the round medians; bytes: the HTTP body, or the whole JSON-RPC response line)")
    return out


def _render_results(rows: list[ResultSize]) -> list[str]:
    out = [
        f"4. Result size for the same data (fake Mage: {LISTED_PIPELINES:,} pipelines; a failed run, "
        f"{len(LOG_BLOCKS)} block logs x {LOG_RECORDS_PER_BLOCK:,} records); text = content[0].text, tokens cl100k_base"
    ]
    width = max(len(r.call) for r in rows)
    for data in ("pipelines", "logs"):
        group = [r for r in rows if r.data == data]
        agent = next(r for r in group if r.call.startswith(AGENT))
        out.append(f"   {'call':<{width}} {'text B':>10} {'tokens':>9} {'line B':>10} {'tok / agent':>11}  returns")
        for r in group:
            line = f"{r.line_bytes:,}" if r.line_bytes else "-"
            out.append(
                f"   {r.call:<{width}} {r.text.bytes:>10,} {r.text.tokens:>9,} {line:>10} "
                f"{r.text.tokens / agent.text.tokens:>11.3f}  {r.returns}"
            )
    out.append("   mage-mcp pages: list_pipelines limit 20 by default (at most 100), get_run_logs tail 200")
    out.append("   (at most 2000); both keep each result within a 90,000-byte budget for Mage's data")
    return out


def render(report: Report) -> str:
    m = report.machine
    out = [
        f"machine: {m.nproc} CPUs ({m.cpu}), {m.platform}; load average at start {' '.join(map(str, m.loadavg))}",
        f"versions: Python {m.python}, mcp {m.mcp}, httpx {m.httpx}, pydantic {m.pydantic}; mage-agent "
        f"{report.mage_agent}; Mage {m.mage}",
        f"tokenizer: {report.tokenizer}",
    ]
    if report.coldstart:
        out += ["", *_render_coldstart(report.coldstart)]
    if report.percall:
        out += ["", *_render_percall(report.percall, m.mage)]
    if report.tools_list:
        out += ["", *_render_tools(report.tools_list)]
    if report.result_sizes:
        out += ["", *_render_results(report.result_sizes)]
    out += ["", f"whole run: {report.seconds:.0f} s"]
    return "\n".join(out)


def _add_ratios(report: Report, data: dict[str, Any]) -> None:
    """Each figure's ratio next to it in the JSON document (mage-mcp / mage-agent, or vs the raw GET)."""
    if report.coldstart:
        medians = {name: stats.median for name, stats in report.coldstart.ms.items()}
        data["coldstart"]["ratios"] = {
            "mage_mcp_vs_mage_agent": medians[MAGE_MCP] / medians[AGENT],
            "mage_mcp_vs_bare_sdk": medians[MAGE_MCP] / medians[BARE],
        }
    if report.percall:
        calls = report.percall
        data["percall"]["ratios"] = {
            "mage_mcp_vs_raw": calls.ratio(CALL_MCP, RAW_MCP),
            "mage_agent_vs_raw": calls.ratio(CALL_AGENT, RAW_AGENT),
            "mage_mcp_vs_mage_agent": calls.ratio(CALL_MCP, CALL_AGENT),
        }
    if report.tools_list:
        agent_tokens = report.tools_list[-1].total.tokens
        for listing, entry in zip(report.tools_list, data["tools_list"], strict=True):
            entry["tokens_vs_mage_agent"] = listing.total.tokens / agent_tokens
    if report.result_sizes:
        agent_by_data = {r.data: r.text.tokens for r in report.result_sizes if r.call.startswith(AGENT)}
        for row, entry in zip(report.result_sizes, data["result_sizes"], strict=True):
            entry["tokens_vs_mage_agent"] = row.text.tokens / agent_by_data[row.data]


def as_json(report: Report) -> str:
    data = asdict(report)
    _add_ratios(report, data)
    return json.dumps(rounded(data), indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Options:
    json: bool
    runs: int
    rounds: int
    calls: int
    warmup: int
    wait_idle: float
    skip: list[str]


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench/peers.py", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 cold starts each, 2 rounds x 30 calls")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--runs", type=int, help="cold starts per server (default 20; --quick 5)")
    parser.add_argument("--rounds", type=int, help="per-call rounds (default 3; --quick 2)")
    parser.add_argument("--calls", type=int, help="calls per round and path (default 100; --quick 30)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per path before the rounds (10)")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS", help="wait for idle CPUs (bench.py)")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["coldstart", "percall", "tools", "results"], help="skip one"
    )
    ns = parser.parse_args(argv)
    return Options(
        json=bool(ns.json),
        runs=ns.runs or (5 if ns.quick else 20),
        rounds=ns.rounds or (2 if ns.quick else 3),
        calls=ns.calls or (30 if ns.quick else 100),
        warmup=ns.warmup,
        wait_idle=ns.wait_idle,
        skip=list(ns.skip),
    )


def measure(opts: Options, venv: PeerVenv, count: Tokenizer) -> Report:
    started, at_start = time.monotonic(), machine()
    cold = listings = calls = sizes = None
    with workspace(venv) as space:
        # Cold starts first, before Mage is started and adds its own background load.
        if "coldstart" not in opts.skip:
            wait_for_idle(opts.wait_idle)
            cold = coldstart(space, opts.runs)
        if "tools" not in opts.skip:
            listings = tools_lists(space, count)
        if "results" not in opts.skip:
            sizes = result_sizes(space, count)
        if "percall" not in opts.skip:
            wait_for_idle(opts.wait_idle)
            calls = percall(space, opts.rounds, opts.calls, opts.warmup)
    return Report(at_start, AGENT_VERSION, count.name, cold, listings, calls, sizes, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    venv = ensure_venv()
    report = measure(opts, venv, tokenizer(venv))
    log(f"done in {report.seconds:.0f} s")
    print(as_json(report) if opts.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
