"""mage_mcp.local.mage against real Mage processes: auth with generated owners, a clean stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from mage_mcp.local import mage
from tests.support.ports import free_port

if TYPE_CHECKING:
    from tests.integration.conftest import RealMage


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgid, sid) from /proc/PID/stat, or None when the PID is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _live_procs() -> dict[int, tuple[int, int, int]]:
    """Every live (not zombie) process: pid -> (ppid, pgid, sid)."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None and info[0] not in ("Z", "X"):
                procs[int(entry.name)] = info[1:]
    return procs


def _tree(leader: int) -> set[int]:
    """Live members of the leader's group/session plus all their descendants."""
    procs = _live_procs()
    found = {pid for pid, (_, pgid, sid) in procs.items() if leader in (pgid, sid)}
    grew = True
    while grew:
        more = {pid for pid, (ppid, _, _) in procs.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return found


@pytest.mark.anyio
async def test_real_mage_requires_login_with_the_generated_owner(real_mage: RealMage) -> None:
    assert real_mage.email != "admin@admin.com"
    headers = {"X-API-KEY": mage.MAGE_API_KEY}
    async with httpx.AsyncClient(base_url=real_mage.url, timeout=30) as client:
        status = (await client.get("/api/status")).json()
        assert status["statuses"][0]["require_user_authentication"] is True

        ok = await client.post(
            "/api/sessions",
            headers=headers,
            json={"session": {"email": real_mage.email, "password": real_mage.password}},
        )
        token = ok.json()["session"]["token"]
        assert isinstance(token, str)
        assert token

        default = await client.post(
            "/api/sessions",
            headers=headers,
            json={"session": {"email": "admin@admin.com", "password": "admin"}},
        )
        body = default.json()
        assert "error" in body
        assert "session" not in body

    instance = mage.status(real_mage.project_dir)
    assert instance is not None
    assert instance.url == real_mage.url
    assert instance.auth is True


def test_start_refuses_a_port_in_use(real_mage: RealMage, tmp_path: Path) -> None:
    with pytest.raises(mage.MageError, match="already in use"):
        mage.start(
            tmp_path / "other",
            real_mage.port,
            auth=False,
            owner_email="owner@example.com",
            owner_password="x-secret",
        )
    assert not (tmp_path / "other" / "mage.pid").exists()


def test_stop_leaves_no_process_and_is_idempotent(tmp_path: Path) -> None:
    project_dir = tmp_path / "second"
    port = free_port()
    try:
        instance = mage.start(
            project_dir, port, auth=False, owner_email="second@example.com", owner_password="s3cret-pw"
        )
        assert instance.port == port
        assert instance.auth is False
        assert (project_dir / "mage.pid").read_text().strip() == str(instance.pid)
        assert httpx.get(f"{instance.url}/api/pipelines", timeout=10).json()["pipelines"]

        # A second start of the same directory returns the running server; another port refuses.
        assert (
            mage.start(
                project_dir, port, auth=False, owner_email="second@example.com", owner_password="s3cret-pw"
            )
            == instance
        )
        with pytest.raises(mage.MageError, match="already runs on port"):
            mage.start(
                project_dir,
                free_port(),
                auth=False,
                owner_email="second@example.com",
                owner_password="s3cret-pw",
            )
        assert mage.status(project_dir) == instance

        # GET /api/kernels starts a Jupyter kernel in a session of its own: stopping only the
        # server's process group would leave it running.
        kernels = httpx.get(f"{instance.url}/api/kernels", timeout=30).json()["kernels"]
        kernel_pid = kernels[0]["usage"]["pid"]
        kernel = _stat(kernel_pid)
        assert kernel is not None
        assert kernel[3] != instance.pid

        members = _tree(instance.pid)
        assert {instance.pid, kernel_pid} <= members
        assert len(members) >= 3  # the server, its scheduler, the kernel

        started = time.monotonic()
        mage.stop(project_dir)
        took = time.monotonic() - started
    finally:
        mage.stop(project_dir)

    still_alive = {pid for pid in members if (info := _stat(pid)) is not None and info[0] not in ("Z", "X")}
    assert still_alive == set()
    assert _tree(instance.pid) == set()
    assert took < 15
    assert not (project_dir / "mage.pid").exists()

    started = time.monotonic()
    mage.stop(project_dir)  # no pid file: a no-op
    assert time.monotonic() - started < 1
    assert mage.status(project_dir) is None


# A stand-in for a server that ignores SIGTERM: a session leader whose child runs in a session of
# its own. The file name puts "mage" in the command line, as stop() expects of the recorded PID.
_STUBBORN = """\
import signal, subprocess, sys, time
from pathlib import Path

signal.signal(signal.SIGTERM, signal.SIG_IGN)
role, ready = sys.argv[1], sys.argv[2]
if role == "parent":
    subprocess.Popen([sys.executable, __file__, "child", ready], start_new_session=True)
else:
    Path(ready).touch()
time.sleep(600)
"""


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    script = tmp_path / "fake_mage.py"
    script.write_text(_STUBBORN)
    ready = tmp_path / "child-ready"
    leader = subprocess.Popen([sys.executable, str(script), "parent", str(ready)], start_new_session=True)
    try:
        (tmp_path / "mage.pid").write_text(f"{leader.pid}\n")
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert time.monotonic() < deadline, "the stubborn child did not start"
            time.sleep(0.05)
        members = _tree(leader.pid)
        assert len(members) == 2

        started = time.monotonic()
        mage.stop(tmp_path, timeout=1)
        took = time.monotonic() - started
    finally:
        leader.kill()
        leader.wait(5)
    assert 1 <= took < 10
    assert leader.returncode == -signal.SIGKILL
    assert _tree(leader.pid) == set()
    assert not (tmp_path / "mage.pid").exists()
