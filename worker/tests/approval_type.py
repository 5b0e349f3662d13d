"""APPROVAL, a test-only node type that suspends the run until resumed (the "suspends" family): one module.

`{"type": "APPROVAL", "question": "Refund {{params.amount}}?"}` shows a View with an approve/reject choice and
the run waits for a resume (the screen kind, worker/kinds/screen.py, keyed by the outcome's `view`); the answer
lands at `<key>:viewResponse`. What test mode and from_run need, the type declares: its outcome's `view` takes
the case's resumes, and `as_case` turns a finished run's answer back into a resume."""

from __future__ import annotations

from apps.nodes import checks
from apps.nodes.base import CasePart, Execution, NodeType, Style
from apps.nodes.scope import ScriptScope
from apps.nodes.types.instruction import render_templates
from core.problems import Problem

CHOICES = [{"displayValue": "Approve", "value": "APPROVE"}, {"displayValue": "Reject", "value": "REJECT"}]


def validate(node: dict, path: str) -> list[Problem]:
    return checks.string(node, "question", path, required=True)


def execute(node: dict, instance: dict, scope: ScriptScope) -> dict:
    view = {"layoutId": "approval", "question": render_templates(node["question"], scope),
            "inputOptions": [{"id": "decision", "possibleValues": CHOICES}]}
    return {"output": None, "view": view, "disposition": None, "workflowStatus": None, "assignment": None}


def as_case(execution: Execution) -> CasePart:
    answer = execution.context.get(f"{execution.key}:viewResponse")
    return CasePart(resume=answer) if isinstance(answer, dict) else CasePart()


NODE_TYPE = NodeType("APPROVAL", validate, execute, in_branch=False, as_case=as_case,
                     style=Style("octagon", "#fff3e0"))
