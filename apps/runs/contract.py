"""The run contract: statuses, names and payloads shared by the workflow, its activities and the API.

Its one home: apps.runs (models, services, runtime) and worker both import it; no Django imports here.

Deliberately without `from __future__ import annotations`: the SDK resolves these dataclasses' field types on
every payload conversion, and string annotations would be eval()'d, i.e. compiled, each time.
"""

from dataclasses import dataclass, field
from typing import Any

RUN_STATUSES = ("CREATED", "RUNNING", "WAITING", "COMPLETED", "FAILED", "TERMINATED", "DELEGATED", "SCHEDULER_WAITING",
                "ASYNC_COMPLETE", "QUEUED")
RUN_MODES = ("SYNC", "ASYNC")
STABLE_STATUSES = frozenset(
    {"WAITING", "SCHEDULER_WAITING", "DELEGATED", "ASYNC_COMPLETE", "COMPLETED", "FAILED", "TERMINATED"}
)
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED"})
# Stable but not final: the run waits for a resume, an event or a timer.
WAITING_STATUSES = frozenset({"WAITING", "DELEGATED", "ASYNC_COMPLETE"})

WORKFLOW_NAME = "DriftWorkflow"
MAP_BATCH_WORKFLOW = "DriftMapBatch"  # runs one batch of a MAP state's items as child runs (worker/workflows.py)
# A MAP's batches hand their free concurrency slots down the chain (worker/workflows.py, DriftMapBatch):
SIGNAL_MAP_READY = "map_ready"  # a batch tells its predecessor it exists and takes slots
SIGNAL_MAP_SLOTS = "map_slots"  # a batch gives its successor free slots (count)
UPDATE_WAIT_STABLE = "wait_stable"
UPDATE_RESUME = "resume"
UPDATE_TERMINATE = "terminate"
UPDATE_DISCONNECTED = "execute_disconnected"
SIGNAL_EVENT = "event"
SIGNAL_ADMITTED = "admitted"  # a schedule's fire held QUEUED by its workflow's limits may start (spec §13)
QUERY_STATE = "state"

ACTIVITY_START_RUN = "start_run"
ACTIVITY_EXECUTE_NODE = "execute_node"
ACTIVITY_PERSIST_RUN = "persist_run"
ACTIVITY_EXECUTE_SEGMENT = "execute_segment"  # consecutive pure nodes in one local activity (worker/kinds/segment.py)
# The failure type of a persist that can never succeed (the state holds data the stores refuse).
UNPERSISTABLE = "Unpersistable"


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
    test: dict[str, Any] | None = None  # a test case (spec §9): the run is a test run (worker/test_mode.py)
    # Redrive (spec §10): begin at this node with this context instead of the start node and a fresh one.
    start_node: str = ""
    redrive_context: dict[str, Any] | None = None
    redrive_of: str = ""
    # A CHILD run whose start parts are too large to travel inline: where its parent's context store holds them
    # ({"workflowId", "seq", "keys", "sealed"}); start_run reads them (see apps.runs.services.run_begin).
    start_from: dict[str, Any] | None = None
    # Rerun/redrive: the `sensitivePaths` of the run it repeats, sealed beside the version's own (a version without
    # them never gets those values in clear).
    sensitive_paths: list[str] = field(default_factory=list)
    # The API resolved and pinned the definition and wrote the Run row RUNNING (apps/runs/runtime.py):
    # {"definition", "key", "version", "limits"}, what start_run would answer, so the run needs no start_run.
    pinned: dict[str, Any] | None = None
    # Started straight by Temporal (a schedule's fire): no caller admitted it, so start_run does (spec §13); over
    # the limits it waits QUEUED for the release's SIGNAL_ADMITTED (apps/runs/admission.py).
    admit: bool = False


# The parent's context parts a CHILD run starts with (beside its mapped `params`).
CHILD_START_KEYS = ("issueDetail", "customer", "orderDetails")


def initial_context(inp: RunInput, workflow_id: str) -> dict[str, Any]:
    """`_global` at start: the start request's parts plus the original Drift's run identity (spec §7)."""
    start = inp.start
    context = {
        "workflowId": workflow_id,
        "incidentId": inp.incident_id or None,
        "params": dict(start.get("params") or {}),
        # The caller's entries (e.g. perfFlag) plus who is calling, which the caller cannot override.
        "threadContext": {**(start.get("threadContext") or {}), "clientId": inp.client_id, "tenant": inp.tenant,
                          "userId": inp.username or inp.client_id},
        "issueDetail": start.get("issueDetail") or {},
        "customer": start.get("customer") or {},
        # An array (the original's set of order details) or an object, kept as sent (even empty).
        "orderDetails": start["orderDetails"] if start.get("orderDetails") is not None else {},
        "config": start.get("config") or {},
    }
    for optional in ("queueDetail", "parentWorkflowId"):
        if start.get(optional) is not None:
            context[optional] = start[optional]
    if inp.parent_workflow_id:  # a CHILD node's run: the parent that started it
        context["parentWorkflowId"] = inp.parent_workflow_id
    return context


def map_item_run_id(prefix: str, index: int) -> str:
    """The run id of a MAP's item: <prefix>.<index in the whole list> (the prefix: map_state.item_run_prefix)."""
    return f"{prefix}.{index}"


@dataclass
class Carry:
    """The run state handed over by continue-as-new (`RunInput.carry`, a plain dict on the wire: histories keep
    the shape they always had). `parallel`: the progress of the PARALLEL state at `node_name`, to resume there
    (see worker/kinds/parallel.py); test runs start with a carry too (apps/trials/runner.py)."""

    definition: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    version: int | None = None
    limits: dict[str, int] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    node_name: str | None = None
    executed: int = 0
    recorded: int = 0
    seq: int = 0
    stable_seq: int = 0
    status: str = "RUNNING"
    current_node: str = ""
    view: dict[str, Any] | None = None
    disposition: str | None = None
    error: str | None = None
    events: dict[str, Any] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # not yet persisted
    parallel: dict[str, Any] | None = None
    # Executions so far per state, counted for HTTP nodes with `idempotencyKey` only (their key's ordinal).
    visits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fields_of(cls, carry: dict[str, Any] | None, workflow_key: str | None) -> dict[str, Any]:
        """The carry's fields from the wire dict (absent or null parts take their defaults)."""
        carry = carry or {}
        fresh = cls()
        values = {name: carry[name] if carry.get(name) is not None else getattr(fresh, name)
                  for name in cls.__dataclass_fields__}
        return {**values, "key": carry.get("key") or workflow_key or ""}

    def to_wire(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in Carry.__dataclass_fields__}


@dataclass
class MapBatch:
    """One batch of a MAP state's items: each runs the iterator workflow as a child run."""

    tenant: str
    parent_workflow_id: str
    child_prefix: str  # child run ids: <prefix>.<item index> (the prefix holds a replay-safe nonce)
    iterator: dict[str, Any]
    items: list[Any]
    offset: int  # the index of items[0] in the whole list
    max_concurrency: int
    depth: int
    client_id: str = ""
    username: str = ""
    incident_id: str = ""
    slots: int = 0  # the concurrency slots it holds at start (the first batch: all of maxConcurrency)
    predecessor: str = ""  # the batch before it in the chain (it hands slots down), "" for the first
    successor: str = ""  # the batch after it, "" for the last

    def item_id(self, position: int) -> str:
        return map_item_run_id(self.child_prefix, self.offset + position)

    def item_input(self, position: int) -> RunInput:
        """The run of items[position]: the iterator workflow with `params.item` and `params.index`."""
        iterator = self.iterator
        return RunInput(
            tenant=self.tenant, workflow_key=iterator["workflowId"], version=str(iterator.get("version") or "ACTIVE"),
            start={"params": {"item": self.items[position], "index": self.offset + position}}, mode="SYNC",
            client_id=self.client_id, username=self.username, incident_id=self.incident_id,
            parent_workflow_id=self.parent_workflow_id, depth=self.depth,
        )


@dataclass
class NodeRequest:
    """One node execution handed to the execute_node activity.

    A remote node's request is recorded in the run's Temporal history, so a large context travels by
    reference: `context` is None and the activity loads the context stored at `context_seq` (or newer)
    from the context store, with `parameters` as its `nodeParameters` (worker/workflows.py, `_by_reference`).
    """

    tenant: str
    workflow_id: str
    node: dict[str, Any]
    instance: dict[str, Any]
    context: dict[str, Any] | None
    mock: dict[str, Any] | None = None  # test runs: the HTTP response to use instead of calling out
    test: bool = False  # a test run's node: not counted in metrics
    sensitive_paths: list[str] = field(default_factory=list)  # the definition's `sensitivePaths`
    context_seq: int = 0  # by reference: the seq of the context store write holding the node's context
    parameters: dict[str, Any] | None = None  # by reference: the node's own `nodeParameters`
    ordinal: int = 0  # `idempotencyKey` nodes: the how-manieth execution of the state in this run (1-based)
    # A local node's activity stores this state change before its node runs: the run's deferred RUNNING persist
    # (worker/engine.py, `Engine.running`), which thereby costs no local activity of its own.
    persist: "PersistRequest | None" = None


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
    task: dict[str, Any] | None = None  # the human task of a WAITING screen with an assignment (spec §11)
    sensitive_paths: list[str] = field(default_factory=list)  # sealed in the context store, masked elsewhere


@dataclass
class RunEnd:
    """What a segment's activity needs, besides its own nodes' results, to store the run's end when its nodes lead
    there (engine level 4, worker/run_end.py): the run's fields as the workflow holds them when it sends the
    segment, the seq reserved for the end, and the terminal states the workflow would settle right after it."""

    seq: int
    recorded: int  # the timeline rows recorded so far (each row's seq)
    timeline: list[dict[str, Any]] = field(default_factory=list)  # rows not stored yet
    task: dict[str, Any] | None = None
    error: str | None = None
    view: dict[str, Any] | None = None
    disposition: str | None = None
    incident_id: str | None = None
    key: str = ""
    version: int | None = None
    settled: dict[str, dict[str, Any]] = field(default_factory=dict)  # next to the segment: SUCCESS, a fixed FAILURE
    # Whether the run's end may be COMPLETED/FAILED too, not only a screen's WAITING: a segment awaited whole (not
    # given up for a terminate, so never stored after one), i.e. one that a remote node does not lead.
    terminal: bool = True


@dataclass
class SegmentRequest:
    """Consecutive pure nodes run in one local activity (worker/kinds/segment.py): from `start`, while the next
    state is one of `states` and at most `budget` nodes; the first may be a short remote node (engine level 3).
    Not recorded in history (a local activity's input)."""

    tenant: str
    workflow_id: str
    states: dict[str, dict[str, Any]]
    start: str
    context: dict[str, Any]
    budget: int
    sensitive_paths: list[str] = field(default_factory=list)
    persist: PersistRequest | None = None  # as NodeRequest.persist: stored before the segment's first node runs
    ordinal: int = 0  # as NodeRequest.ordinal, for the first node (a remote one may lead: engine level 3)
    end: RunEnd | None = None  # engine level 4: store the run's end too when the nodes lead there
