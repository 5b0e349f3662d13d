"""Script evaluation in a pool of sandbox processes (the security boundary of §4).

Each child is a fresh interpreter started with `subprocess` (fork+exec, i.e. spawn semantics: safe
from a multi-threaded, async parent, and it inherits nothing but the command line). It imports only
`apps.nodes.sandbox_runtime` (stdlib + RestrictedPython), sets RLIMIT_AS, then answers one request
per frame over its stdin/stdout pipes. The parent checks a child out of a queue, sends
(source, names), and waits up to the time limit; on timeout it SIGKILLs the child and replaces it.

Fairness: the pool is shared by every tenant, so checkout goes through `_TenantScheduler`. A tenant holds at
most `tenant_share` children at once, and a freed child goes to the waiting tenant that holds the fewest
(first come first served among equals), so a tenant flooding the pool with endless loops waits behind its own
scripts while another tenant's script gets the next free child. A checkout waits at most `queue_seconds`, then
the script fails with a clear "sandbox busy" error (bounded: the node's activity never hangs on the queue).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apps.nodes.base import NodeError
from apps.nodes.sandbox_runtime import _HEADER, compile_script, write_frame

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 30.0
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from apps.nodes.sandbox_runtime import serve; serve(int(sys.argv[2]))"
)


class ScriptError(NodeError):
    """A script failed (compile, runtime, time or memory limit). Never retryable."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# CPython 3.11 before 3.11.9 can raise "SystemError: AST constructor recursion depth mismatch" when two
# threads turn ASTs into code at once (gh-106905); API and worker threads validate scripts concurrently.
_COMPILE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1024)
def _compile_errors(source: str) -> tuple[str, ...]:
    with _COMPILE_LOCK:
        return tuple(compile_script(source)[1])


def compile_problems(source: object) -> list[str]:
    """Why a script does not compile under the sandbox policy ([] when it does)."""
    if not isinstance(source, str):
        return ["script must be a string"]
    return list(_compile_errors(source))


class _Deadline(Exception):
    pass


class _Died(Exception):
    pass


class _TooLarge(Exception):
    pass


# A run's whole context must fit in one Temporal payload (2 MB), so no script result may be larger than this.
MAX_RESULT_BYTES = 4 * 1024 * 1024


class _Child:
    """One sandbox process and its pipes. Used by one thread at a time (checked out of the pool)."""

    def __init__(self, memory_mb: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOTSTRAP, str(PROJECT_ROOT), str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.ready = False

    def _read(self, size: int, deadline: float) -> bytes:
        fd = self.stdout.fileno()
        chunks, remaining = [], size
        while remaining:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise _Deadline
            chunk = os.read(fd, remaining)
            if not chunk:
                raise _Died
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _receive(self, deadline: float) -> dict[str, Any]:
        import json

        size = _HEADER.unpack(self._read(_HEADER.size, deadline))[0]
        if size > MAX_RESULT_BYTES:
            raise _TooLarge(size)  # never read it: the child is replaced, its pipe with it
        return json.loads(self._read(size, deadline))

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.ready:
            try:
                self._receive(time.monotonic() + STARTUP_TIMEOUT_SECONDS)
            except _Deadline as exc:
                raise _Died from exc
            self.ready = True
        try:
            write_frame(self.stdin.fileno(), request)
        except OSError as exc:
            raise _Died from exc
        return self._receive(time.monotonic() + timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def death(self) -> str:
        """What ended the child, from its exit status (the pipe closing alone says nothing about why)."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the sandbox process stopped answering"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            cause = " (out of memory, or killed by an operator)" if -code == signal.SIGKILL else ""
            return f"the sandbox process was killed by signal {name}{cause}"
        return f"the sandbox process exited with status {code}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.stdin, self.stdout):
            stream.close()


class _TenantScheduler:
    """Hands out `size` slots: at most `share` per tenant, the next free one to the waiting tenant holding fewest."""

    def __init__(self, size: int, share: int) -> None:
        self.free, self.share = size, max(1, min(share, size))
        self._held: dict[str, int] = {}
        self._waiting: list[tuple[str, int]] = []
        self._tickets = 0
        self._changed = threading.Condition()

    def _next(self) -> tuple[str, int] | None:
        eligible = [t for t in self._waiting if self._held.get(t[0], 0) < self.share]
        return min(eligible, key=lambda t: (self._held.get(t[0], 0), t[1]), default=None)

    @contextmanager
    def slot(self, tenant: str, wait: float) -> Iterator[None]:
        deadline = time.monotonic() + wait
        with self._changed:
            self._tickets += 1
            ticket = (tenant, self._tickets)
            self._waiting.append(ticket)
            try:
                while not (self.free > 0 and self._next() == ticket):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ScriptError(
                            f"the script sandbox is busy: no sandbox process was free for this tenant within "
                            f"{wait:g} s ({self._held.get(tenant, 0)} of its share of {self.share} in use)"
                        )
                    self._changed.wait(remaining)
            finally:
                self._waiting.remove(ticket)
                self._changed.notify_all()  # the head of the queue may have changed
            self.free -= 1
            self._held[tenant] = self._held.get(tenant, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                self.free += 1
                self._held[tenant] -= 1
                if not self._held[tenant]:
                    del self._held[tenant]
                self._changed.notify_all()


# The running `SandboxPool.session` of this thread: .stack (what it releases at its end), .held (its child).
_SESSION = threading.local()


class _Held:
    """A child checked out for one script, or for a session of several, and the names it keeps (the last sent)."""

    def __init__(self, child: _Child) -> None:
        self.child = child
        self.sent: dict[str, Any] | None = None  # the names the child holds; their values kept (compared by identity)
        self.sent_context: dict[str, Any] = {}
        self._pending: tuple[dict[str, Any], dict[str, Any]] | None = None

    def replace(self, child: _Child) -> _Child:
        self.child, self.sent = child, None  # a new child holds nothing
        return child

    def request(self, source: str, names: dict[str, Any]) -> dict[str, Any]:
        """The request for this script: every name the first time, then only what changed. Values are compared
        by identity: the segment replaces a context key's value, it never changes one in place."""
        context = names.get("_global")
        self._pending = (dict(names), dict(context) if isinstance(context, dict) else {})
        if self.sent is None or self.sent.keys() != names.keys() or not isinstance(context, dict):
            return {"source": source, "names": names}
        return {
            "source": source,
            "set": {name: value for name, value in names.items() if name != "_global" and value is not self.sent[name]},
            "global": {key: value for key, value in context.items() if self.sent_context.get(key, _Held) is not value},
            "drop": [key for key in self.sent_context if key not in context],
        }

    def full(self, request: dict[str, Any]) -> dict[str, Any]:
        """`request` with every name (for a child that holds none)."""
        if "names" in request or self._pending is None:
            return request
        return {"source": request["source"], "names": self._pending[0]}

    def delivered(self, request: dict[str, Any]) -> None:
        """The child answered `request`: it holds those names now."""
        if self._pending is not None:
            self.sent, self.sent_context = self._pending
            self._pending = None


class SandboxPool:
    """A fixed number of warm sandbox children behind a per-tenant fair checkout (see the module docstring)."""

    def __init__(self, size: int, memory_mb: int, *, tenant_share: int | None = None,
                 queue_seconds: float = 20.0) -> None:
        self.size = size
        self.memory_mb = memory_mb
        self.queue_seconds = queue_seconds
        self._scheduler = _TenantScheduler(size, tenant_share or max(1, size // 2))
        self._idle: queue.Queue[_Child] = queue.Queue()
        self._closed = False
        for _ in range(size):
            self._idle.put(_Child(memory_mb))

    def evaluate(self, source: str, names: dict[str, Any], timeout: float, *, tenant: str = "") -> Any:
        if self._closed:
            raise ScriptError("the script sandbox is shut down")
        stack = getattr(_SESSION, "stack", None)
        if stack is not None:  # inside `session`: its child, sent only what changed
            held = getattr(_SESSION, "held", None) or self._hold(stack, tenant)
            return self._evaluate(held, held.request(source, names), timeout)
        with self._scheduler.slot(tenant, self.queue_seconds):
            held = _Held(self._idle.get_nowait())  # a slot guarantees an idle child
            try:
                return self._evaluate(held, {"source": source, "names": names}, timeout)
            finally:
                self._idle.put(held.child)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold one child for every script this thread evaluates meanwhile (the nodes of one segment), checked
        out at the first script: the names go to it once, then each script sends only what changed
        (sandbox_runtime `_names`)."""
        with contextlib.ExitStack() as stack:
            _SESSION.stack, _SESSION.held = stack, None
            try:
                yield
            finally:
                _SESSION.stack = _SESSION.held = None

    def _hold(self, stack: contextlib.ExitStack, tenant: str) -> _Held:
        stack.enter_context(self._scheduler.slot(tenant, self.queue_seconds))
        _SESSION.held = held = _Held(self._idle.get_nowait())
        stack.callback(lambda: self._idle.put(held.child))
        return held

    def _evaluate(self, held: _Held, request: dict[str, Any], timeout: float) -> Any:
        child = held.child
        try:
            if not child.alive():  # died while idle (killed, OOM): replace before use, and send it everything
                child = held.replace(self._replace(child))
                request = held.full(request)
            response = child.call(request, timeout)
        except _Deadline:
            held.replace(self._replace(child))
            raise ScriptError(f"script exceeded its time limit of {timeout:g} s") from None
        except _Died:
            death = child.death()
            held.replace(self._replace(child))
            raise ScriptError(f"script crashed the sandbox: {death}") from None
        except _TooLarge as exc:
            held.replace(self._replace(child))
            raise ScriptError(f"script result of {exc.args[0]} bytes exceeds the limit of {MAX_RESULT_BYTES}") from None
        except (TypeError, ValueError) as exc:  # raised by json.dumps before anything was written
            held.sent = None
            raise ScriptError(f"script inputs are not JSON values: {exc}") from None
        except BaseException:
            # Interrupted mid-call (e.g. activity cancellation): the child may still answer; never reuse it.
            held.replace(self._replace(child))
            raise
        held.delivered(request)
        if not response.get("ok"):
            raise ScriptError(response.get("error") or "script failed")
        return response.get("value")

    def _replace(self, child: _Child) -> _Child:
        child.kill()
        return _Child(self.memory_mb)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return

    def pids(self) -> list[int]:
        """Child pids (for tests and health checks)."""
        children = list(self._idle.queue)
        return [c.proc.pid for c in children]


_pool: SandboxPool | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def get_pool() -> SandboxPool:
    """The process-wide pool, started on first use (sized by settings.DRIFT_SCRIPT_WORKERS)."""
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        with _pool_lock:
            # A forked process (prefork servers) must not share its parent's pipes: start its own pool.
            if _pool is None or _pool_pid != os.getpid():
                from apps.nodes import settings

                _pool = SandboxPool(
                    settings.script_workers(), settings.script_memory_mb(),
                    tenant_share=settings.script_tenant_share(), queue_seconds=settings.script_queue_seconds(),
                )
                _pool_pid = os.getpid()
    return _pool


def shutdown_pool() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid():
            _pool.close()
        _pool = None


atexit.register(shutdown_pool)


def session() -> contextlib.AbstractContextManager[None]:
    """The process-wide pool's `SandboxPool.session`."""
    return get_pool().session()


def evaluate(source: object, names: dict[str, Any], timeout: float | None = None, *, tenant: str = "") -> Any:
    """Run a script body with `names` in scope (as `tenant`'s script); return its JSON result or raise ScriptError
    (a `source` that is no string does not compile)."""
    problems = compile_problems(source)
    if problems or not isinstance(source, str):
        raise ScriptError("script does not compile: " + "; ".join(problems))
    if timeout is None:
        from apps.nodes import settings

        timeout = settings.script_timeout_seconds()
    return get_pool().evaluate(source, names, timeout, tenant=tenant)


__all__ = ["ScriptError", "SandboxPool", "compile_problems", "evaluate", "get_pool", "session", "shutdown_pool"]
