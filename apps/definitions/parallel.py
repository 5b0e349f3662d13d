"""PARALLEL states (spec §8): branches of the graph that run concurrently. Plain Python (the workflow imports it).

A branch is the sub-graph reached from its `startNode`; it ends at a state with no `nextNode` (or `end`).
No state belongs to two branches or to a branch and the main path, two branches never write the same
context key, and only node types that may run in a branch (`NodeType.in_branch`) appear in one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.nodes import checks
from apps.nodes.registry import type_of
from core.problems import Problem

PARALLEL = "PARALLEL"
FAILURE_POLICIES = ("FAIL_FAST", "WAIT_ALL", "CONTINUE")
BRANCH_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")


def is_parallel(state: Any) -> bool:
    return isinstance(state, dict) and state.get("type") == PARALLEL


def branches(state: dict) -> list[tuple[int, str, Any]]:
    """(index, name, startNode) of each well-formed branch entry."""
    entries = state.get("branches") if isinstance(state.get("branches"), list) else []
    return [(index, entry.get("name"), entry.get("startNode")) for index, entry in enumerate(entries)
            if isinstance(entry, dict)]


def context_key(name: str, state: dict) -> str:
    override = state.get("contextOverrideKey")
    return override if isinstance(override, str) and override else name  # a bad override is reported elsewhere


def validate_state(name: str, state: dict) -> list[Problem]:
    """The PARALLEL state's own fields (its targets are checked with the others')."""
    path = f"$.states.{name}"
    problems = checks.array(state, "branches", path, required=True)
    problems += checks.one_of(state, "failurePolicy", path, FAILURE_POLICIES)
    for field in ("resourceId", "nodeDefinition"):
        if state.get(field) is not None:
            problems.append(Problem(f"{path}.{field}", "a PARALLEL state references no node definition"))
    entries = state.get("branches") if isinstance(state.get("branches"), list) else []
    if isinstance(state.get("branches"), list) and len(entries) < 2:
        problems.append(Problem(f"{path}.branches", "needs at least two branches"))
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        at = f"{path}.branches[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(at, "must be an object {name, startNode}"))
            continue
        problems += checks.string(entry, "name", at, required=True)
        problems += checks.string(entry, "startNode", at, required=True)
        if isinstance(entry.get("name"), str):
            if entry["name"] in seen:
                problems.append(Problem(f"{at}.name", f"branch name '{entry['name']}' is used twice"))
            seen.add(entry["name"])
    return problems


Successors = Callable[[str], list[str]]


def _reach(starts: list[str], successors: Successors, states: dict) -> set[str]:
    seen: set[str] = set()
    stack = [start for start in starts if start in states]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(target for target in successors(name) if target in states)
    return seen


def branch_problems(body: dict, states: dict, nodes: dict[str, dict | None], successors: Successors) -> list[Problem]:
    """Shared states, key collisions and refused node types, for every PARALLEL state."""
    problems: list[Problem] = []

    def main_successors(name: str) -> list[str]:  # the main path steps over branches
        state = states[name]
        if is_parallel(state):
            return [state["nextNode"]] if isinstance(state.get("nextNode"), str) else []
        return successors(name)

    post = body.get("postWorkflowCompletionNodes")
    roots = [body.get("startNode"), body.get("defaultFailureNode"), *(post if isinstance(post, list) else [])]
    main = _reach([root for root in roots if isinstance(root, str)], main_successors, states)
    for name, state in states.items():
        if is_parallel(state):
            problems += _one_parallel(name, state, states, nodes, successors, main)
    return problems


def _one_parallel(name: str, state: dict, states: dict, nodes: dict[str, dict | None], successors: Successors,
                  main: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    claimed: dict[str, str] = {}  # state -> the branch it belongs to
    written: dict[str, str] = {}  # context key -> the branch writing it
    for index, branch, start in branches(state):
        at = f"$.states.{name}.branches[{index}]"
        members = _reach([start] if isinstance(start, str) else [], successors, states)
        shared = sorted(members & main)
        if shared:
            problems.append(Problem(f"{at}.startNode", f"states {shared} are also on the main path"))
        for member in sorted(members - main):  # a state on the main path is reported once, above
            if member in claimed:
                problems.append(Problem(f"{at}.startNode",
                                        f"state '{member}' also belongs to branch '{claimed[member]}'"))
                continue
            claimed[member] = branch
            problems += _member_problems(name, branch, member, states[member], nodes.get(member), at, written)
    return problems


def _member_problems(name: str, branch: str, member: str, state: Any, node: dict | None, at: str,
                     written: dict[str, str]) -> list[Problem]:
    if not isinstance(state, dict):
        return []
    problems = []
    node_type = type_of(node)
    if node_type is not None and not node_type.in_branch:
        problems.append(Problem(f"$.states.{member}", f"a {node_type.name} node cannot run inside branch '{branch}' "
                                                      f"of PARALLEL '{name}'"))
    key = context_key(member, state)
    if key in written and written[key] != branch:
        problems.append(Problem(at, f"branches '{written[key]}' and '{branch}' both write the context key '{key}'"))
    written.setdefault(key, branch)
    return problems
