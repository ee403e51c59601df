"""Load and memory benchmark of mage-mcp over Streamable HTTP against a real Mage, and of its in-process stores.

    .venv/bin/python bench/load.py [--json] [--calls-for-memory N] [--skip load|memory|stores]

1. Concurrency: 200 concurrent `list_pipelines` calls from one MCP client session to a `mage-mcp` process
   (`--transport streamable-http`) next to 200 concurrent raw httpx GETs of the same request to the same Mage;
   20 warm-ups each, then 3 interleaved rounds; p50/p99 latency, throughput, errors.
2. Memory: RSS (VmRSS of /proc/<pid>/status) of the idle server after `initialize`, after the concurrency
   rounds, then every 2,000 of 10,000 more calls (batches of 50 concurrent).
3. Stores (in process, no Mage): 100,000 confirmation tokens issued and redeemed within their TTL, and
   100,000 idempotency keys remembered; entries kept against their caps.

Progress goes to stderr, the table (or, with --json, one JSON document) to stdout. Exit code 0 whatever the
figures are: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

from mage_mcp.local import mage
from mage_mcp.server.confirmation import ConfirmationTokens, TokenError
from mage_mcp.server.idempotency import IdempotencyKeys
from mage_mcp.server.state import MAX_ENTRIES, ProcessState

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bench.py is a script next to this one, not a package module

from bench import (  # noqa: E402
    PIPELINES_PARAMS,
    PIPELINES_PATH,
    SEEDED_PIPELINES,
    CpuIdle,
    Machine,
    _body,
    _closed_port,
    _login,
    _seed,
    _terminate,
    machine,
    part,
    real_mage,
    rounded,
)

CONCURRENCY = 200
WARMUP_CALLS = 20
ROUNDS = 3
MEMORY_CALLS = 10_000
MEMORY_BATCH = 50
MEMORY_CHECKPOINT = 2_000
STORE_ENTRIES = 100_000

TARGET_P99_RATIO = 1.2
TARGET_THROUGHPUT_RATIO = 0.8
RSS_GROWTH_BOUND_MIB = 10.0
"""Allowed RSS growth from the first memory checkpoint to the last (the steady state, after one-time warm-up)."""

SERVER_START_TIMEOUT_S = 60
PIPELINES_TIMEOUT = httpx.Timeout(20.0, connect=5.0)  # what the server's ClusterSession uses (default pool limits)


def log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- statistics


def percentile(samples: Sequence[float], p: int) -> float:
    """The p-th percentile by the inclusive method (p50 is the median)."""
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


@dataclass(frozen=True)
class Burst:
    """One round of concurrent calls on one path."""

    calls: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    wall_s: float
    throughput_rps: float


async def burst(call: Callable[[], Awaitable[bool]], calls: int) -> tuple[Burst, list[str]]:
    """Start `calls` calls at once; time each; a call that returns False or raises is an error."""
    latencies: list[float] = []
    errors: list[str] = []

    async def one() -> None:
        started = time.perf_counter()
        try:
            ok = await call()
        except Exception as exc:  # counted, not raised: one failure must not cancel the others
            ok, kind = False, type(exc).__name__
        else:
            kind = "error result"
        latencies.append((time.perf_counter() - started) * 1000)
        if not ok:
            errors.append(kind)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(calls):
            tg.start_soon(one)
    wall = time.perf_counter() - started
    return (
        Burst(
            calls=calls,
            errors=len(errors),
            p50_ms=percentile(latencies, 50),
            p99_ms=percentile(latencies, 99),
            max_ms=max(latencies),
            wall_s=wall,
            throughput_rps=calls / wall,
        ),
        errors,
    )


# --------------------------------------------------------------------------- the server process


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (Linux only; 0 elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def http_server(
    cluster_url: str, email: str, password: str, workdir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`python -m mage_mcp --transport streamable-http` on a free port; yields (process, port); always stopped."""
    port = _closed_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(workdir)),
        "XDG_CONFIG_HOME": str(workdir),
        "MAGE_CLUSTER_URL": cluster_url,
        "MAGE_EMAIL": email,
        "MAGE_PASSWORD": password,
        "MAGE_MCP_AUDIT_LOG": str(workdir / "audit.jsonl"),
    }
    argv = [sys.executable, "-m", "mage_mcp", "--transport", "streamable-http", "--host", "127.0.0.1"]
    with (workdir / "server.stderr").open("wb") as errors:
        proc = subprocess.Popen(
            [*argv, "--port", str(port)], env=env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while not _port_open(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mage-mcp did not listen on {port} (exit {proc.poll()})")
                time.sleep(0.05)
            yield proc, port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------- 1 + 2. load and memory


@dataclass(frozen=True)
class LoadRound:
    raw: Burst
    mcp: Burst


@dataclass(frozen=True)
class Load:
    concurrency: int
    warmup: int
    rounds: list[LoadRound]
    raw_p50_ms: float
    raw_p99_ms: float
    raw_throughput_rps: float
    mcp_p50_ms: float
    mcp_p99_ms: float
    mcp_throughput_rps: float
    p99_ratio: float
    throughput_ratio: float
    errors: int
    error_kinds: list[str]
    cpu_idle_percent: float | None
    target_p99_ratio: float = TARGET_P99_RATIO
    target_throughput_ratio: float = TARGET_THROUGHPUT_RATIO

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0
            and self.p99_ratio <= self.target_p99_ratio
            and self.throughput_ratio >= self.target_throughput_ratio
        )


@dataclass(frozen=True)
class RssPoint:
    calls: int
    rss_kib: int


@dataclass(frozen=True)
class Memory:
    idle_kib: int
    points: list[RssPoint]
    errors: int
    seconds: float
    growth_total_mib: float
    growth_steady_mib: float
    bound_mib: float = RSS_GROWTH_BOUND_MIB

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.growth_steady_mib <= self.bound_mib


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def summarize_load(rounds: list[LoadRound], error_kinds: list[str], idle: float | None) -> Load:
    raw_p99 = _median([r.raw.p99_ms for r in rounds])
    mcp_p99 = _median([r.mcp.p99_ms for r in rounds])
    raw_rps = _median([r.raw.throughput_rps for r in rounds])
    mcp_rps = _median([r.mcp.throughput_rps for r in rounds])
    return Load(
        concurrency=CONCURRENCY,
        warmup=WARMUP_CALLS,
        rounds=rounds,
        raw_p50_ms=_median([r.raw.p50_ms for r in rounds]),
        raw_p99_ms=raw_p99,
        raw_throughput_rps=raw_rps,
        mcp_p50_ms=_median([r.mcp.p50_ms for r in rounds]),
        mcp_p99_ms=mcp_p99,
        mcp_throughput_rps=mcp_rps,
        p99_ratio=mcp_p99 / raw_p99,
        throughput_ratio=mcp_rps / raw_rps,
        errors=sum(r.raw.errors + r.mcp.errors for r in rounds),
        error_kinds=sorted(set(error_kinds)),
        cpu_idle_percent=idle,
    )


async def measure_load(raw: Callable[[], Awaitable[bool]], via_mcp: Callable[[], Awaitable[bool]]) -> Load:
    log(f"load: {WARMUP_CALLS} warm-ups each, then {ROUNDS} rounds x {CONCURRENCY} concurrent calls, interleaved")
    for call in (raw, via_mcp):
        await burst(call, WARMUP_CALLS)
    rounds: list[LoadRound] = []
    kinds: list[str] = []
    with CpuIdle.measure() as idle:
        for r in range(ROUNDS):
            raw_burst, raw_errors = await burst(raw, CONCURRENCY)
            mcp_burst, mcp_errors = await burst(via_mcp, CONCURRENCY)
            rounds.append(LoadRound(raw_burst, mcp_burst))
            kinds += [f"raw: {k}" for k in raw_errors] + [f"mcp: {k}" for k in mcp_errors]
            log(
                f"  round {r + 1}: raw p99 {raw_burst.p99_ms:,.0f} ms {raw_burst.throughput_rps:.1f}/s, "
                f"MCP p99 {mcp_burst.p99_ms:,.0f} ms {mcp_burst.throughput_rps:.1f}/s"
            )
    return summarize_load(rounds, kinds, idle.percent)


async def measure_memory(
    via_mcp: Callable[[], Awaitable[bool]], pid: int, idle_kib: int, done: int, calls: int
) -> Memory:
    log(f"memory: {calls:,} calls in batches of {MEMORY_BATCH} concurrent, RSS every {MEMORY_CHECKPOINT:,}")
    points = [RssPoint(done, rss_kib(pid))]
    errors = 0
    started = time.monotonic()
    for sent in range(MEMORY_BATCH, calls + 1, MEMORY_BATCH):
        batch, _ = await burst(via_mcp, MEMORY_BATCH)
        errors += batch.errors
        if sent % MEMORY_CHECKPOINT == 0:
            points.append(RssPoint(done + sent, rss_kib(pid)))
            log(f"  {sent:,} calls: RSS {points[-1].rss_kib / 1024:.1f} MiB ({errors} errors)")
    first_checkpoint = points[1] if len(points) > 1 else points[0]
    return Memory(
        idle_kib=idle_kib,
        points=points,
        errors=errors,
        seconds=time.monotonic() - started,
        growth_total_mib=(points[-1].rss_kib - idle_kib) / 1024,
        growth_steady_mib=(points[-1].rss_kib - first_checkpoint.rss_kib) / 1024,
    )


@dataclass(frozen=True)
class LiveResult:
    pipelines: int
    idle_rss_kib: int
    load: Load | None
    memory: Memory | None


async def _live(url: str, email: str, password: str, workdir: Path, opts: Options) -> LiveResult:
    headers = {"X-API-KEY": mage.MAGE_API_KEY, "Content-Type": "application/json"}  # as ClusterSession sends
    async with httpx.AsyncClient(base_url=f"{url}/api", headers=headers, timeout=PIPELINES_TIMEOUT) as http:
        http.headers["Authorization"] = f"Bearer {await _login(http, email, password)}"
        await _seed(http, SEEDED_PIPELINES)

        async def raw() -> bool:
            response = await http.get(PIPELINES_PATH, params=PIPELINES_PARAMS)
            return response.status_code == 200 and "pipelines" in _body(response, "pipelines")

        pipelines = len(_body(await http.get(PIPELINES_PATH, params=PIPELINES_PARAMS), "pipelines")["pipelines"])
        with http_server(url, email, password, workdir) as (proc, port):
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:

                async def via_mcp() -> bool:
                    result = await client.call_tool("list_pipelines", {})
                    return not result.is_error

                idle_kib = rss_kib(proc.pid)
                log(f"server pid {proc.pid} idle after initialize: RSS {idle_kib / 1024:.1f} MiB")
                load = await measure_load(raw, via_mcp) if "load" not in opts.skip else None
                done = WARMUP_CALLS + ROUNDS * CONCURRENCY if load else 0
                memory = None
                if "memory" not in opts.skip:
                    memory = await measure_memory(via_mcp, proc.pid, idle_kib, done, opts.memory_calls)
    return LiveResult(pipelines, idle_kib, load, memory)


def live(opts: Options) -> LiveResult:
    """Measure against a real Mage started for it; the server's stderr must not hold Mage's password."""
    workdir = Path(tempfile.mkdtemp(prefix="mage-mcp-load-server-"))
    try:
        with real_mage() as running:
            result: LiveResult = anyio.run(_live, running.url, running.email, running.password, workdir, opts)
            stderr = workdir / "server.stderr"
            if stderr.exists() and running.password in stderr.read_text(errors="replace"):
                log("WARNING: the server's stderr contains the Mage password")
            return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- 3. in-process stores


@dataclass(frozen=True)
class TokenStore:
    issued: int
    redeemed: int
    refused_over_cap: int
    used_kept: int
    cap: int | None
    deep_bytes: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.cap is not None and self.used_kept <= self.cap


@dataclass(frozen=True)
class KeyStore:
    remembered: int
    kept: int
    capacity: int
    locks_kept: int
    deep_bytes: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.kept <= self.capacity and self.locks_kept <= self.capacity + 1


@dataclass(frozen=True)
class Stores:
    tokens: TokenStore
    keys: KeyStore

    @property
    def ok(self) -> bool:
        return self.tokens.ok and self.keys.ok


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def deep_bytes(value: Any) -> int:
    """sys.getsizeof of a container and everything it holds (dicts, lists, tuples, dataclasses, scalars)."""
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(deep_bytes(k) + deep_bytes(v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        size += sum(deep_bytes(v) for v in value)
    elif hasattr(value, "__dataclass_fields__"):
        size += sum(deep_bytes(getattr(value, name)) for name in value.__dataclass_fields__)
    return size


async def confirmation_tokens(count: int) -> TokenStore:
    """Issue and redeem `count` tokens, 1 ms of fake time apart: all within the 300 s TTL."""
    clock = FakeClock()
    state = ProcessState(clock=clock)
    tokens = ConfirmationTokens(300, state, clock=clock)
    redeemed = refused = 0
    started = time.perf_counter()
    for i in range(count):
        arguments = {"pipeline_uuid": f"p{i}", "profile": "default"}
        token, _ = tokens.issue("trigger_pipeline", arguments)
        try:
            await tokens.redeem(token, "trigger_pipeline", arguments)
            redeemed += 1
        except TokenError:
            refused += 1
        clock.now += 0.001
    used: dict[str, float] = state._claims
    return TokenStore(
        issued=count,
        redeemed=redeemed,
        refused_over_cap=refused,
        used_kept=len(used),
        cap=MAX_ENTRIES,
        deep_bytes=deep_bytes(used),
        seconds=time.perf_counter() - started,
    )


async def idempotency_keys(count: int) -> KeyStore:
    """Remember `count` keys (a small result each) within the TTL, taking each key's lock as the tools do."""
    clock = FakeClock()
    state = ProcessState(clock=clock)
    keys = IdempotencyKeys(state, "default")
    started = time.perf_counter()
    for i in range(count):
        key = f"key-{i}"
        async with keys.lock("trigger_pipeline", key):
            arguments = {"pipeline_uuid": "p", "variables": {"n": i}}
            await keys.remember("trigger_pipeline", key, arguments, {"status": "started", "id": i})
        clock.now += 0.001
    return KeyStore(
        remembered=count,
        kept=len(state._values),
        capacity=state._capacity,
        locks_kept=len(state._locks),
        deep_bytes=deep_bytes(dict(state._values)),
        seconds=time.perf_counter() - started,
    )


def stores(count: int) -> Stores:
    log(f"stores: {count:,} confirmation tokens and {count:,} idempotency keys, in process")
    return Stores(anyio.run(confirmation_tokens, count), anyio.run(idempotency_keys, count))


# --------------------------------------------------------------------------- report


def _mark(ok: bool) -> str:
    return "\u2713" if ok else "\u2717"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f}"


def render_load(add: Callable[[str], None], m: Machine, live_result: LiveResult, load: Load) -> None:
    add("")
    add(
        f"1. {load.concurrency} concurrent calls vs a real Mage {m.mage} (auth on, {live_result.pipelines} pipelines): "
        f"{load.warmup} warm-ups, {len(load.rounds)} rounds, interleaved"
    )
    add("   raw: one httpx.AsyncClient, GET /api/pipelines?_limit=20&_offset=0 (X-API-KEY + Bearer)")
    add(f"   MCP: one Client session over Streamable HTTP, list_pipelines{_idle(load.cpu_idle_percent)}")
    header = ("round", 7), ("path", 4), ("p50 ms", 8), ("p99 ms", 8), ("max ms", 8), ("wall s", 7), ("calls/s", 8)
    add("   " + " ".join(f"{name:>{width}}" for name, width in header) + f" {'errors':>7}")
    for i, r in enumerate(load.rounds, 1):
        for name, b in (("raw", r.raw), ("MCP", r.mcp)):
            add(
                f"   {i:>7} {name:>4} {b.p50_ms:>8,.0f} {b.p99_ms:>8,.0f} {b.max_ms:>8,.0f} {b.wall_s:>7.2f} "
                f"{b.throughput_rps:>8.1f} {b.errors:>7}"
            )
    add(
        f"   median of rounds: raw p50 {load.raw_p50_ms:,.0f} / p99 {load.raw_p99_ms:,.0f} ms, "
        f"{load.raw_throughput_rps:.1f}/s; MCP p50 {load.mcp_p50_ms:,.0f} / p99 {load.mcp_p99_ms:,.0f} ms, "
        f"{load.mcp_throughput_rps:.1f}/s"
    )
    add(
        f"   p99 ratio {load.p99_ratio:.3f} (target <= {load.target_p99_ratio}), throughput ratio "
        f"{load.throughput_ratio:.3f} (target >= {load.target_throughput_ratio}), errors {load.errors} {_mark(load.ok)}"
    )
    if load.error_kinds:
        add(f"   error kinds: {', '.join(load.error_kinds)}")


def render_memory(add: Callable[[str], None], memory: Memory) -> None:
    steady_from = memory.points[1].calls if len(memory.points) > 1 else memory.points[0].calls
    add("")
    add(f"2. Server RSS (VmRSS): idle after initialize {_mib(memory.idle_kib)} MiB; calls in batches of {MEMORY_BATCH}")
    add(f"   {'calls':>8} {'RSS MiB':>8}")
    for point in memory.points:
        add(f"   {point.calls:>8,} {_mib(point.rss_kib):>8}")
    add(
        f"   growth idle -> last {memory.growth_total_mib:+.1f} MiB; steady ({steady_from:,} -> "
        f"{memory.points[-1].calls:,} calls) {memory.growth_steady_mib:+.1f} MiB, bound <= {memory.bound_mib} MiB; "
        f"errors {memory.errors}; {memory.seconds:.0f} s {_mark(memory.ok)}"
    )


def render_stores(add: Callable[[str], None], s: Stores) -> None:
    t, k = s.tokens, s.keys
    cap = "none" if t.cap is None else f"{t.cap:,}"
    add("")
    add("3. In-process stores (fake clock, every entry within its TTL)")
    add(
        f"   ConfirmationTokens: {t.issued:,} issued, {t.redeemed:,} redeemed, {t.refused_over_cap:,} refused over the "
        f"cap; used kept {t.used_kept:,} (cap {cap}), ~{t.deep_bytes / 1024:,.0f} KiB; "
        f"{t.seconds:.1f} s ({t.seconds / t.issued * 1e6:,.0f} µs per issue+redeem) {_mark(t.ok)}"
    )
    add(
        f"   IdempotencyKeys: {k.remembered:,} remembered; kept {k.kept:,} of capacity {k.capacity:,}, locks kept "
        f"{k.locks_kept:,}, ~{k.deep_bytes / 1024:,.0f} KiB; {k.seconds:.1f} s {_mark(k.ok)}"
    )


def _idle(percent: float | None) -> str:
    return "" if percent is None else f"; CPU idle {percent:.0f} %"


def render(m: Machine, live_result: LiveResult | None, s: Stores | None) -> str:
    out: list[str] = []
    add = out.append
    add(f"machine: {m.nproc} CPUs ({m.cpu}), Python {m.python}, mcp {m.mcp}, httpx {m.httpx}, pydantic {m.pydantic}")
    add(f"         {m.platform}; load average at start {' '.join(f'{x:.2f}' for x in m.loadavg)}")
    if live_result is not None and live_result.load is not None:
        render_load(add, m, live_result, live_result.load)
    if live_result is not None and live_result.memory is not None:
        render_memory(add, live_result.memory)
    if s is not None:
        render_stores(add, s)
    return "\n".join(out)


def as_json(m: Machine, live_result: LiveResult | None, s: Stores | None) -> str:
    document: dict[str, Any] = {"machine": asdict(m), "load": None, "memory": None, "stores": None}
    if live_result is not None:
        document |= {"pipelines": live_result.pipelines, "load": part(live_result.load)}
        document["memory"] = part(live_result.memory)
    if s is not None:
        document["stores"] = {"ok": s.ok, "tokens": part(s.tokens), "keys": part(s.keys)}
    return json.dumps(rounded(document), indent=2, ensure_ascii=False)


# --------------------------------------------------------------------------- main


@dataclass
class Options:
    json: bool = False
    memory_calls: int = MEMORY_CALLS
    skip: list[str] = field(default_factory=list)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="bench/load.py", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument(
        "--calls-for-memory", type=int, default=MEMORY_CALLS, help=f"calls of the memory phase ({MEMORY_CALLS:,})"
    )
    parser.add_argument("--skip", action="append", default=[], choices=["load", "memory", "stores"])
    ns = parser.parse_args(argv)
    return Options(json=bool(ns.json), memory_calls=max(MEMORY_BATCH, ns.calls_for_memory), skip=list(ns.skip))


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    m = machine()
    s = stores(STORE_ENTRIES) if "stores" not in opts.skip else None
    live_result = live(opts) if not {"load", "memory"} <= set(opts.skip) else None
    log(f"done in {time.monotonic() - started:.0f} s")
    print(as_json(m, live_result, s) if opts.json else render(m, live_result, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
