"""The sandbox pool's bookkeeping: fair per-tenant checkout and the real cause of a crashed child."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from apps.nodes.sandbox import SandboxPool, ScriptError

SPIN = "while True:\n    pass"


@pytest.fixture
def pool():
    instance = SandboxPool(2, 256, queue_seconds=30)
    yield instance
    instance.close()


def _cpu_ticks(pid: int) -> int:
    """User + system CPU ticks of a process (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _spinning_child(pids: set[int], deadline: float) -> int | None:
    """The child burning CPU: a state of "R" alone can be an idle child's moment of work on a busy machine."""
    start = {pid: _cpu_ticks(pid) for pid in pids}
    while time.monotonic() < deadline:
        burnt = {pid: _cpu_ticks(pid) - start[pid] for pid in pids}
        busiest = max(burnt, key=burnt.__getitem__)
        if burnt[busiest] >= 30 and all(ticks < 5 for pid, ticks in burnt.items() if pid != busiest):
            return busiest
        time.sleep(0.05)
    return None


def test_a_crashed_child_reports_the_signal_that_killed_it_not_a_memory_limit(pool):
    assert pool.evaluate("return 1", {}, 5) == 1  # both children started and idle
    before = set(pool.pids())
    outcome: dict = {}

    def spin() -> None:
        try:
            pool.evaluate(SPIN, {}, 60)
        except ScriptError as error:
            outcome["error"] = error.message

    thread = threading.Thread(target=spin)
    thread.start()
    busy = _spinning_child(before, time.monotonic() + 30)
    assert busy, "the spinning child never ran"
    os.kill(busy, signal.SIGTERM)
    thread.join(90)  # past the script's own 60 s limit, so a wrong kill shows as a time-limit message
    assert "killed by signal SIGTERM" in outcome["error"], outcome
    assert "memory" not in outcome["error"]
    assert pool.evaluate("return 2", {}, 5) == 2


def test_one_tenant_holds_at_most_its_share_and_waits_behind_its_own_scripts(pool):
    with ThreadPoolExecutor(6) as executor:
        noisy = [executor.submit(pool.evaluate, SPIN, {}, 1.0, tenant="noisy") for _ in range(4)]
        quiet = executor.submit(pool.evaluate, "return 'mine'", {}, 5, tenant="quiet")
        assert quiet.result(30) == "mine"
        assert sum(not future.done() for future in noisy) >= 2  # the noisy tenant's queue is still draining
        for future in noisy:
            with pytest.raises(ScriptError, match="time limit"):
                future.result(60)


def test_a_checkout_past_the_queue_wait_fails_with_a_clear_busy_error():
    pool = SandboxPool(1, 256, queue_seconds=0.5)
    try:
        with ThreadPoolExecutor(2) as executor:
            first = executor.submit(pool.evaluate, SPIN, {}, 5, tenant="a")
            second = executor.submit(pool.evaluate, SPIN, {}, 5, tenant="a")
            errors = []
            for future in (first, second):
                try:
                    future.result(60)
                except ScriptError as error:
                    errors.append(error.message)
        assert any("sandbox is busy" in message for message in errors), errors
    finally:
        pool.close()


def test_a_session_sends_the_context_once_then_what_changed(pool, monkeypatch):
    """The scripts of one segment share a child (apps/nodes/sandbox.py `session`): the first gets every name,
    the next only what changed; a child replaced meanwhile gets everything again."""
    sent: list[dict] = []
    call = pool._idle.queue[0].__class__.call

    def recording(child, request, timeout):
        sent.append(request)
        return call(child, request, timeout)

    monkeypatch.setattr(pool._idle.queue[0].__class__, "call", recording)
    context = {"a": {"n": 1}, "b": 2, "gone": True}
    with monkeypatch.context() as patch:
        patch.setattr("apps.nodes.sandbox.get_pool", lambda: pool)
        from apps.nodes.sandbox import session

        with session():
            assert pool.evaluate("return _global.a.n + _global.b", {"_global": context, "p": 1}, 5) == 3
            context = {**context, "b": 10}
            del context["gone"]
            assert pool.evaluate("return [_global.a.n + _global.b, _global.gone, p]", {"_global": context, "p": 1},
                                 5) == [11, None, 1]
            with pytest.raises(ScriptError, match="time limit"):
                pool.evaluate(SPIN, {"_global": context, "p": 1}, 0.5)
            assert pool.evaluate("return _global.b + p", {"_global": context, "p": 2}, 5) == 12
    assert "names" in sent[0]
    assert sent[1] == {"source": sent[1]["source"], "set": {}, "global": {"b": 10}, "drop": ["gone"]}
    assert sent[3]["names"] == {"_global": context, "p": 2}  # the child that timed out was replaced
    assert pool.evaluate("return _global", {"_global": {"x": 1}}, 5) == {"x": 1}  # outside: all names, as before
