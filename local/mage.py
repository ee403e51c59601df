"""Run a real Mage OSS server (``mage-ai==0.9.80`` from PyPI) for one project directory.

The layout of a project directory ``DIR``::

    DIR/project/     the Mage project (pipelines, block code, metadata.yaml)
    DIR/mage_data/   MAGE_DATA_DIR: the SQLite DB, logs and block outputs
    DIR/mage.log     the server's stdout and stderr (appended)
    DIR/mage.pid     the PID of ``mage start``; it leads its own session and process group
    DIR/mage.port    the port it listens on (127.0.0.1 only)
    DIR/mage.env     written by the CLI's ``start``: MAGE_CLUSTER_URL, MAGE_EMAIL, MAGE_PASSWORD (0600)

Python API: :func:`ensure_venv`, :func:`start`, :func:`stop`, :func:`status`.
CLI: ``python -m mage_mcp.local.mage install | start DIR | stop DIR | status DIR``;
only the result (a URL or the venv path) goes to stdout, progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.resources
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "MAGE_API_KEY",
    "MAGE_VERSION",
    "MageError",
    "MageInstance",
    "default_venv",
    "ensure_venv",
    "init_project",
    "is_running",
    "start",
    "status",
    "stop",
]

MAGE_VERSION = "0.9.80"
# Mage's built-in frontend OAuth client id (OAUTH2_APPLICATION_CLIENT_ID); public, not a secret.
MAGE_API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"

_CONSTRAINTS = f"mage-constraints-{MAGE_VERSION}.txt"
_CONSTRAINTS_PYTHON = "3.11"  # the constraints were frozen on CPython 3.11
_HOST = "127.0.0.1"
_LOG_TAIL_LINES = 30
_POLL_SECONDS = 0.5

logger = logging.getLogger(__name__)

# Popen objects of the servers this process started, so that stop() can reap them (no zombies)
# and they are never garbage-collected while running (which would warn).
_children: dict[int, subprocess.Popen[bytes]] = {}


class MageError(RuntimeError):
    """Installing, starting or stopping Mage failed; the message says why and what to do."""


@dataclass(frozen=True)
class MageInstance:
    """A running Mage server for one project directory."""

    url: str
    pid: int
    project_dir: Path
    port: int
    auth: bool

    @property
    def log_file(self) -> Path:
        return self.project_dir / "mage.log"

    @property
    def mage_project(self) -> Path:
        """The Mage project itself (pipelines and block code)."""
        return self.project_dir / "project"

    @property
    def data_dir(self) -> Path:
        """MAGE_DATA_DIR: the SQLite DB, logs and block outputs."""
        return self.project_dir / "mage_data"


# --------------------------------------------------------------------------- the venv


def default_venv() -> Path:
    """``$MAGE_MCP_MAGE_VENV``, else ``${XDG_CACHE_HOME:-~/.cache}/mage-mcp/mage-ai-0.9.80``."""
    explicit = os.environ.get("MAGE_MCP_MAGE_VENV")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "mage-mcp" / f"mage-ai-{MAGE_VERSION}"


def _installed_version(venv: Path) -> str | None:
    """The mage-ai version the venv's python reports, or None (no venv, no mage-ai, broken)."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "mage").is_file() or not python.exists():
        return None
    try:
        result = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('mage-ai'))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _venv_ready(venv: Path) -> bool:
    return _installed_version(venv) == MAGE_VERSION


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive fcntl lock on ``path`` (created if missing), held for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another process to finish with %s", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _run_logged(argv: Sequence[str], what: str, **kwargs: Any) -> None:
    """Run a command; on failure raise MageError with the tail of its output."""
    try:
        result = subprocess.run(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, **kwargs
        )
    except OSError as exc:
        raise MageError(f"{what} failed: cannot run {argv[0]}: {exc}") from exc
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-_LOG_TAIL_LINES:])
        raise MageError(f"{what} failed (exit {result.returncode}):\n{tail}")


def ensure_venv(venv: Path | None = None) -> Path:
    """Return a venv with ``mage-ai==0.9.80``, creating it first if needed (about 70 s, 1.4 GB).

    An existing venv is accepted when ``bin/mage`` exists and its python reports mage-ai 0.9.80.
    Otherwise ``python3 -m venv`` (``$MAGE_MCP_PYTHON`` overrides the interpreter) and
    ``pip install -c <pinned constraints> mage-ai==0.9.80``. A file lock next to the venv makes
    concurrent callers wait for one install instead of racing.
    """
    venv = (venv or default_venv()).expanduser().absolute()
    if _venv_ready(venv):
        return venv
    with _file_lock(venv.parent / f".{venv.name}.lock"):
        if _venv_ready(venv):  # another process installed it while we waited
            return venv
        _install(venv)
    return venv


def _install(venv: Path) -> None:
    started = time.monotonic()
    logger.info("creating %s with mage-ai==%s (about 70 s, 1.4 GB)", venv, MAGE_VERSION)
    python = venv / "bin" / "python"
    if not python.exists():
        interpreter = os.environ.get("MAGE_MCP_PYTHON", "python3")
        _run_logged([interpreter, "-m", "venv", str(venv)], f"{interpreter} -m venv {venv}")
    version = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    constraints = importlib.resources.files(__package__ or "mage_mcp.local").joinpath(_CONSTRAINTS)
    with importlib.resources.as_file(constraints) as constraints_path:
        if version == _CONSTRAINTS_PYTHON:
            pip += ["-c", str(constraints_path)]
        else:
            logger.warning(
                "python %s in %s: installing without the pinned constraints (made for %s); "
                "pip may backtrack for a few minutes",
                version or "?",
                venv,
                _CONSTRAINTS_PYTHON,
            )
        logger.info("pip install mage-ai==%s", MAGE_VERSION)
        _run_logged([*pip, f"mage-ai=={MAGE_VERSION}"], f"pip install mage-ai=={MAGE_VERSION} into {venv}")
    installed = _installed_version(venv)
    if installed != MAGE_VERSION:
        raise MageError(
            f"after pip install, {venv} reports mage-ai {installed or 'missing'} (no bin/mage?), "
            f"not {MAGE_VERSION}; delete {venv} and retry"
        )
    logger.info("venv ready in %.0f s: %s", time.monotonic() - started, venv)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class _Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str


def _read_proc(pid: int) -> _Proc | None:
    """Parse /proc/PID/stat; None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # "pid (comm) state ppid pgrp session ..."; comm may contain spaces and parentheses.
    fields = raw[raw.rfind(")") + 2 :].split()
    return _Proc(pid=pid, ppid=int(fields[1]), pgid=int(fields[2]), sid=int(fields[3]), state=fields[0])


def _all_procs() -> list[_Proc]:
    procs = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            proc = _read_proc(int(entry.name))
            if proc is not None:
                procs.append(proc)
    return procs


def _is_live(proc: _Proc | None) -> bool:
    return proc is not None and proc.state not in ("Z", "X", "x")


def _instance_pids(leader: int) -> set[int]:
    """Every live process of the server started as session/group leader ``leader``.

    That is the members of its process group and session (the scheduler and queue workers stay
    there after the leader dies), every descendant of those (a Jupyter kernel is started in a
    session of its own but is still a child), and the members of any group such a descendant
    leads; repeated until nothing new turns up.
    """
    procs = [p for p in _all_procs() if _is_live(p)]
    found = {p.pid for p in procs if p.pgid == leader or p.sid == leader}
    while True:
        more = {
            p.pid
            for p in procs
            if p.pid not in found and (p.ppid in found or p.pgid in found or p.sid in found)
        }
        if not more:
            return found
        found |= more


def _reap(pid: int) -> None:
    """Collect the exit status of a server this process started, so it leaves no zombie."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]


def _is_foreign(proc: _Proc) -> bool:
    """A live process with the recorded PID that is not the ``mage start`` session leader.

    Then the PID was reused, and nothing of the old server can remain: a PID is never reused
    while a process group or session of that number still has members.
    """
    if not _is_live(proc):
        return False  # a zombie leader (its parent has not reaped it yet) still marks our group
    if proc.sid != proc.pid:
        return True
    try:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"mage" not in cmdline


def _leader_alive(pid: int) -> bool:
    """True when ``pid`` is alive and still the session leader we started (guards PID reuse)."""
    _reap(pid)
    proc = _read_proc(pid)
    return proc is not None and _is_live(proc) and not _is_foreign(proc)


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------- state files


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _url(port: int) -> str:
    return f"http://{_HOST}:{port}"


def _log_tail(project_dir: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = (project_dir / "mage.log").read_text(errors="replace")
    except FileNotFoundError:
        return "(no mage.log)"
    return "\n".join(text.splitlines()[-lines:])


def _wait_port_free(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _port_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


_TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}


def _port_holders(port: int) -> str:
    """What holds `port`, from /proc, as ", held by pid 123 (python ...)"; "" when nothing is known."""
    sockets: dict[str, str] = {}  # inode -> TCP state
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets[fields[9]] = _TCP_STATES.get(fields[3], fields[3])
    holders = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                inode = os.readlink(fd.path).removeprefix("socket:[").removesuffix("]")
                if inode in sockets:
                    command = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ")
                    holders.append(f"pid {entry.name} ({command.decode(errors='replace').strip()[:80]})")
    if holders:
        return ", held by " + ", ".join(sorted(set(holders)))
    if sockets:
        return f" (sockets no process owns: {', '.join(sorted(set(sockets.values())))})"
    return ""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------- HTTP probes


def _get_json(client: httpx.Client, url: str) -> Any:
    """GET and parse JSON; None on any transport error or non-JSON body."""
    try:
        response = client.get(url)
        return response.json()
    except (httpx.HTTPError, ValueError):
        return None


def _status_auth(client: httpx.Client, url: str) -> bool | None:
    """``require_user_authentication`` from /api/status, or None when it does not answer."""
    body = _get_json(client, f"{url}/api/status")
    if not isinstance(body, dict):
        return None
    statuses = body.get("statuses")
    if not isinstance(statuses, list) or not statuses or not isinstance(statuses[0], dict):
        return None
    flag = statuses[0].get("require_user_authentication")
    return flag if isinstance(flag, bool) else None


def _check_ready(client: httpx.Client, url: str, auth: bool) -> bool:
    """Ready = /api/status reports the auth setting and the API proper answers.

    Auth on: ``GET /api/pipelines?api_key=KEY`` (no token) must give the 403 "Private access" error,
    which proves the OAuth app and the owner user exist. Auth off: the pipeline list answers.
    Deliberately no login: a login has side effects in Mage (it rewrites its 404 messages).
    """
    if _status_auth(client, url) is not auth:
        return False
    if auth:
        body = _get_json(client, f"{url}/api/pipelines?api_key={MAGE_API_KEY}")
        error = body.get("error") if isinstance(body, dict) else None
        return isinstance(error, dict) and error.get("code") == 403
    body = _get_json(client, f"{url}/api/pipelines")
    return isinstance(body, dict) and isinstance(body.get("pipelines"), list)


# --------------------------------------------------------------------------- public API


def status(project_dir: Path) -> MageInstance | None:
    """The running instance of ``project_dir``, or None if its server is not up and answering."""
    project_dir = Path(project_dir).expanduser().absolute()
    pid = _read_int(project_dir / "mage.pid")
    port = _read_int(project_dir / "mage.port")
    if pid is None or port is None or not _leader_alive(pid):
        return None
    url = _url(port)
    with httpx.Client(timeout=5) as client:
        auth = _status_auth(client, url)
    if auth is None:
        logger.info("pid %d is alive but %s/api/status does not answer", pid, url)
        return None
    return MageInstance(url=url, pid=pid, project_dir=project_dir, port=port, auth=auth)


def _prepare_project(project_dir: Path, mage: Path, env: Mapping[str, str]) -> None:
    metadata = project_dir / "project" / "metadata.yaml"
    if not metadata.is_file():
        logger.info("mage init %s", project_dir / "project")
        with (project_dir / "mage.log").open("ab") as log:
            try:
                result = subprocess.run(
                    [str(mage), "init", "project"],
                    cwd=project_dir,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            except OSError as exc:
                raise MageError(f"cannot run {mage}: {exc}") from exc
        if result.returncode != 0 or not metadata.is_file():
            raise MageError(
                f"mage init failed (exit {result.returncode}) in {project_dir}:\n{_log_tail(project_dir)}"
            )
    # No usage-statistics calls to api.mage.ai.
    text = metadata.read_text()
    new, count = re.subn(r"(?m)^help_improve_mage:.*$", "help_improve_mage: false", text)
    if count == 0:
        new = text.rstrip("\n") + "\nhelp_improve_mage: false\n"
    if new != text:
        metadata.write_text(new)


def _server_env(
    project_dir: Path,
    auth: bool,
    owner_email: str,
    owner_password: str,
    extra_env: Mapping[str, str] | None,
) -> dict[str, str]:
    """The server's environment: tuning defaults, then `extra_env`, then what this launcher guarantees.

    `extra_env` may change Mage's tuning knobs, but never where its data lives, its owner, or
    that it requires authentication when `auth` is asked for.
    """
    tuning = {
        "DISABLE_AUTO_BROWSER_OPEN": "1",
        # Mage's default is 10 s, which makes every API-triggered run take 10-20 s.
        "SCHEDULER_TRIGGER_INTERVAL": "1",
        # Without it, multi-block runs sometimes hang in "queued" (a race in Mage's ProcessQueue).
        "RUN_PIPELINE_IN_ONE_PROCESS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    guaranteed = {
        "MAGE_DATA_DIR": str(project_dir / "mage_data"),
        "REQUIRE_USER_AUTHENTICATION": "1" if auth else "0",
        "DEFAULT_OWNER_EMAIL": owner_email,
        "DEFAULT_OWNER_PASSWORD": owner_password,
        "DEFAULT_OWNER_USERNAME": owner_email.split("@", 1)[0],
    }
    return {**os.environ, **tuning, **(extra_env or {}), **guaranteed}


def start(
    project_dir: Path,
    port: int,
    *,
    auth: bool = True,
    owner_email: str,
    owner_password: str,
    extra_env: Mapping[str, str] | None = None,
    venv: Path | None = None,
    ready_timeout: float = 180,
    wait: bool = True,
    port_grace: float = 0,
) -> MageInstance:
    """Start Mage for ``project_dir`` on 127.0.0.1:``port`` and, unless ``wait`` is false, wait until it is ready.

    Creates the venv and the project when missing. With ``auth``, the owner user is created from
    ``owner_email``/``owner_password`` on the project's first auth start (Mage never changes an
    existing owner). If the directory's server already runs and is ready on ``port`` with the
    same auth setting, that instance is returned; any other running state raises MageError, as does
    a port still taken after ``port_grace`` seconds (a restart passes some: the instance just
    stopped may hold its port a moment longer).
    On a failed start, the last lines of mage.log are logged, everything started is stopped, and
    MageError is raised.
    """
    if not 0 < port < 65536:
        raise MageError(f"invalid port {port}")
    if "@" not in owner_email or not owner_email.split("@", 1)[0]:
        raise MageError(f"owner_email must be an email address, got {owner_email!r}")
    if not owner_password:
        raise MageError("owner_password must not be empty")
    project_dir = Path(project_dir).expanduser().absolute()
    project_dir.mkdir(parents=True, exist_ok=True)
    url = _url(port)
    pid_file, port_file = project_dir / "mage.pid", project_dir / "mage.port"

    old_pid = _read_int(pid_file)
    if old_pid is not None and _leader_alive(old_pid):
        old_port = _read_int(port_file)
        if old_port != port:
            raise MageError(
                f"Mage for {project_dir} already runs on port {old_port} (pid {old_pid}); stop it first"
            )
        if not wait:
            return MageInstance(url=url, pid=old_pid, project_dir=project_dir, port=port, auth=auth)
        with httpx.Client(timeout=5) as client:
            running_auth = _status_auth(client, url)
            if running_auth is auth and _check_ready(client, url, auth):
                logger.info("already running on %s (pid %d)", url, old_pid)
                return MageInstance(url=url, pid=old_pid, project_dir=project_dir, port=port, auth=auth)
        if running_auth is not None and running_auth is not auth:
            raise MageError(
                f"Mage for {project_dir} runs on {url} with auth={'on' if running_auth else 'off'}, "
                f"not {'on' if auth else 'off'}; stop it first"
            )
        raise MageError(f"pid {old_pid} is alive but {url} is not ready; stop {project_dir} and retry")
    pid_file.unlink(missing_ok=True)

    venv = ensure_venv(venv)
    if not _wait_port_free(port, port_grace):
        raise MageError(f"port {port} on {_HOST} is already in use{_port_holders(port)}")
    env = _server_env(project_dir, auth, owner_email, owner_password, extra_env)
    _prepare_project(project_dir, venv / "bin" / "mage", env)

    logger.info(
        "starting Mage %s on %s (auth %s) for %s", MAGE_VERSION, url, "on" if auth else "off", project_dir
    )
    started = time.monotonic()
    with (project_dir / "mage.log").open("ab") as log:
        try:
            proc = subprocess.Popen(
                [str(venv / "bin" / "mage"), "start", "project", "--host", _HOST, "--port", str(port)],
                cwd=project_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session and group: stop() can find all its processes
            )
        except OSError as exc:
            raise MageError(f"cannot run {venv / 'bin' / 'mage'}: {exc}") from exc
    _children[proc.pid] = proc
    pid_file.write_text(f"{proc.pid}\n")
    port_file.write_text(f"{port}\n")
    if not wait:
        logger.info("spawned (pid %d, log %s)", proc.pid, project_dir / "mage.log")
        return MageInstance(url=url, pid=proc.pid, project_dir=project_dir, port=port, auth=auth)

    try:
        _wait_ready(proc, project_dir, url, auth, ready_timeout)
    except BaseException:
        logger.error(
            "last %d lines of %s:\n%s", _LOG_TAIL_LINES, project_dir / "mage.log", _log_tail(project_dir)
        )
        stop(project_dir)
        raise
    logger.info(
        "ready after %.1f s (pid %d, log %s)", time.monotonic() - started, proc.pid, project_dir / "mage.log"
    )
    return MageInstance(url=url, pid=proc.pid, project_dir=project_dir, port=port, auth=auth)


def _wait_ready(
    proc: subprocess.Popen[bytes], project_dir: Path, url: str, auth: bool, ready_timeout: float
) -> None:
    deadline = time.monotonic() + ready_timeout
    with httpx.Client(timeout=5) as client:
        while not _check_ready(client, url, auth):
            if proc.poll() is not None:
                raise MageError(
                    f"Mage exited with code {proc.returncode} before it was ready "
                    f"(log: {project_dir / 'mage.log'})"
                )
            if time.monotonic() >= deadline:
                raise MageError(f"Mage not ready after {ready_timeout:g} s (log: {project_dir / 'mage.log'})")
            time.sleep(_POLL_SECONDS)


def init_project(project_dir: Path, venv: Path | None = None) -> None:
    """Create the Mage project in ``project_dir`` (``mage init``) unless it exists; start() does it too."""
    project_dir = Path(project_dir).expanduser().absolute()
    project_dir.mkdir(parents=True, exist_ok=True)
    mage = ensure_venv(venv) / "bin" / "mage"
    _prepare_project(project_dir, mage, {**os.environ, "MAGE_DATA_DIR": str(project_dir / "mage_data")})


def is_running(project_dir: Path) -> bool:
    """True while the directory's recorded server process is alive (no HTTP call: it may still be starting)."""
    pid = _read_int(Path(project_dir).expanduser().absolute() / "mage.pid")
    return pid is not None and _leader_alive(pid)


def stop(project_dir: Path, timeout: float = 15) -> None:
    """Stop every process of the directory's server: SIGTERM, then SIGKILL after ``timeout``.

    Covers the process group/session of the recorded PID and every descendant (found through
    /proc). A missing pid file or a dead PID is a no-op. Removes the pid file. Raises MageError
    only if a process survives SIGKILL.
    """
    project_dir = Path(project_dir).expanduser().absolute()
    pid_file = project_dir / "mage.pid"
    leader = _read_int(pid_file)
    if leader is None:
        logger.info("no pid file in %s; nothing to stop", project_dir)
        pid_file.unlink(missing_ok=True)
        return
    _reap(leader)
    proc = _read_proc(leader)
    if proc is not None and _is_foreign(proc):
        logger.info("pid %d in %s now belongs to another program; nothing to stop", leader, pid_file)
        pid_file.unlink(missing_ok=True)
        return
    pids = _instance_pids(leader)
    if not pids:
        logger.info("pid %d not running", leader)
        pid_file.unlink(missing_ok=True)
        return

    started = time.monotonic()
    logger.info("stopping Mage for %s: pids %s", project_dir, " ".join(map(str, sorted(pids))))
    _signal_all(pids, signal.SIGTERM)
    deadline = started + timeout
    while True:
        _reap(leader)
        alive = {pid for pid in pids if _is_live(_read_proc(pid))} | _instance_pids(leader)
        if not alive:
            break
        if time.monotonic() >= deadline:
            logger.warning("still alive after %g s, SIGKILL: %s", timeout, " ".join(map(str, sorted(alive))))
            _signal_all(alive, signal.SIGKILL)
            _wait_gone(leader, alive, 5.0)
            break
        new = alive - pids
        if new:  # started after the first signal
            _signal_all(new, signal.SIGTERM)
            pids |= new
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    logger.info("stopped in %.1f s", time.monotonic() - started)


def _wait_gone(leader: int, pids: set[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        _reap(leader)
        alive = {pid for pid in pids if _is_live(_read_proc(pid))} | _instance_pids(leader)
        if not alive:
            return
        if time.monotonic() >= deadline:
            raise MageError(f"processes survived SIGKILL: {' '.join(map(str, sorted(alive)))}")
        _signal_all(alive, signal.SIGKILL)
        pids |= alive
        time.sleep(0.1)


# --------------------------------------------------------------------------- CLI


_ENV_FILE = "mage.env"
_ENV_LINE = re.compile(r"^\s*(?:#\s*)?(MAGE_[A-Z_]+)=(.*)$")


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of mage.env; commented-out ``# MAGE_...=`` lines count too (kept owner)."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    return {m.group(1): m.group(2) for m in map(_ENV_LINE.match, lines) if m}


def _write_env_file(path: Path, url: str, auth: bool, email: str, password: str) -> None:
    lines = [f"MAGE_CLUSTER_URL={url}"]
    if auth:
        lines += [f"MAGE_EMAIL={email}", f"MAGE_PASSWORD={password}"]
    else:
        lines += [
            "# auth is off; the owner below is the one Mage creates/uses when this project runs with auth",
            f"# MAGE_EMAIL={email}",
            f"# MAGE_PASSWORD={password}",
        ]
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write("\n".join(lines) + "\n")
    tmp.replace(path)


def _owner_credentials(project_dir: Path, email: str | None, password: str | None) -> tuple[str, str]:
    """Given values win; else the ones kept in mage.env; else new random ones."""
    kept = _read_env_file(project_dir / _ENV_FILE)
    kept_email, kept_password = kept.get("MAGE_EMAIL"), kept.get("MAGE_PASSWORD")
    if email and kept_email and email != kept_email:
        logger.warning(
            "mage.env keeps owner %s; Mage creates the owner only on a project's first start, "
            "so %s may not be able to log in",
            kept_email,
            email,
        )
    email = email or kept_email or f"owner-{secrets.token_hex(4)}@example.com"
    password = password or kept_password or secrets.token_urlsafe(18)
    return email, password


def _cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mage_mcp.local.mage",
        description=f"Run a real Mage OSS {MAGE_VERSION} server for a project directory.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("install", help="create the Mage venv if missing; print its path")
    p_start = sub.add_parser("start", help="start Mage for DIR; print its base URL")
    p_start.add_argument("dir", type=Path)
    p_start.add_argument("--port", type=int, default=6789)
    p_start.add_argument("--no-auth", action="store_true", help="no login needed")
    p_start.add_argument("--email", help="owner email (default: kept in DIR/mage.env, else generated)")
    p_start.add_argument("--password", help="owner password (default: kept in DIR/mage.env, else generated)")
    p_start.add_argument("--ready-timeout", type=float, default=180)
    p_stop = sub.add_parser("stop", help="stop Mage for DIR")
    p_stop.add_argument("dir", type=Path)
    p_status = sub.add_parser("status", help="print the URL and exit 0 if up, else exit 1")
    p_status.add_argument("dir", type=Path)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[mage-mcp local] %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll otherwise
    try:
        if args.command == "install":
            print(ensure_venv())
        elif args.command == "start":
            project_dir = args.dir.expanduser().absolute()
            project_dir.mkdir(parents=True, exist_ok=True)
            auth = not args.no_auth
            env_file = project_dir / _ENV_FILE
            email, password = _owner_credentials(project_dir, args.email, args.password)
            kept = _read_env_file(env_file)
            if (kept.get("MAGE_EMAIL"), kept.get("MAGE_PASSWORD")) != (email, password):
                # Keep new credentials before Mage can create the owner from them.
                _write_env_file(env_file, _url(args.port), auth, email, password)
            instance = start(
                project_dir,
                args.port,
                auth=auth,
                owner_email=email,
                owner_password=password,
                ready_timeout=args.ready_timeout,
            )
            _write_env_file(env_file, instance.url, auth, email, password)
            print(instance.url)
        elif args.command == "stop":
            stop(args.dir)
        else:
            running = status(args.dir)
            if running is None:
                logger.info("not running")
                return 1
            print(running.url)
    except MageError as exc:
        logger.error("error: %s", exc)
        return 1
    return 0


def main() -> None:
    sys.exit(_cli())


if __name__ == "__main__":
    main()
