"""Plain data shared by the workflow, its activities and the API (no Django imports).

Deliberately without `from __future__ import annotations`: the SDK resolves these dataclasses' field types on
every payload conversion, and string annotations would be eval()'d, i.e. compiled, each time.
"""

from dataclasses import dataclass, field
from typing import Any

STABLE_STATUSES = frozenset(
    {"WAITING", "SCHEDULER_WAITING", "DELEGATED", "ASYNC_COMPLETE", "COMPLETED", "FAILED", "TERMINATED"}
)
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED"})

WORKFLOW_NAME = "DriftWorkflow"
UPDATE_WAIT_STABLE = "wait_stable"
UPDATE_RESUME = "resume"
UPDATE_TERMINATE = "terminate"
UPDATE_DISCONNECTED = "execute_disconnected"
SIGNAL_EVENT = "event"
QUERY_STATE = "state"

ACTIVITY_START_RUN = "start_run"
ACTIVITY_EXECUTE_NODE = "execute_node"
ACTIVITY_PERSIST_RUN = "persist_run"


@dataclass
class RunInput:
    """What a run starts with; `carry` holds the state handed over by continue-as-new."""

    tenant: str
    workflow_key: str | None = None
    version: str | None = None
    issue_id: str | None = None
    bucket_key: str = ""
    start: dict[str, Any] = field(default_factory=dict)
    mode: str = "SYNC"
    callback_url: str = ""
    client_id: str = ""
    username: str = ""
    incident_id: str = ""
    parent_workflow_id: str = ""
    depth: int = 0
    carry: dict[str, Any] | None = None
    # Redrive (spec §10): begin at this node with this context instead of the start node and a fresh one.
    start_node: str = ""
    initial_context: dict[str, Any] | None = None
    redrive_of: str = ""


@dataclass
class NodeRequest:
    """One node execution handed to the execute_node activity."""

    tenant: str
    workflow_id: str
    node: dict[str, Any]
    instance: dict[str, Any]
    context: dict[str, Any]


@dataclass
class PersistRequest:
    """A state change: the context store write, the Run mirror update, timeline rows, webhooks."""

    workflow_id: str
    seq: int
    status: str
    current_node: str
    context: dict[str, Any]
    response: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    notify: bool = False
    tenant: str = ""
