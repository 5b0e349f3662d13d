"""Segments (issue 26): consecutive pure nodes (SCRIPT, BRANCH, a computed FAILURE: `NodeType.pure`) run in one
local activity, `execute_segment` (worker/segment_activity.py), with one sandbox child for all their scripts.

A workflow activation and a local-activity round trip through the SDK cost more than a small script, so a chain
of ten SCRIPT nodes paid ten of each. The activity walks the nodes as the walker would (parameters, outputs,
BRANCH choices) and returns each node's outcome; the workflow then applies them one by one exactly as if each
had run alone: the same timeline rows, context writes, node counts and outcome handling (`settle`, the walker's).

- A segment stops before any state that is not pure (a remote node, a state kind, a node the workflow settles
  itself), after a node that ends the run or the branch, and at the node limit. A node whose outcome suspends the
  run but is computed like a pure one (`NodeType.closes_segment`: a screen's View, a wait, a child run) may be its
  last node (segments-2): the workflow then waits as after that node's own activity.
- A node error in the segment is that node's: a final one fails it as its own activity would have; a retryable
  one reruns that node alone with its own retry policy. An unexpected error past the first node ends the segment
  before that node, which then runs on its own (so it is retried and reported as its own).
- Between the nodes, the walker's boundary checks still hold: a terminate, the node limit or a due hand-over
  met while applying stops there, and the rest of the segment's work is dropped (it wrote nothing).
- Test runs keep one activity per node (their mocks are per node).
- From engine level 3 a short remote node (one that runs as a local activity: `node.runs_local`) may *lead* a
  segment, never be further in it: the activity then has that node's timeout and retry policy, and a retryable
  error of it fails the attempt (nothing after it has run), so it is retried exactly as its own activity would be.
  The sample's start (HTTP, BRANCH, screen) is one local activity.
Behind `workflow.patched(PATCH)`: histories recorded before replay one activity per node; the closing node behind
`workflow.patched(CLOSERS_PATCH)`, asked only where it lengthens a segment. A run at engine level 2
(worker/versions.py) takes both without asking them; runs begun before that level ask them as recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from apps.nodes.registry import edges_of, kind_of, type_of
    from apps.runs.contract import ACTIVITY_EXECUTE_SEGMENT, RunEnd, SegmentRequest
    from core.paths import resolve_parameters
    from worker.engine import LANE, LOCAL_ACTIVITY_TIMEOUT, Engine
    from worker.errors import NodeFailed, failure_message
    from worker.kinds import node
    from worker.run_state import RunState

PATCH = "segments-1"
CLOSERS_PATCH = "segments-2"  # a segment may end with a node that suspends the run (`closes`)
# The walker's handling of one node's outcome: (name, state, outcome, parameters, in_branch) -> the next state.
Settle = Callable[[str, dict[str, Any], dict[str, Any], dict[str, Any], bool], Awaitable[str | None]]


def pure(state: dict[str, Any] | None, name: str) -> bool:
    """Whether the state can be part of a segment: a node whose type is pure and that the workflow does not
    settle itself (a FAILURE with a fixed error ends the run without an activity)."""
    node_definition = (state or {}).get("nodeDefinition")
    if not isinstance(node_definition, dict):
        return False
    node_type = type_of(node_definition)
    if node_type is None or not node_type.pure or node_type.remote:
        return False
    return node_type.settle is None or node_type.settle(node_definition, name, None) is None


def closes(state: dict[str, Any] | None) -> bool:
    """Whether the state may end a segment: its node's outcome is computed like a pure one's but suspends the run."""
    node_definition = (state or {}).get("nodeDefinition")
    node_type = type_of(node_definition) if isinstance(node_definition, dict) else None
    return node_type is not None and node_type.closes_segment and not node_type.remote


def reachable(states: dict[str, Any], start: str, closers: bool = False,
              lead: bool = False) -> dict[str, dict[str, Any]]:
    """The pure states reachable from `start` through pure states only: what the segment may walk. With
    `closers`, also the closing states (`closes`) next to them, where the segment ends. With `lead`, `start` is
    taken though it is not pure (a short remote node, engine level 3)."""
    found: dict[str, dict[str, Any]] = {}
    frontier: list[Any] = [start]  # names, and None where a state has no next
    while frontier:
        name = frontier.pop()
        state = states.get(name) if isinstance(name, str) else None
        if state is None or name in found:
            continue
        if pure(state, name) or (lead and name == start):
            found[name] = state
            frontier += [state.get("nextNode"), *(edge.target for edge in edges_of(state["nodeDefinition"]))]
        elif closers and name != start and closes(state):
            found[name] = state
    return found


def advance(name: str, state: dict[str, Any], outcome: dict[str, Any], context: dict[str, Any]) -> str | None:
    """The activity's side of the walker's step: store the output, name the next state (None: the segment ends)."""
    if outcome.get("terminal") or closes(state):
        return None
    if "output" in outcome:
        context[state.get("contextOverrideKey") or name] = outcome["output"]
    if outcome.get("nextNode"):
        return outcome["nextNode"]
    return None if state.get("end") else state.get("nextNode")


def applies(engine: Engine, name: str) -> dict[str, dict[str, Any]] | None:
    """The states a segment from `name` may walk, or None when the node runs alone (the patches are asked last,
    so replays of older histories find them only where a segment would start, or grow by its closing node)."""
    run = engine.run
    if run.harness is not None or budget(engine) < 2:
        return None
    current = run.engine_level >= 2  # begun with segments and closers on: no patch of their own to ask
    lead = leads(engine, run.definition["states"][name])
    states = reachable(run.definition["states"], name, lead=lead)
    if states:
        closed = reachable(run.definition["states"], name, closers=True, lead=lead)
        if len(closed) > max(len(states), 1) and (current or workflow.patched(CLOSERS_PATCH)):
            states = closed
    if len(states) > 1 and (current or workflow.patched(PATCH)):
        return states
    # Engine level 4: a lone pure node that the run's end may follow runs as a segment, which stores that end too.
    if not states or lead:
        return None
    return states if _end_states(engine, states) is not None else None


def leads(engine: Engine, state: dict[str, Any]) -> bool:
    """Whether a remote node may lead a segment (engine level 3): one that runs as a local activity anyway. The
    segment's activity then takes the node's own timeout and retries: a retryable error of it retries the whole
    activity (the pure nodes after it have run nothing yet), exactly as the node's own activity would."""
    node_definition = state.get("nodeDefinition")
    return (engine.run.engine_level >= 3 and isinstance(node_definition, dict)
            and kind_of(node_definition).remote and node.runs_local(engine, node_definition))


def budget(engine: Engine) -> int:
    """How many nodes the segment may run: the walker counted the first one already."""
    return engine.run.limits.get("maxNodes", 1000) - engine.run.executed + 1


def run_end(engine: Engine, states: dict[str, dict[str, Any]], first: dict[str, Any]) -> RunEnd | None:
    """What the segment's activity needs to store the run's end as well (engine level 4, worker/run_end.py), with
    a seq reserved for it; None where the segment cannot end the run or suspend it at a screen (`_end_states`)."""
    run_ = engine.run
    settled = _end_states(engine, states)
    if settled is None:
        return None
    run_.seq += 1
    return RunEnd(seq=run_.seq, recorded=run_.recorded, timeline=list(run_.timeline), task=run_.task,
                  error=run_.error, view=run_.view, disposition=run_.disposition,
                  incident_id=run_.inp.incident_id or None, key=run_.key, version=run_.version, settled=settled,
                  terminal=not kind_of(first).remote)


def _end_states(engine: Engine, states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """The states next to the segment that end the run and that the walker settles itself, when the segment may
    store the run's end or its WAITING state: it can lead there, on the main path of a run that is not a test.
    None where it may not (a PARALLEL branch has a lane). A segment a remote node leads stores only a screen's
    WAITING (`RunEnd.terminal`): it is given up for a terminate as always, and a WAITING stored late stays before
    the TERMINATED."""
    run_ = engine.run
    if run_.engine_level < 4 or run_.harness is not None or LANE.get():
        return None
    settled = _settled_next(run_.definition["states"], states)
    kinds = [kind_of(state["nodeDefinition"]) for state in states.values()]
    if settled or any(kind.terminal or kind.closes_segment for kind in kinds) or any(
            state.get("end") for state in states.values()):
        return settled
    return None


def _ended(run_: RunState, reserved_seq: int, stored: dict[str, str] | None) -> None:
    """A segment that was given a RunEnd answered: `stored`, the digest of the end its activity stored (the run's
    next persist compares it) and when a state settled after it is recorded; else the seq reserved for it is given
    back (nothing was stored under it)."""
    if stored is not None:
        run_.stored_end = (reserved_seq, stored["digest"], stored["at"])
    elif run_.seq == reserved_seq:
        run_.seq -= 1


def _settled_next(all_states: dict[str, Any], states: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The states next to the segment's that end the run and that the walker settles itself (SUCCESS, a FAILURE
    with a fixed error)."""
    found: dict[str, dict[str, Any]] = {}
    for state in states.values():
        for name in (state.get("nextNode"), *(edge.target for edge in edges_of(state["nodeDefinition"]))):
            if not isinstance(name, str) or name in states or not isinstance(all_states.get(name), dict):
                continue
            following: dict[str, Any] = all_states[name]
            node_definition = following.get("nodeDefinition")
            if isinstance(node_definition, dict) and _settles_end(node_definition, name):
                found[name] = following
    return found


def _settles_end(node_definition: dict[str, Any], name: str) -> bool:
    node_type = type_of(node_definition)
    return (node_type is not None and node_type.terminal and node_type.settle is not None
            and node_type.settle(node_definition, name, None) is not None)


async def run(engine: Engine, name: str, states: dict[str, dict[str, Any]], in_branch: bool,
              settle: Settle) -> str | None:
    run_ = engine.run
    await engine.task_room()
    # In a branch, a snapshot: the activity's input is converted later, after other branches may have moved on.
    context = dict(run_.context) if in_branch else run_.context
    carried = engine.carry_pending()
    first = states[name]["nodeDefinition"]
    end = run_end(engine, states, first)
    request = SegmentRequest(run_.inp.tenant, workflow.info().workflow_id, states, name, context, budget(engine),
                             sensitive_paths=engine.sensitive_paths(), persist=carried,
                             ordinal=node.visit(engine, name, first), end=end)
    timeout, retry = node.local_limits(first)
    if kind_of(first).remote:  # the node's own timeout, and time for the pure nodes after it
        timeout += LOCAL_ACTIVITY_TIMEOUT
    call = workflow.execute_local_activity(ACTIVITY_EXECUTE_SEGMENT, request, start_to_close_timeout=timeout,
                                           retry_policy=retry)
    try:
        result = await engine.carried(carried, call, whole=end is not None and end.terminal)
        steps = result["steps"]
        if end is not None:
            _ended(run_, end.seq, result.get("end"))
    except FailureError as error:  # the first node's own error (a later one's ends the segment before it)
        message = failure_message(error)
        engine.record(name, states[name]["nodeDefinition"]["type"], "FAILURE", message)
        raise NodeFailed(f"node {name} failed: {message}", node=name) from error
    metas = [step["outcome"].get("_meta", {}) for step in steps if "outcome" in step]
    engine.local_result(sum(meta.get("bytes", 0) for meta in metas), sum(meta.get("durationMs", 0) for meta in metas))
    return await _apply(engine, steps, in_branch, settle)


async def _apply(engine: Engine, steps: list[dict[str, Any]], in_branch: bool, settle: Settle) -> str | None:
    """Each node's outcome, as the walker would have had it from the node's own activity. A segment that stored
    the run's end is applied whole: its nodes ran and their end is stored, a terminate meanwhile comes too late."""
    run_ = engine.run
    following: str | None = steps[0]["node"]
    for index, step in enumerate(steps):
        name = step["node"]
        if index:
            if name != following or (run_.stored_end is None and (
                    engine.stopping() or engine.handover_is_due() or engine.over_node_limit())):
                return following  # the walker's boundary checks take it from here
            run_.current_node = name
            run_.executed += 1
        state = run_.definition["states"][name]
        parameters = resolve_parameters(state.get("parameters"), run_.context)
        run_.context["nodeParameters"] = parameters
        outcome = await _outcome(engine, name, state, step, parameters, in_branch)
        following = await settle(name, state, outcome, parameters, in_branch)
    return following


async def _outcome(engine: Engine, name: str, state: dict[str, Any], step: dict[str, Any],
                   parameters: dict[str, Any], in_branch: bool) -> dict[str, Any]:
    node_type = state["nodeDefinition"]["type"]
    if "outcome" in step:
        outcome = step["outcome"]
        node.record_outcome(engine, name, node_type, outcome, outcome.pop("_meta", {}))
        return outcome
    if step["retryable"]:  # its own activity, with its own retries
        context = {**engine.run.context, "nodeParameters": parameters} if in_branch else engine.run.context
        try:
            return await node.node_activity(engine, name, state, context)
        except NodeFailed as failure:
            raise NodeFailed(failure.message, node=name) from failure
    engine.record(name, node_type, "FAILURE", step["error"])
    raise NodeFailed(f"node {name} failed: {step['error']}", node=name)
