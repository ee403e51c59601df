"""Redis and nginx, started by the tests on 127.0.0.1 (Debian packages `redis-server` and `nginx-light`)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from .ports import free_port, port_open
from .processes import read_text, stderr_file, stop

STARTUP_TIMEOUT_S = 10.0


def _binary(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.fail(f"{name} is not installed: `apt-get install {package}` (scripts/test does it on a new machine)")
    return path


@contextmanager
def _listening(command: Sequence[str], port: int, what: str, cwd: Path) -> Iterator[None]:
    with stderr_file() as err:
        proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not port_open(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{what} did not listen on 127.0.0.1:{port}:\n{read_text(err)}")
                time.sleep(0.05)
            yield
        finally:
            stop(proc)


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A Redis on a free 127.0.0.1 port that keeps nothing on disk; yields its `redis://` URL."""
    port = free_port()
    command = [
        _binary("redis-server", "redis-server"),
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(directory), "--protected-mode", "yes",
    ]  # fmt: skip
    with _listening(command, port, "redis-server", directory):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def nginx_round_robin(directory: Path, upstream_ports: Sequence[int]) -> Iterator[str]:
    """nginx on a free 127.0.0.1 port spreading requests round-robin over the upstreams; yields its base URL."""
    port = free_port()
    upstreams = "".join(f"    server 127.0.0.1:{p};\n" for p in upstream_ports)
    (directory / "logs").mkdir(exist_ok=True)
    config = directory / "nginx.conf"
    config.write_text(
        f"""daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body;
  proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi;
  uwsgi_temp_path {directory}/uwsgi;
  scgi_temp_path {directory}/scgi;
  client_body_buffer_size 4m;
  client_max_body_size 4m;
  upstream mage_mcp {{
{upstreams}  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://mage_mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 300s;
    }}
  }}
}}
"""
    )
    command = [_binary("nginx", "nginx-light"), "-p", str(directory), "-c", str(config)]
    with _listening(command, port, "nginx", directory):
        yield f"http://127.0.0.1:{port}"
