"""What may enter a run's data: finite numbers, valid Unicode, bounded nesting.

Python's json accepts NaN, Infinity and 1e999 (parsed as inf) and lone surrogates ("\\ud800"); none of them
can be stored (JSON columns refuse them, UTF-8 cannot encode them) or answered, so they are refused where
data comes in (API bodies, node outputs) and checked again before a run's state is persisted.

Pure Python (no Django): the workflow uses `scrubbed` too. Walks iteratively, so any depth is safe.
The check is one strict serialization (C speed, it also gives the size); only a document it finds suspect is
walked in Python, to name the offending path.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

NOT_FINITE = "is not a finite number (NaN, Infinity and numbers beyond 1.8e308 are not allowed)"
LONE_SURROGATE = "contains a lone surrogate (invalid Unicode)"


@dataclass(frozen=True)
class JsonProblem:
    path: str
    problem: str


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _number_problem(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_FINITE
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        return NOT_FINITE  # stored as a double by JSON columns, where it overflows
    return None


def _structure_suspect(value: Any, max_depth: int | None) -> bool:
    """What a serialization does not catch, cheaply (no paths, strings skipped): an integer beyond 1.8e308, or
    containers nested deeper than `max_depth`."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        elif isinstance(item, int) and _number_problem(item):
            return True
        else:
            continue
        if max_depth is not None and depth >= max_depth:
            return True
        stack += [(child, depth + 1) for child in children if not isinstance(child, str)]
    return False


def json_size(value: Any, path: str = "$", *, max_depth: int | None = None) -> tuple[int, JsonProblem | None]:
    """One strict serialization of `value`: its size in UTF-8 bytes, and the first value under it that may not
    enter a run (with its JSON path) or None. Types JSON lacks count as their str(), as the stores write them."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, default=str)
        size = len(text.encode())
    except (ValueError, UnicodeEncodeError, RecursionError):  # NaN/Infinity, a lone surrogate, absurd nesting
        problem = _walked_problem(value, path, max_depth)
        return 0, problem or JsonProblem(path, "cannot be serialized as JSON")
    except TypeError:  # keys JSON cannot have (never in data that came as JSON): the walk alone decides
        return 0, _walked_problem(value, path, max_depth)
    if _structure_suspect(value, max_depth):
        return size, _walked_problem(value, path, max_depth)  # the walk names the path
    return size, None


def json_problem(value: Any, path: str = "$", *, max_depth: int | None = None) -> JsonProblem | None:
    """The first value under `value` that may not enter a run (with its JSON path), or None."""
    return json_size(value, path, max_depth=max_depth)[1]


def _walked_problem(value: Any, path: str, max_depth: int | None) -> JsonProblem | None:
    """`json_problem` the slow way: a walk that names the path."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, item_path, depth = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                return JsonProblem(item_path, LONE_SURROGATE)
            continue
        problem = _number_problem(item)
        if problem:
            return JsonProblem(item_path, problem)
        if not isinstance(item, dict | list | tuple):
            continue
        if max_depth is not None and depth >= max_depth:
            return JsonProblem(item_path, f"is nested deeper than {max_depth} levels")
        children = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in reversed(list(children)):
            if isinstance(item, dict):
                child_path = f"{item_path}.{key}"
                if isinstance(key, str) and _has_lone_surrogate(key):
                    return JsonProblem(printable(child_path), LONE_SURROGATE)
            else:
                child_path = f"{item_path}[{key}]"
            stack.append((child, child_path, depth + 1))
    return None


def printable(text: str) -> str:
    """`text` with any lone surrogate shown as its escape: a path or a message that can be stored and answered."""
    return text.encode("utf-8", "backslashreplace").decode()


def scrubbed(value: Any) -> Any:
    """`value` with every non-finite number and lone surrogate replaced by None (used to record a failed
    run whose state held one); iterative like `json_problem`."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while stack:
        parent, key, item = stack.pop()
        if isinstance(item, str):
            parent[key] = None if _has_lone_surrogate(item) else item
        elif _number_problem(item):
            parent[key] = None
        elif isinstance(item, dict):
            copy = {printable(k) if isinstance(k, str) else k: v for k, v in item.items()}
            parent[key] = copy
            stack += [(copy, k, v) for k, v in copy.items()]
        elif isinstance(item, list | tuple):
            copy = list(item)
            parent[key] = copy
            stack += [(copy, index, v) for index, v in enumerate(copy)]
    return root[0]
