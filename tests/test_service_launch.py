"""The services the tests and the run command start (devtools/services.py) survive a port race: a process that
exits before it listens is started again on fresh ports, and one that keeps failing says why, with its log."""

from __future__ import annotations

import random
import socket
import sys

import pytest

from devtools import services


def test_free_ports_lie_below_the_ephemeral_range_that_outgoing_connections_take():
    floor = services._ephemeral_floor()
    assert floor is not None  # Linux: /proc/sys/net/ipv4/ip_local_port_range
    ports = {services.free_port() for _ in range(50)}
    assert all(services.LISTEN_PORTS_FLOOR <= port < floor for port in ports)
    assert len(ports) > 40  # spread out, so two parallel pickers rarely meet
    random.seed(0)
    first = services.free_port()
    random.seed(0)
    assert services.free_port() != first or services.free_port() != first  # a seeded global random is not used


def test_a_service_that_exits_before_listening_is_started_again_on_a_fresh_port(tmp_path):
    tried: list[int] = []

    def args_for(port: int) -> list[str]:
        tried.append(port)
        if len(tried) == 1:  # the first attempt dies at once, as a server whose port was just taken
            return [sys.executable, "-c", "import sys; print('address already in use'); sys.exit(1)"]
        return [sys.executable, "-c", (
            f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(30)")]

    port, process = services._launch("probe", tmp_path, args_for, None, 20)
    try:
        assert len(tried) == 2 and port == tried[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        process.kill()
        process.wait()


def test_a_fixed_port_that_is_taken_fails_after_the_attempts_with_the_log_tail(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))  # bound, not listening: the child cannot bind it, nothing answers on it
        port = taken.getsockname()[1]
        with pytest.raises(services.ExitedEarly) as error:
            services._launch("probe", tmp_path, lambda chosen: [
                sys.executable, "-c",
                f"import socket; s = socket.socket(); s.bind(('127.0.0.1', {chosen}))"], port, 20)
    assert f"before listening on {port}" in str(error.value)
    assert "Address already in use" in str(error.value)  # the child's traceback, from its log
    assert (tmp_path / "probe.log").read_text().count("Traceback") == services.LAUNCH_ATTEMPTS
