"""MAP states (spec §8): the iterator workflow runs once per item, as child runs. Plain Python (the workflow
imports it).

```
{"type": "MAP", "items": "$.get_order.lines" | value component | [literal items],
 "iterator": {"workflowId": "refund_line", "version": "ACTIVE", "resultPath": "$.refund"},
 "maxConcurrency": 10, "toleratedFailurePercentage": 0, "nextNode": "summary"}
```
Each child gets `params.item` and `params.index`; `_global[<key>] = {"results": [...in item order],
"failed": [{index, workflowId, error}], "succeeded": n}`.
"""

from __future__ import annotations

import re
from typing import Any

from apps.nodes import checks
from apps.nodes.values import is_value_component, validate_value_component
from core.paths import lookup
from core.problems import Problem

MAP = "MAP"
DEFAULT_MAX_CONCURRENCY = 10
MAX_CONCURRENCY = 1000
MAX_ITEMS = 100_000
# Items per batch workflow (DRIFT_MAP_BATCH_SIZE, carried in a run's limits): each batch's history stays far
# below Temporal's limits (about 4 events per item, plus the slots handed down the chain of batches).
BATCH_SIZE = 500


# An item's run is <parent>.<state>.<nonce>.<index>: the nonce (12 hex digits) tells one execution of the state
# from another (a loop may run it again); the parent's run page finds the items by it.
_ITEM_RUN = re.compile(r"(?P<state>.+)\.(?P<nonce>[0-9a-f]{12})\.(?P<index>\d+)")


def item_run_prefix(parent_workflow_id: str, state: str, nonce: str) -> str:
    """The id prefix of one MAP execution's item runs (and of its batch workflows)."""
    return f"{parent_workflow_id}.{state}.{nonce}"


def parse_item_run_id(parent_workflow_id: str, workflow_id: str) -> tuple[str, str, int] | None:
    """(prefix, state, index) of a MAP item's run id, else None (a CHILD node's run, say)."""
    head = f"{parent_workflow_id}."
    match = _ITEM_RUN.fullmatch(workflow_id[len(head):]) if workflow_id.startswith(head) else None
    if match is None:
        return None
    return item_run_prefix(parent_workflow_id, match["state"], match["nonce"]), match["state"], int(match["index"])


def is_map(state: Any) -> bool:
    return isinstance(state, dict) and state.get("type") == MAP


def validate_state(name: str, state: dict) -> list[Problem]:
    path = f"$.states.{name}"
    items = state.get("items")
    problems: list[Problem] = []
    if is_value_component(items):
        problems += validate_value_component(items, f"{path}.items")
    elif not (isinstance(items, list) or (isinstance(items, str) and items.startswith("$."))):
        problems.append(Problem(f"{path}.items", "is required: a $.path, a value component or a list"))
    problems += checks.obj(state, "iterator", path, required=True)
    iterator = state.get("iterator")
    if isinstance(iterator, dict):
        at = f"{path}.iterator"
        problems += checks.string(iterator, "workflowId", at, required=True)
        version = iterator.get("version")
        if version is not None and not (isinstance(version, int) and not isinstance(version, bool) and version > 0
                                        or isinstance(version, str) and (version.upper() in ("ACTIVE", "LATEST")
                                                                         or version.isdigit())):
            problems.append(Problem(f"{at}.version", "must be ACTIVE, LATEST or a version number"))
        result_path = iterator.get("resultPath")
        if result_path is not None and not (isinstance(result_path, str) and result_path.startswith("$")):
            problems.append(Problem(f"{at}.resultPath", "must be a $.path into the child's output"))
    concurrency = state.get("maxConcurrency")
    if concurrency is not None and not (isinstance(concurrency, int) and not isinstance(concurrency, bool)
                                        and 1 <= concurrency <= MAX_CONCURRENCY):
        problems.append(Problem(f"{path}.maxConcurrency", f"must be an integer from 1 to {MAX_CONCURRENCY}"))
    tolerated = state.get("toleratedFailurePercentage")
    if tolerated is not None and not (checks.is_number(tolerated) and 0 <= tolerated <= 100):
        problems.append(Problem(f"{path}.toleratedFailurePercentage", "must be a number from 0 to 100"))
    for field in ("resourceId", "nodeDefinition"):
        if state.get(field) is not None:
            problems.append(Problem(f"{path}.{field}", "a MAP state references no node definition"))
    return problems


def result_at(output: Any, result_path: str | None) -> Any:
    """The child's value at `resultPath` ("$" or none: its whole output without `nodeParameters`)."""
    if not result_path or result_path == "$":
        return output
    return lookup(output, result_path)
