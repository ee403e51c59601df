"""The installed distribution is `mage_mcp` only: generic top-level names must not resolve to it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_layers_live_under_the_mage_mcp_namespace() -> None:
    for name in ("mage_mcp.server", "mage_mcp.tools", "mage_mcp.clients", "mage_mcp.local"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name


@pytest.mark.parametrize("generic", ["server", "tools", "clients", "local", "cli"])
def test_generic_names_do_not_resolve_to_this_project(generic: str, tmp_path: Path) -> None:
    # A fresh interpreter outside the checkout: only what is installed is importable.
    probe = f"import importlib.util, json; s = importlib.util.find_spec({generic!r}); print(json.dumps(s and s.origin))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    origin = json.loads(out.stdout)
    assert origin is None or not str(origin).startswith(str(ROOT)), origin


def test_python_dash_m_and_the_console_script_are_the_same_command(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    module = subprocess.run([sys.executable, "-m", "mage_mcp", "--version"], capture_output=True, text=True, env=env)
    script = Path(sys.executable).with_name("mage-mcp")
    console = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env)
    assert module.returncode == console.returncode == 0
    assert module.stdout == console.stdout and module.stdout.startswith("mage-mcp ")


def test_a_regular_install_holds_only_mage_mcp(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(ROOT)],
        check=True,
        capture_output=True,
    )
    top_level = {p.name for p in target.iterdir() if not p.name.endswith((".dist-info", ".egg-info"))}
    assert top_level - {"bin"} == {"mage_mcp"}
    package = target / "mage_mcp"
    for module in ("__main__.py", "server/app.py", "tools/clusters.py", "clients/cluster/__init__.py", "local/mage.py",
                   "local/mage-constraints-0.9.80.txt", "py.typed"):
        assert (package / module).is_file(), module


def test_building_the_server_does_not_load_httpx() -> None:
    """Start-up imports the SDK, pydantic and the project's own modules; the clients (and httpx) load on
    a tool's first use, which keeps the spawn → initialize time close to a bare SDK server's."""
    probe = (
        "import sys\n"
        "from mage_mcp.server.app import build_server\n"
        "from mage_mcp.server.config import Settings\n"
        "build_server(Settings())\n"
        "assert 'httpx' not in sys.modules, 'httpx was imported at start-up'\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, cwd=ROOT / "tests")
