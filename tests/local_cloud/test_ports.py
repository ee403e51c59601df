"""Ports of the local cloud's clusters: stable across restarts, and a restart waits for its own port.

A cluster keeps its port for life. Were it from the kernel's ephemeral range, an outgoing
connection could take it as its local end while the cluster is stopped, and the next start
would fail with "port ... already in use" (seen in CI on a restart).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from mage_mcp.local import mage
from mage_mcp.local.cloud import state as state_file


def test_cluster_ports_lie_below_the_ephemeral_range_and_differ() -> None:
    state = state_file.CloudState.create(state_file.free_port())
    state.ensure_clusters(8)
    ports = [cluster.port for cluster in state.clusters.values()]
    assert len({*ports, state.cloud_port}) == 9
    assert all(port < state_file.ephemeral_ports().start for port in ports), ports


def test_the_ephemeral_range_is_read_from_the_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "ip_local_port_range"
    custom.write_text("40000\t50000\n")
    monkeypatch.setattr(state_file, "_EPHEMERAL_RANGE_FILE", str(custom))
    assert state_file.ephemeral_ports() == range(40000, 50001)


def test_without_room_below_the_ephemeral_range_the_kernel_picks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = tmp_path / "ip_local_port_range"
    everything.write_text("1024 65535\n")
    monkeypatch.setattr(state_file, "_EPHEMERAL_RANGE_FILE", str(everything))
    taken = {state_file.free_port() for _ in range(3)}
    port = state_file.free_port(avoid=taken)
    assert port not in taken and state_file.port_free(port)


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_a_start_waits_for_a_port_released_within_the_grace() -> None:
    holder = listening_socket()
    port = holder.getsockname()[1]
    threading.Timer(0.5, holder.close).start()
    assert mage._wait_port_free(port, seconds=10)


def test_a_port_held_past_the_grace_stays_taken() -> None:
    with listening_socket() as holder:
        assert not mage._wait_port_free(holder.getsockname()[1], seconds=0.5)


def test_a_taken_port_names_who_holds_it() -> None:
    with listening_socket() as holder:
        described = mage._port_holders(holder.getsockname()[1])
    assert described.startswith(", held by pid ") and "python" in described, described
