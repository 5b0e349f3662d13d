"""The escape corpus through the real worker: a script that does not compile never gets published; one that
compiles fails its node with a clear error at run time, while the worker keeps serving other runs."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from apps.definitions.models import DefinitionKind
from apps.definitions.services import definition_save_snapshot
from apps.nodes.sandbox import compile_problems
from apps.runs.contract import WORKFLOW_NAME, RunInput
from devtools.testing.builders import failure_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.sandbox_escapes import ESCAPES
from drift.errors import InvalidInput
from drift.temporal import run_async

pytestmark = pytest.mark.temporal

RUNTIME_ESCAPES = [(source, fragment) for source, fragment in ESCAPES if not compile_problems(source)]
COMPILE_ESCAPES = [(source, fragment) for source, fragment in ESCAPES if compile_problems(source)]


def test_scripts_that_do_not_compile_are_refused_at_save(tenant, transactional_db):
    assert COMPILE_ESCAPES, "the corpus has compile-time escapes"
    for index, (source, _) in enumerate(COMPILE_ESCAPES):
        with pytest.raises(InvalidInput) as caught:
            definition_save_snapshot(tenant=tenant, kind=DefinitionKind.NODE, body=script_node(f"bad{index}", source),
                                     actor="tests", create=True)
        assert any(problem.path.endswith(".transformer.value.data") for problem in caught.value.details)


def test_hostile_scripts_fail_their_nodes_and_the_worker_keeps_serving(runs, tenant):
    assert len(RUNTIME_ESCAPES) >= 20
    nodes = [script_node(f"hostile{index}", source) for index, (source, _) in enumerate(RUNTIME_ESCAPES)]
    flows = [
        workflow(f"hostile{index}", "h", [state("h", f"hostile{index}", "done"), state("done"), state("f", "failed")],
                 defaultFailureNode="f")
        for index in range(len(RUNTIME_ESCAPES))
    ]
    nodes += [script_node("honest", "return nodeParameters.n * 2", ["n"]), success_node(), failure_node()]
    flows.append(workflow("honest", "s", [state("s", "honest", "done", parameters={"n": "$.params.n"}),
                                          state("done")]))
    publish_definitions(tenant, nodes, flows)

    async def run_all() -> tuple[list[dict], list[dict]]:
        async def run(key: str, params: dict) -> dict:
            handle = await runs.client.start_workflow(
                WORKFLOW_NAME, RunInput(tenant=tenant, workflow_key=key, start={"params": params}),
                id=f"hostile-{uuid.uuid4().hex}", task_queue=runs.task_queue,
            )
            return await handle.result()

        hostile = [run(f"hostile{index}", {}) for index in range(len(RUNTIME_ESCAPES))]
        honest = [run("honest", {"n": n}) for n in range(10)]  # interleaved with the hostile runs
        results = await asyncio.gather(*hostile, *honest)
        return results[: len(hostile)], results[len(hostile):]

    hostile, honest = run_async(run_all(), timeout=180)
    for (source, fragment), result in zip(RUNTIME_ESCAPES, hostile, strict=True):
        assert result["workflowStatus"] == "FAILED", source
        message = result["output"]["errorMessage"]
        assert message.startswith("node h failed: transformer: "), message
        assert fragment.lower() in message.lower(), (source, message)
    assert [result["output"]["s"] for result in honest] == [n * 2 for n in range(10)]
    assert all(result["workflowStatus"] == "COMPLETED" for result in honest)
