"""Structured JSON diff: a list of {path, op: added|removed|changed, old, new} with JSON paths."""

from typing import Any


def json_diff(old: Any, new: Any, path: str = "$") -> list[dict[str, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        return _dict_diff(old, new, path)
    if isinstance(old, list) and isinstance(new, list):
        return _list_diff(old, new, path)
    if old == new and type(old) is type(new):
        return []
    return [{"path": path, "op": "changed", "old": old, "new": new}]


def _dict_diff(old: dict, new: dict, path: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for key in sorted(old.keys() | new.keys(), key=str):
        sub = f"{path}.{key}"
        if key not in new:
            changes.append({"path": sub, "op": "removed", "old": old[key], "new": None})
        elif key not in old:
            changes.append({"path": sub, "op": "added", "old": None, "new": new[key]})
        else:
            changes += json_diff(old[key], new[key], sub)
    return changes


def _list_diff(old: list, new: list, path: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for index in range(max(len(old), len(new))):
        sub = f"{path}[{index}]"
        if index >= len(new):
            changes.append({"path": sub, "op": "removed", "old": old[index], "new": None})
        elif index >= len(old):
            changes.append({"path": sub, "op": "added", "old": None, "new": new[index]})
        else:
            changes += json_diff(old[index], new[index], sub)
    return changes
