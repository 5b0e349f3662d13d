"""Escape attempts against the sandbox: each fails with a clear ScriptError, and the pool keeps serving."""

import contextlib

import pytest

from apps.nodes.sandbox import ScriptError, compile_problems, evaluate
from devtools.testing.sandbox_escapes import ESCAPES

TIMEOUT = 1.0
# Attempts that must hit another limit get time to reach it on a loaded machine (the time limit is wall-clock).
PATIENT_TIMEOUT = 20.0
CONTEXT = {"_global": {"order": {"id": 7, "items": [{"sku": "a"}]}}, "_enum_store": {}, "nodeParameters": {}}



@pytest.mark.parametrize(("source", "fragment"), ESCAPES, ids=[s for s, _ in ESCAPES])
def test_escape_attempt_fails_clearly(pool, source, fragment):
    timeout = TIMEOUT if "time limit" in fragment else PATIENT_TIMEOUT
    with pytest.raises(ScriptError) as caught:
        pool.evaluate(source, CONTEXT, timeout) if not compile_problems(source) else evaluate(source, CONTEXT)
    assert fragment.lower() in caught.value.message.lower(), caught.value.message
    assert caught.value.retryable is False


def test_corpus_is_large_enough():
    assert len(ESCAPES) >= 30


def test_pool_is_healthy_after_the_corpus(pool):
    for source, _ in ESCAPES:
        with contextlib.suppress(ScriptError):
            pool.evaluate(source, CONTEXT, TIMEOUT)
    assert pool.evaluate("return _global.order.items[0].sku + str(nodeParameters.x)", CONTEXT, TIMEOUT) == "aNone"
    assert sorted(pool.evaluate("return [len(_global.order.items), 2 ** 10]", CONTEXT, TIMEOUT)) == [1, 1024]


def test_runtime_errors_name_the_line(pool):
    with pytest.raises(ScriptError, match=r"ZeroDivisionError: division by zero \(line 3\)"):
        pool.evaluate("x = 1\ny = 0\nreturn x / y", CONTEXT, TIMEOUT)
    with pytest.raises(ScriptError, match=r"NameError: name 'nope' is not defined \(line 1\)"):
        pool.evaluate("return nope", CONTEXT, TIMEOUT)


def test_compile_problems_report_syntax_and_restricted_constructs():
    assert compile_problems("return 1") == []
    assert "SyntaxError" in compile_problems("return (")[0]
    assert "__class__" in compile_problems("return x.__class__")[0]
    assert compile_problems("return _global.a + _enum_store.b + nodeParameters.c") == []


def test_timeout_replaces_the_child(pool):
    before = set(pool.pids())
    with pytest.raises(ScriptError, match="time limit of 0.5 s"):
        pool.evaluate("while True:\n    pass", CONTEXT, 0.5)
    assert set(pool.pids()) != before
    assert pool.evaluate("return 41 + 1", CONTEXT, TIMEOUT) == 42


def test_concurrent_callers_share_the_pool(pool):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as executor:
        results = list(executor.map(lambda n: pool.evaluate(f"return {n} * 2", {}, 5), range(40)))
    assert results == [n * 2 for n in range(40)]


def test_a_dead_idle_child_is_replaced(pool):
    victim = pool._idle.queue[0]
    victim.proc.kill()
    victim.proc.wait()
    assert [pool.evaluate("return 'still serving'", {}, TIMEOUT) for _ in range(4)] == ["still serving"] * 4
    assert victim.proc.pid not in pool.pids()


def test_public_evaluate_uses_the_shared_pool():
    assert evaluate("return nodeParameters.a + 1", {"nodeParameters": {"a": 1}}) == 2


def test_sandbox_children_need_no_django():
    import subprocess
    import sys

    from apps.nodes.sandbox import PROJECT_ROOT

    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import apps.nodes.sandbox_runtime; "
             "print(sorted(m for m in sys.modules if m.startswith(('django', 'drift', 'rest_framework'))))")
    out = subprocess.run([sys.executable, "-I", "-c", probe, str(PROJECT_ROOT)], capture_output=True, text=True,
                         check=True, env={})
    assert out.stdout.strip() == "[]"


def test_non_json_inputs_are_refused_and_the_child_stays_usable(pool):
    with pytest.raises(ScriptError, match="not JSON values"):
        pool.evaluate("return 1", {"_global": {"x": object()}}, TIMEOUT)
    assert pool.evaluate("return 2", {}, TIMEOUT) == 2
