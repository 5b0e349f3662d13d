"""The MAP state kind (spec §8): the iterator workflow once per item, as child runs, in batch workflows of
DRIFT_MAP_BATCH_SIZE items (`DriftMapBatch`: each batch's history stays small, so 10,000 items fit) that share
`maxConcurrency`; results in item order. Test runs start no child runs: the case mocks the MAP's result."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from apps.definitions import map_state
    from apps.runs.contract import MAP_BATCH_WORKFLOW, SIGNAL_MAP_READY, SIGNAL_MAP_SLOTS, WORKFLOW_NAME, MapBatch
    from core.paths import lookup
    from worker.engine import Engine, meta_since
    from worker.errors import NodeFailed, Terminated, failure_message
    from worker.kinds import node

TYPE = map_state.MAP


async def run(engine: Engine, name: str, state: dict[str, Any]) -> str | None:
    """Fails when the failed share exceeds `toleratedFailurePercentage`."""
    run_ = engine.run
    if run_.harness is not None:  # a test run starts no child runs: the case mocks the MAP's result
        return _mocked(engine, name, state)
    if run_.inp.depth + 1 > run_.limits.get("maxDepth", 5):
        raise NodeFailed(f"MAP {name}: child nesting deeper than {run_.limits.get('maxDepth')} levels")
    items = await _items(engine, name, state)
    started_at = workflow.now()
    call = asyncio.ensure_future(_run_batches(_batches(engine, name, state, items)))
    try:
        done = await engine.unless_terminated(call)
    except Terminated:
        with contextlib.suppress(BaseException):
            await call  # the batches end only once every item's run has ended TERMINATED
        raise
    except FailureError as error:
        raise NodeFailed(f"MAP {name}: a batch failed: {failure_message(error)}") from error
    results = [result for batch in done for result in batch["results"]]
    failed = [failure for batch in done for failure in batch["failed"]]
    run_.context[state.get("contextOverrideKey") or name] = {
        "results": results, "failed": failed, "succeeded": len(items) - len(failed)}
    share = 100 * len(failed) / len(items) if items else 0.0
    tolerated = float(state.get("toleratedFailurePercentage") or 0)
    meta = meta_since(started_at)
    if share > tolerated:
        message = f"MAP {name}: {len(failed)} of {len(items)} items failed ({share:.1f}% > {tolerated:g}%)"
        engine.record(name, "MAP", "FAILURE", message, meta)
        raise NodeFailed(message)
    engine.record(name, "MAP", "SUCCESS", "", meta)
    return state.get("nextNode")


def _batches(engine: Engine, name: str, state: dict[str, Any], items: list[Any]) -> list[MapBatch]:
    """The MAP's batches as one chain: the first holds every concurrency slot, each hands its free
    slots to the next. Item runs are <prefix>.<index>, batches <prefix>.batch<offset>."""
    inp = engine.run.inp
    workflow_id = workflow.info().workflow_id
    prefix = map_state.item_run_prefix(workflow_id, name, workflow.uuid4().hex[:12])
    concurrency = int(state.get("maxConcurrency") or map_state.DEFAULT_MAX_CONCURRENCY)
    size = engine.run.limits.get("mapBatchSize") or map_state.BATCH_SIZE
    offsets = list(range(0, len(items), size))
    ids = [f"{prefix}.batch{offset}" for offset in offsets]
    return [MapBatch(
        tenant=inp.tenant, parent_workflow_id=workflow_id, child_prefix=prefix, iterator=state["iterator"],
        items=items[offset:offset + size], offset=offset, max_concurrency=concurrency,
        depth=inp.depth + 1, client_id=inp.client_id, username=inp.username,
        incident_id=inp.incident_id, slots=concurrency if position == 0 else 0,
        predecessor=ids[position - 1] if position else "",
        successor=ids[position + 1] if position + 1 < len(ids) else "",
    ) for position, offset in enumerate(offsets)]


async def _run_batches(batches: list[MapBatch]) -> list[dict[str, Any]]:
    """Start every batch (in order: a batch's predecessor exists before it says it is ready), then
    their results in order. A failed or cancelled batch cancels the others (their chain is broken)."""
    handles: list[workflow.ChildWorkflowHandle] = []
    try:
        for batch in batches:
            batch_id = f"{batch.child_prefix}.batch{batch.offset}"
            handles.append(await workflow.start_child_workflow(MAP_BATCH_WORKFLOW, batch, id=batch_id))
        return list(await asyncio.gather(*handles))
    except (Exception, asyncio.CancelledError):  # not GeneratorExit: the worker evicting the run
        for handle in handles:
            handle.cancel()
        await asyncio.gather(*handles, return_exceptions=True)
        raise


def _mocked(engine: Engine, name: str, state: dict[str, Any]) -> str | None:
    harness = engine.run.harness
    assert harness is not None
    mock = harness.next_mock(name)
    if mock is None:
        message = harness.unmocked(name, "MAP")
        engine.record(name, "MAP", "FAILURE", message)
        raise NodeFailed(message)
    engine.run.context[state.get("contextOverrideKey") or name] = node.mocked(engine, name, {"type": "MAP"},
                                                                             mock)["output"]
    return state.get("nextNode")


async def _items(engine: Engine, name: str, state: dict[str, Any]) -> list[Any]:
    items = state.get("items")
    if isinstance(items, str):
        items = lookup(engine.run.context, items)
    elif isinstance(items, dict):  # a value component: computed like a SCRIPT node's transformer
        script = {"nodeDefinition": {"id": name, "type": "SCRIPT", "transformer": items}}
        items = (await node.node_activity(engine, name, script, engine.run.context)).get("output")
    if not isinstance(items, list):
        raise NodeFailed(f"MAP {name}: items is not a list but {type(items).__name__}")
    if len(items) > map_state.MAX_ITEMS:
        raise NodeFailed(f"MAP {name}: {len(items)} items, more than {map_state.MAX_ITEMS}")
    return items


@workflow.defn(name=MAP_BATCH_WORKFLOW)
class DriftMapBatch:
    """One batch of a MAP state's items: the iterator workflow per item as a child run.

    Concurrency flows down the chain of batches instead of stopping at each batch's end: the MAP's
    `maxConcurrency` slots start with the first batch; a batch that has started all its items gives each
    slot its items free (and each slot it is given) to the next batch at once (signal SIGNAL_MAP_SLOTS),
    so the next batch's items start while this one's tail finishes. A slot is held by one batch at a time,
    so at most `maxConcurrency` item runs are in flight over the whole MAP, and the item runs flow
    continuously across batch boundaries. Each history stays bounded: a batch records its own items plus
    at most one hand-over per slot freed or passed through. A batch ends once its items have ended and its
    predecessor has handed over its last slot (so no slot is sent to an ended batch); it signals its
    predecessor SIGNAL_MAP_READY first, so slots are never sent before it exists.
    Cancelling the batch (the parent was terminated) cancels every item's run."""

    @workflow.init
    def __init__(self, batch: MapBatch) -> None:
        self.slots = batch.slots
        self.running = 0
        self.launched = False
        self.successor_ready = False
        self.predecessor_done = not batch.predecessor

    @workflow.signal(name=SIGNAL_MAP_SLOTS)
    def take_slots(self, count: int, last: bool) -> None:
        self.slots += count
        self.predecessor_done = self.predecessor_done or last

    @workflow.signal(name=SIGNAL_MAP_READY)
    def successor_started(self) -> None:
        self.successor_ready = True

    @workflow.run
    async def run(self, batch: MapBatch) -> dict[str, Any]:
        results: list[Any] = [None] * len(batch.items)
        failed: list[dict[str, Any]] = []

        async def one(position: int) -> None:
            index, child_id = batch.offset + position, batch.item_id(position)
            try:
                result = await workflow.execute_child_workflow(WORKFLOW_NAME, batch.item_input(position), id=child_id)
                if result["workflowStatus"] == "COMPLETED":
                    results[position] = map_state.result_at(result.get("output"), batch.iterator.get("resultPath"))
                else:
                    failed.append({"index": index, "workflowId": child_id,
                                   "error": result.get("errorMessage") or result["workflowStatus"]})
            except FailureError as error:
                failed.append({"index": index, "workflowId": child_id, "error": failure_message(error)})
            finally:
                self.running -= 1

        tasks: list[asyncio.Task] = []
        try:
            if batch.predecessor:
                await _signal_batch(batch.predecessor, SIGNAL_MAP_READY, [])
            if batch.successor:
                tasks.append(asyncio.ensure_future(self._pass_slots(batch.successor)))
            for position in range(len(batch.items)):
                await workflow.wait_condition(lambda: self.running < self.slots)
                self.running += 1
                tasks.append(asyncio.ensure_future(one(position)))
            self.launched = True
            await asyncio.gather(*tasks)  # the items, and passing slots on until the last one
            await workflow.wait_condition(lambda: self.predecessor_done)
        except asyncio.CancelledError:  # the parent run was terminated: every item's run ends TERMINATED first
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return {"results": results, "failed": sorted(failed, key=lambda entry: entry["index"])}

    async def _pass_slots(self, successor: str) -> None:
        """Give the successor every slot this batch no longer needs, as soon as it is free; the last
        hand-over (all items ended, the predecessor done) says so."""
        await workflow.wait_condition(lambda: self.successor_ready)
        while True:
            await workflow.wait_condition(lambda: self.launched and (self.slots > self.running or self._ended()))
            last = self._ended()
            spare, self.slots = self.slots - self.running, self.running
            await _signal_batch(successor, SIGNAL_MAP_SLOTS, [spare, last])
            if last:
                return

    def _ended(self) -> bool:
        return self.launched and self.running == 0 and self.predecessor_done


async def _signal_batch(workflow_id: str, signal: str, args: list[Any]) -> None:
    """Signal another batch of the same MAP. A batch already cancelled (the run was terminated) ignores it."""
    with contextlib.suppress(FailureError):
        await workflow.get_external_workflow_handle(workflow_id).signal(signal, args=args)
