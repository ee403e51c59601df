"""Benchmark mage-mcp: cold start over stdio, per-call overhead against a real Mage, tools/list size
(of every tool, of the read-only set and of each toolset).

    .venv/bin/python bench/bench.py [--quick] [--json]

Methods follow the project's performance anchors (see bench/README.md). Progress goes to stderr,
the result table (or, with --json, one JSON document) to stdout. The exit code is 0 whatever the
figures are: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client
from mcp.types import ListToolsResult
from pydantic import SecretStr

from mage_mcp.local import mage
from mage_mcp.server.app import build_server
from mage_mcp.server.config import Settings
from mage_mcp.tools import TOOLSETS

HERE = Path(__file__).resolve().parent
BARE_SERVER = HERE / "bare_server.py"

TARGET_COLDSTART_RATIO = 1.10
TARGET_PERCALL_RATIO = 1.10
TARGET_BYTES_PER_TOOL = 530

PIPELINES_PATH = "/pipelines"
PIPELINES_PARAMS = {"_limit": 20, "_offset": 0}  # what list_pipelines sends with its default arguments
SEEDED_PIPELINES = 4  # besides the example_pipeline every new Mage project has

INITIALIZE_LINE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "mage-mcp-bench", "version": "0"},
            },
        },
        separators=(",", ":"),
    )
    + "\n"
).encode()


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Stats:
    n: int
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        return cls(len(samples), min(samples), statistics.median(samples), max(samples))

    @classmethod
    def of_rounds(cls, rounds: Sequence[Sequence[float]]) -> Stats:
        """Median of the per-round medians; min and max over all rounds (the anchors' convention)."""
        return cls(
            sum(len(r) for r in rounds),
            min(min(r) for r in rounds),
            statistics.median(statistics.median(r) for r in rounds),
            max(max(r) for r in rounds),
        )


class CpuIdle:
    """Share of idle CPU time on the whole machine while a block runs (from /proc/stat; None elsewhere)."""

    def __init__(self) -> None:
        self.percent: float | None = None

    @staticmethod
    def _sample() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        except (OSError, ValueError, IndexError):
            return None
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    @classmethod
    @contextmanager
    def measure(cls) -> Iterator[CpuIdle]:
        meter, before = cls(), cls._sample()
        yield meter
        after = cls._sample()
        if before and after and after[1] > before[1]:
            meter.percent = 100 * (after[0] - before[0]) / (after[1] - before[1])


def wait_for_idle(max_seconds: float, threshold: float = 90, window: float = 3) -> None:
    """Wait until the CPUs were at least `threshold` % idle for two windows in a row (or give up)."""
    if max_seconds <= 0:
        return
    deadline, calm = time.monotonic() + max_seconds, 0
    while time.monotonic() < deadline:
        with CpuIdle.measure() as idle:
            time.sleep(window)
        if idle.percent is None:
            return
        calm = calm + 1 if idle.percent >= threshold else 0
        if calm >= 2:
            log(f"CPUs idle ({idle.percent:.0f} %)")
            return
    log(f"CPUs not {threshold:.0f} % idle within {max_seconds:g} s; measuring anyway")


# --------------------------------------------------------------------------- machine


@dataclass(frozen=True)
class Machine:
    nproc: int
    cpu: str
    python: str
    mcp: str
    httpx: str
    pydantic: str
    mage: str
    platform: str
    loadavg: list[float]


def machine() -> Machine:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
    return Machine(
        nproc=nproc,
        cpu=cpu,
        python=platform.python_version(),
        mcp=metadata.version("mcp"),
        httpx=metadata.version("httpx"),
        pydantic=metadata.version("pydantic"),
        mage=mage.MAGE_VERSION,
        platform=platform.platform(),
        loadavg=[round(x, 2) for x in os.getloadavg()],
    )


# --------------------------------------------------------------------------- 1. cold start


@dataclass(frozen=True)
class ColdStart:
    runs: int
    bytecode: str
    bare_ms: Stats
    server_ms: Stats
    bare_cpu_ms: Stats
    server_cpu_ms: Stats
    ratio: float
    added_ms: float
    cpu_idle_percent: float | None
    target: float = TARGET_COLDSTART_RATIO

    @property
    def ok(self) -> bool:
        return self.ratio <= self.target


def _closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (the kernel's pick, released again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def spawn_to_initialize(
    argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> tuple[float, float]:
    """Spawn a stdio server, send `initialize`, time until its response line; return (seconds, CPU seconds).

    Buffered pipes (an unbuffered stdout would make readline() read one byte per syscall). After the
    response, stdin is closed and the child reaped; its user+sys CPU comes from RUSAGE_CHILDREN.
    """
    with tempfile.TemporaryFile() as errors:
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=cwd)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(INITIALIZE_LINE)
            proc.stdin.flush()
            line = proc.stdout.readline()
            elapsed = time.perf_counter() - started
            proc.stdin.close()
            proc.stdout.read()
            proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        cpu = _children_cpu_s() - cpu_before
        try:
            response = json.loads(line)
            answered = response.get("id") == 1 and "result" in response
        except ValueError:
            answered = False
        if not answered:
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(argv)} did not answer initialize (got {line[:200]!r}); stderr:\n{tail}")
    return elapsed, cpu


def coldstart(runs: int, pycache: bool) -> ColdStart:
    python = sys.executable
    commands = {"bare": [python, str(BARE_SERVER)], "server": [python, "-m", "mage_mcp"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory(prefix="mage-mcp-bench-cold-") as tmp:
        cwd = Path(tmp) / "cwd"  # an empty working directory: no .env file for either server
        cwd.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", tmp),
            "MAGE_CLUSTER_URL": f"http://127.0.0.1:{_closed_port()}",
        }
        if pycache:
            # Bytecode goes to a private cache (filled by the warm-ups), so runs import compiled modules,
            # like an installed package, and nothing is written next to the project's sources.
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        log(f"cold start: 1 warm-up + {runs} runs each, interleaved")
        with CpuIdle.measure() as idle:
            for argv in commands.values():
                spawn_to_initialize(argv, env, cwd)
            for i in range(runs):
                order = list(commands) if i % 2 == 0 else list(reversed(commands))
                for name in order:
                    elapsed, cpu = spawn_to_initialize(commands[name], env, cwd)
                    times[name].append(elapsed * 1000)
                    cpus[name].append(cpu * 1000)
    bare, server = Stats.of(times["bare"]), Stats.of(times["server"])
    return ColdStart(
        runs=runs,
        bytecode="private pycache prefix, warmed" if pycache else "PYTHONDONTWRITEBYTECODE=1",
        bare_ms=bare,
        server_ms=server,
        bare_cpu_ms=Stats.of(cpus["bare"]),
        server_cpu_ms=Stats.of(cpus["server"]),
        ratio=server.median / bare.median,
        added_ms=server.median - bare.median,
        cpu_idle_percent=idle.percent,
    )


# --------------------------------------------------------------------------- 2. per call


@dataclass(frozen=True)
class Round:
    raw_us: float
    mcp_us: float
    ratio: float
    added_us: float


@dataclass(frozen=True)
class PerCall:
    rounds: int
    calls: int
    warmup: int
    request: str
    pipelines: int
    upstream_body_bytes: int
    tool_result_text_bytes: int
    protocol_version: str | None
    raw_us: Stats
    mcp_us: Stats
    per_round: list[Round]
    ratio: float
    added_us: float
    cpu_idle_percent: float | None
    target: float = TARGET_PERCALL_RATIO

    @property
    def ok(self) -> bool:
        return self.ratio <= self.target


def explicit_settings(**values: Any) -> Settings:
    """Settings from these values and the field defaults only: no MAGE_* environment, no .env file."""
    defaults = {name: f.get_default(call_default_factory=True) for name, f in Settings.model_fields.items()}
    return Settings(_env_file=None, **{**defaults, **values})


def _inner_token(jwt: str) -> str:
    """Mage's session token is a JWT whose payload carries the token that Bearer needs."""
    try:
        payload = jwt.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["token"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return jwt


def _body(response: httpx.Response, key: str) -> dict[str, Any]:
    body = response.json()
    if response.status_code >= 400 or not isinstance(body, dict) or key not in body:
        raise RuntimeError(f"Mage answered HTTP {response.status_code}: {str(body)[:300]}")
    return body


async def _login(http: httpx.AsyncClient, email: str, password: str) -> str:
    response = await http.post("/sessions", json={"session": {"email": email, "password": password}})
    return _inner_token(_body(response, "session")["session"]["token"])


async def _seed(http: httpx.AsyncClient, count: int) -> None:
    for i in range(1, count + 1):
        response = await http.post(PIPELINES_PATH, json={"pipeline": {"name": f"bench_pipeline_{i}", "type": "python"}})
        _body(response, "pipeline")


async def _timed(fn: Callable[[], Any], out: list[float]) -> None:
    started = time.perf_counter_ns()
    await fn()
    out.append((time.perf_counter_ns() - started) / 1000)


async def _percall(url: str, email: str, password: str, rounds: int, calls: int, warmup: int) -> PerCall:
    headers = {"X-API-KEY": mage.MAGE_API_KEY, "Content-Type": "application/json"}  # as ClusterClient sends
    async with httpx.AsyncClient(base_url=f"{url}/api", headers=headers, timeout=30) as http:
        http.headers["Authorization"] = f"Bearer {await _login(http, email, password)}"
        await _seed(http, SEEDED_PIPELINES)
        settings = explicit_settings(
            mage_cluster_url=url,
            mage_api_key=SecretStr(mage.MAGE_API_KEY),
            mage_email=email,
            mage_password=SecretStr(password),
        )
        async with Client(build_server(settings)) as client:

            async def raw() -> dict[str, Any]:
                return _body(await http.get(PIPELINES_PATH, params=PIPELINES_PARAMS), "pipelines")

            async def via_mcp() -> Any:
                result = await client.call_tool("list_pipelines", {})
                if result.is_error:
                    raise RuntimeError(f"list_pipelines failed: {result.content}")
                return result

            # Warm-ups (the MCP side logs in on its first call); check both paths see the same pipelines.
            response = await http.get(PIPELINES_PATH, params=PIPELINES_PARAMS)
            upstream = _body(response, "pipelines")["pipelines"]
            first = await via_mcp()
            listed = first.structured_content["pipelines"]
            if sorted(p["uuid"] for p in upstream) != sorted(p["uuid"] for p in listed):
                raise RuntimeError(f"raw and MCP disagree: {upstream} vs {listed}")
            for _ in range(warmup):
                await raw()
                await via_mcp()

            log(f"per call: {warmup} warm-ups, then {rounds} rounds x {calls} calls each, interleaved")
            raw_rounds: list[list[float]] = []
            mcp_rounds: list[list[float]] = []
            with CpuIdle.measure() as idle:
                for r in range(rounds):
                    raw_us: list[float] = []
                    mcp_us: list[float] = []
                    for i in range(calls):
                        if (i + r) % 2 == 0:
                            await _timed(raw, raw_us)
                            await _timed(via_mcp, mcp_us)
                        else:
                            await _timed(via_mcp, mcp_us)
                            await _timed(raw, raw_us)
                    raw_rounds.append(raw_us)
                    mcp_rounds.append(mcp_us)
                    a, b = statistics.median(raw_us), statistics.median(mcp_us)
                    log(f"  round {r + 1}: raw {a:,.0f} us, MCP {b:,.0f} us")
            protocol = client.protocol_version

    per_round = [
        Round(
            raw_us=(a := statistics.median(raw_r)),
            mcp_us=(b := statistics.median(mcp_r)),
            ratio=b / a,
            added_us=b - a,
        )
        for raw_r, mcp_r in zip(raw_rounds, mcp_rounds, strict=True)
    ]
    raw_stats, mcp_stats = Stats.of_rounds(raw_rounds), Stats.of_rounds(mcp_rounds)
    text = first.content[0].text if first.content else ""
    return PerCall(
        rounds=rounds,
        calls=calls,
        warmup=warmup,
        request="GET /api/pipelines?_limit=20&_offset=0 (X-API-KEY + Bearer)",
        pipelines=len(upstream),
        upstream_body_bytes=len(response.content),
        tool_result_text_bytes=len(text.encode()),
        protocol_version=str(protocol) if protocol else None,
        raw_us=raw_stats,
        mcp_us=mcp_stats,
        per_round=per_round,
        ratio=mcp_stats.median / raw_stats.median,
        added_us=mcp_stats.median - raw_stats.median,
        cpu_idle_percent=idle.percent,
    )


@dataclass(frozen=True)
class RealMage:
    url: str
    email: str
    password: str


@contextmanager
def real_mage() -> Iterator[RealMage]:
    """A real Mage (auth on) in a temporary directory, always stopped and removed afterwards."""
    project_dir = Path(tempfile.mkdtemp(prefix="mage-mcp-bench-mage-"))
    email = f"bench-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(18)
    try:
        log(f"starting Mage {mage.MAGE_VERSION} (auth on) in {project_dir} ...")
        started = time.monotonic()
        instance = mage.start(project_dir, _closed_port(), auth=True, owner_email=email, owner_password=password)
        log(f"Mage ready at {instance.url} after {time.monotonic() - started:.1f} s")
        yield RealMage(instance.url, email, password)
    finally:
        log("stopping Mage")
        mage.stop(project_dir)
        shutil.rmtree(project_dir, ignore_errors=True)


def percall(rounds: int, calls: int, warmup: int) -> PerCall:
    """Measure against a real Mage started for it."""
    with real_mage() as running:
        return anyio.run(_percall, running.url, running.email, running.password, rounds, calls, warmup)


# --------------------------------------------------------------------------- 3. tools/list size


@dataclass(frozen=True)
class ToolSize:
    name: str
    bytes: int
    tokens_est: int


@dataclass(frozen=True)
class SubsetSize:
    """The whole tools/list result of a server started with one selection (read-only, one toolset)."""

    name: str
    tools: int
    bytes: int
    tokens_est: int


@dataclass(frozen=True)
class ToolsList:
    tools: list[ToolSize]
    average_bytes: float
    average_tokens_est: float
    result_bytes: int
    result_tokens_est: int
    subsets: list[SubsetSize]
    target: int = TARGET_BYTES_PER_TOOL
    token_estimate: str = "bytes/4"

    @property
    def ok(self) -> bool:
        return self.average_bytes <= self.target


def _compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def _listed(**selection: Any) -> ListToolsResult:
    server = build_server(explicit_settings(mage_cluster_url=f"http://127.0.0.1:{_closed_port()}", **selection))
    async with Client(server) as client:
        return await client.list_tools()


async def _subset(name: str, **selection: Any) -> SubsetSize:
    result = await _listed(**selection)
    size = _compact(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    return SubsetSize(name, len(result.tools), size, round(size / 4))


async def _tools_list() -> ToolsList:
    result = await _listed()
    sizes = [
        ToolSize(t.name, n := _compact(t.model_dump(mode="json", by_alias=True, exclude_none=True)), round(n / 4))
        for t in result.tools
    ]
    whole = _compact(result.model_dump(mode="json", by_alias=True, exclude_none=True))
    average = statistics.mean(s.bytes for s in sizes)
    subsets = [await _subset("--read-only", mage_mcp_read_only=True)]
    subsets += [await _subset(f"--toolsets {name}", mage_mcp_toolsets=(name,)) for name in TOOLSETS]
    return ToolsList(sizes, average, average / 4, whole, round(whole / 4), subsets)


def tools_list() -> ToolsList:
    log("tools/list size")
    return anyio.run(_tools_list)


# --------------------------------------------------------------------------- report


def _mark(ok: bool) -> str:
    return "\u2713" if ok else "\u2717"


def _idle(percent: float | None) -> str:
    return "" if percent is None else f"; CPU idle {percent:.0f} %"


def render(m: Machine, cold: ColdStart | None, calls: PerCall | None, tools: ToolsList | None) -> str:
    out: list[str] = []
    add = out.append
    add(f"machine: {m.nproc} CPUs ({m.cpu}), Python {m.python}, mcp {m.mcp}, httpx {m.httpx}, pydantic {m.pydantic}")
    add(f"         {m.platform}; load average at start {' '.join(f'{x:.2f}' for x in m.loadavg)}")

    if cold is not None:
        add("")
        add(f"1. Cold start over stdio: spawn -> initialize response, 1 warm-up + {cold.runs} runs each, interleaved")
        add(f"   bytecode: {cold.bytecode}{_idle(cold.cpu_idle_percent)}")
        add(f"   {'':32} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'CPU/start ms':>13}")
        for label, t, c in (
            ("bare SDK server (bare_server.py)", cold.bare_ms, cold.bare_cpu_ms),
            ("mage-mcp (python -m mage_mcp)", cold.server_ms, cold.server_cpu_ms),
        ):
            add(f"   {label:32} {t.min:>8.1f} {t.median:>10.1f} {t.max:>8.1f} {c.median:>13.1f}")
        add(
            f"   ratio of medians {cold.ratio:.3f} ({cold.added_ms:+.1f} ms)   "
            f"target <= {cold.target:.2f} {_mark(cold.ok)}   (CPU/start: median user+sys)"
        )

    if calls is not None:
        add("")
        add(
            f"2. Per-call overhead vs a real Mage {m.mage} (auth on, {calls.pipelines} pipelines): "
            f"{calls.warmup} warm-ups, {calls.rounds} rounds x {calls.calls} calls, interleaved"
        )
        add(f"   (a) raw httpx.AsyncClient, keep-alive: {calls.request}; body {calls.upstream_body_bytes:,} B")
        add(
            f"   (b) list_pipelines through in-process Client(build_server(...)), protocol "
            f"{calls.protocol_version}; result text {calls.tool_result_text_bytes:,} B{_idle(calls.cpu_idle_percent)}"
        )
        add(f"   {'round':>9} {'(a) raw µs':>11} {'(b) MCP µs':>11} {'ratio':>7} {'added µs':>9}")
        for i, r in enumerate(calls.per_round, 1):
            add(f"   {i:>9} {r.raw_us:>11,.0f} {r.mcp_us:>11,.0f} {r.ratio:>7.3f} {r.added_us:>+9,.0f}")
        add(
            f"   {'overall':>9} {calls.raw_us.median:>11,.0f} {calls.mcp_us.median:>11,.0f} "
            f"{calls.ratio:>7.3f} {calls.added_us:>+9,.0f}   target ratio <= {calls.target:.2f} {_mark(calls.ok)}"
        )
        add(
            f"   overall = median of the round medians; min/max over all calls: (a) {calls.raw_us.min:,.0f}/"
            f"{calls.raw_us.max:,.0f} µs, (b) {calls.mcp_us.min:,.0f}/{calls.mcp_us.max:,.0f} µs"
        )

    if tools is not None:
        add("")
        add(
            "3. tools/list size: compact JSON of each tool as listed to a client "
            "(tokens estimated as bytes/4, no tokenizer)"
        )
        width = max(len(s.name) for s in tools.tools) if tools.tools else 4
        add(f"   {'tool':<{width}} {'bytes':>7} {'~tokens':>8}")
        for size in tools.tools:
            add(f"   {size.name:<{width}} {size.bytes:>7,} {size.tokens_est:>8,}")
        add(
            f"   {'average':<{width}} {tools.average_bytes:>7,.0f} {tools.average_tokens_est:>8,.0f}   "
            f"target <= {tools.target} B/tool {_mark(tools.ok)}"
        )
        add(
            f"   whole tools/list result ({len(tools.tools)} tools): {tools.result_bytes:,} B, "
            f"~{tools.result_tokens_est:,} tokens (bytes/4)"
        )
        rows = [("no option (every tool)", len(tools.tools), tools.result_bytes, tools.result_tokens_est)]
        rows += [(sub.name, sub.tools, sub.bytes, sub.tokens_est) for sub in tools.subsets]
        add(f"   {'whole tools/list result, started with':<38} {'tools':>5} {'bytes':>7} {'~tokens':>8}")
        for label, count, nbytes, tokens in rows:
            add(f"   {label:<38} {count:>5} {nbytes:>7,} {tokens:>8,}")
    return "\n".join(out)


def part(value: Any) -> dict[str, Any] | None:
    """A result section as JSON data, with whether it met its target."""
    if value is None:
        return None
    data: dict[str, Any] = asdict(value)
    data["ok"] = value.ok
    return data


def rounded(value: Any) -> Any:
    """`value` with every float rounded to 3 decimals, at any depth."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def as_json(m: Machine, cold: ColdStart | None, calls: PerCall | None, tools: ToolsList | None) -> str:
    return json.dumps(
        rounded({"machine": asdict(m), "coldstart": part(cold), "percall": part(calls), "tools_list": part(tools)}),
        indent=2,
        ensure_ascii=False,
    )


# --------------------------------------------------------------------------- main


@dataclass
class Options:
    quick: bool = False
    json: bool = False
    runs: int = 20
    rounds: int = 3
    calls: int = 100
    warmup: int = 10
    pycache: bool = True
    wait_idle: float = 0
    skip: list[str] = field(default_factory=list)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench/bench.py", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="5 cold starts each, 2 rounds x 30 calls")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--runs", type=int, help="cold starts per server (default 20; --quick 5)")
    parser.add_argument("--rounds", type=int, help="per-call rounds (default 3; --quick 2)")
    parser.add_argument("--calls", type=int, help="calls per round and path (default 100; --quick 30)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per path before the rounds (10)")
    parser.add_argument(
        "--no-pycache",
        dest="pycache",
        action="store_false",
        help="cold starts with PYTHONDONTWRITEBYTECODE=1 (recompiles sources without .pyc on every start)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each timed section, wait up to SECONDS for two 3 s windows of >= 90 %% idle CPU",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["coldstart", "percall", "tools"], help="skip a section"
    )
    ns = parser.parse_args(argv)
    quick = bool(ns.quick)
    return Options(
        quick=quick,
        json=bool(ns.json),
        runs=ns.runs or (5 if quick else 20),
        rounds=ns.rounds or (2 if quick else 3),
        calls=ns.calls or (30 if quick else 100),
        warmup=ns.warmup,
        pycache=bool(ns.pycache),
        wait_idle=ns.wait_idle,
        skip=list(ns.skip),
    )


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop Mage and the children


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    m = machine()
    # The cold starts run first, before Mage is started and adds its own background load.
    cold = tools = calls = None
    if "coldstart" not in opts.skip:
        wait_for_idle(opts.wait_idle)
        cold = coldstart(opts.runs, opts.pycache)
    if "tools" not in opts.skip:
        tools = tools_list()
    if "percall" not in opts.skip:
        wait_for_idle(opts.wait_idle)
        calls = percall(opts.rounds, opts.calls, opts.warmup)
    log(f"done in {time.monotonic() - started:.0f} s")
    print(as_json(m, cold, calls, tools) if opts.json else render(m, cold, calls, tools))
    return 0


if __name__ == "__main__":
    sys.exit(main())
