"""The processes the tests start (`mage-mcp`, a local cloud), their stderr, and what /proc shows of them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

import pytest

# The only MAGE_* variables of the developer's shell that a local cloud sees: where its Mage venv is.
LOCAL_CLOUD_KEEPS = frozenset({"MAGE_MCP_MAGE_VENV", "MAGE_MCP_PYTHON"})
KILL_WAIT_S = 10.0


def mage_mcp_command(*args: str) -> list[str]:
    """`python -m mage_mcp ARGS` with this interpreter."""
    return [sys.executable, "-m", "mage_mcp", *args]


def local_cloud_env() -> dict[str, str]:
    """This process's environment, minus anything that could leak into the clusters or the config.

    The local cloud hands its own environment to each Mage it starts, so GREETING must not be in it,
    and no MAGE_* setting of the developer's shell may change what the test sees.
    """
    return {
        name: value
        for name, value in os.environ.items()
        if name != "GREETING" and (not name.startswith("MAGE_") or name in LOCAL_CLOUD_KEEPS)
    }


def spawn_local_cloud(state_dir: Path, *args: str, stdout: IO[Any] | int, stderr: IO[Any]) -> subprocess.Popen[bytes]:
    """`mage-mcp local-cloud --state-dir STATE_DIR ARGS` with `local_cloud_env()` and no stdin."""
    return subprocess.Popen(
        mage_mcp_command("local-cloud", "--state-dir", str(state_dir), *args),
        env=local_cloud_env(),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )


def wait_until_ready(proc: subprocess.Popen[bytes], env_file: Path, timeout: float, log: Callable[[], str]) -> None:
    """Wait for a local cloud's ready signal (`env_file` exists); fail if it exits first or takes `timeout` s."""
    deadline = time.monotonic() + timeout
    while not env_file.exists():
        if proc.poll() is not None:
            pytest.fail(f"the local cloud exited with {proc.returncode} before it was ready:\n{log()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {env_file} after {timeout:g} s:\n{log()}")
        time.sleep(0.02)


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> bool:
    """SIGTERM a process that still runs, SIGKILL it after `timeout` s; whether it ended without the SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=KILL_WAIT_S)
            return False
    return True


@contextmanager
def stderr_file() -> Iterator[TextIO]:
    """A temporary file for a process's stderr (read it back with `read_text`)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as handle:
        yield handle


def read_text(handle: TextIO) -> str:
    """Everything written to `handle` so far."""
    handle.flush()
    handle.seek(0)
    return handle.read()


def assert_no_secrets(text: str, secrets: Iterable[str], what: str) -> None:
    """None of `secrets` is in `text`; each must be non-empty, since an empty one would prove nothing."""
    values = list(secrets)
    assert all(values), f"{what}: an empty secret value cannot be looked for"
    leaked = [f"secret #{n}" for n, value in enumerate(values) if value in text]
    assert not leaked, f"{what} contains {', '.join(leaked)}:\n{text[-4000:]}"


def processes_under(directory: Path, *, besides: int | None = None) -> list[str]:
    """Live processes that name `directory` in their working directory, command line or environment.

    Mage's processes run in their cluster's directory and inherit MAGE_DATA_DIR (below it), so each
    names it in one of those. Zombies, this process and `besides` (say, the local cloud, which names
    its state directory on its command line) are left out.
    """
    needle = str(directory)
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), besides):
            continue
        proc = Path(entry.path)
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X", "x"):
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if needle in cwd or needle in cmdline or needle in environ:
            found.append(f"pid {entry.name} (cwd {cwd}): {cmdline.strip()[:300]}")
    return found
