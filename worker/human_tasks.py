"""The clock of a human task (spec §11), as pure functions the workflow calls: no Django, no I/O.

The workflow keeps the task dict in its state and hands it to every persist; the tasks app mirrors it in a
Task row. Escalation and timeout are deadlines measured from the moment the screen started waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any


def open_task(node: str, assignment: dict[str, Any] | None, screen: int, now: datetime) -> dict[str, Any] | None:
    """The task of a screen that starts waiting now; None when the node has no assignment."""
    if not assignment:
        return None
    due = assignment.get("dueInSeconds")
    timeout = assignment.get("timeoutSeconds")
    return {
        "node": node, "screen": screen, "state": "OPEN", "group": assignment.get("group") or "",
        "user": assignment.get("user") or "", "escalationLevel": 0, "waitingSince": now.isoformat(),
        "dueAt": (now + timedelta(seconds=due)).isoformat() if due else None,
        "timeoutAt": (now + timedelta(seconds=timeout)).isoformat() if timeout else None,
        "timeoutNode": assignment.get("timeoutNode") or "",
    }


def deadlines(assignment: dict[str, Any] | None) -> Iterator[tuple[float, dict[str, Any] | None]]:
    """(seconds after the screen began, escalation step) in order; the timeout comes last with step None.
    Steps due at or after the timeout never fire."""
    if not assignment:
        return
    timeout = assignment.get("timeoutSeconds")
    for step in assignment.get("escalation") or []:
        if timeout is None or step["afterSeconds"] < timeout:
            yield float(step["afterSeconds"]), step
    if timeout is not None:
        yield float(timeout), None


def escalate(task: dict[str, Any] | None, step: dict[str, Any]) -> dict[str, Any] | None:
    """The task reassigned to the step's group and/or user; an escalation drops the current claim."""
    if task is None:
        return None
    return {**task, "group": step.get("group") or task["group"], "user": step.get("user") or "",
            "escalationLevel": task["escalationLevel"] + 1}
