"""The NodeType contract and the node error. Plain Python: workflow code imports it.

A node type's module says everything about the type in its `NODE_TYPE`: how it validates and executes,
whether the worker runs it as a regular (remote, I/O) or a local activity, whether it may run disconnected
or after completion, whether it ends the run, which states it can move to and how graph pictures draw it.
The workflow, the DSL validator, graph.py and graph_render.py ask the type; none of them names a type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from apps.nodes.scope import ScriptScope
    from core.problems import Problem


class NodeError(Exception):
    """A node failed. `retryable` tells the worker whether Temporal may retry the activity."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "retryable": self.retryable}


@dataclass(frozen=True)
class Edge:
    """A state the node itself can move to (besides the state's `nextNode`).
    `path`: where the target sits in the node definition; `label`: the edge's label in graph pictures."""

    path: str
    target: object
    label: str = ""


@dataclass(frozen=True)
class Style:
    """How graph pictures draw the type (Graphviz shape, fill colour, extra style)."""

    shape: str = "box"
    fill: str = "#eeeeee"
    extra: str = ""


def schema_ref(name: str) -> dict:
    """A reference to one of the DSL schema's shared definitions (ValueComponent, Retry, Option, Attribute)."""
    return {"$ref": f"#/$defs/{name}"}


@dataclass(frozen=True)
class Schema:
    """The type's fields as JSON Schema (editor hints, the OpenAPI document; apps/definitions/dsl_schema.py
    assembles them). The Python `validate` stays the authority."""

    description: str
    properties: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()


Validator = Callable[[dict, str], "list[Problem]"]
Executor = Callable[[dict, dict, "ScriptScope"], dict]
# The outcome the workflow may compute itself (pure, deterministic: no I/O, no context), or None when the
# node must run as an activity. Arguments: the node, its instance name, the run's error so far.
Settler = Callable[[dict, str, "str | None"], "dict | None"]


class Call(Protocol):
    """A remote type's traced call: sends the request, or answers from `mock`, a test case's response mock
    `{"status", "body"}`, parsed and transformed as a real response; `trace` (when given) receives the request
    made and the response seen. The worker runs a test run's response mock through it, dry-runs every call."""

    def __call__(self, node: dict, scope: ScriptScope, *, mock: dict | None = None,
                 trace: dict | None = None) -> dict: ...


@dataclass(frozen=True)
class Execution:
    """One execution of a node in a finished run, as apps/trials/from_run.py turns it into a test case."""

    node: dict  # the node definition
    key: str  # the state's context key (`contextOverrideKey` or its name)
    context: dict[str, Any]  # the run's final context
    failed: bool
    error: str


@dataclass(frozen=True)
class CasePart:
    """What one execution gives the test case made from its run: a mock outcome for it, a screen's answer
    (`resume`, a viewResponse) and/or the events it consumed. The test run feeds them back: mocks to the node,
    resumes to the screen kind, events to the wait kind (worker/test_mode.py)."""

    mock: dict[str, Any] | None = None
    resume: dict[str, Any] | None = None
    events: dict[str, Any] = field(default_factory=dict)


def no_edges(node: dict) -> list[Edge]:
    return []


def no_events(node: dict) -> list[str]:
    return []


def output_of_mock(output: Any) -> dict:
    """A test case's mock `{"output"}` as the node's outcome."""
    return {"output": output}


def mock_of_execution(execution: Execution) -> CasePart:
    """A type the case must mock is mocked with what its execution left: its output, or its error."""
    return CasePart(mock={"error": execution.error} if execution.failed else
                    {"output": execution.context.get(execution.key)})


@dataclass(frozen=True)
class NodeType:
    """One node type.

    remote: does I/O, with the node's `retry` and `timeoutSeconds`; the worker runs it as a local activity when
        the timeout is short (DRIFT_LOCAL_NODE_MAX_SECONDS, engine level 3), else as a regular activity (the
        others are CPU-only and always run as local activities).
    terminal: reaching it ends the run (a cycle through it has an exit).
    disconnectable: may run through the disconnected-node endpoint (runtime API).
    after_completion: may be one of `postWorkflowCompletionNodes`.
    must_mock: a test case must give a mock outcome for it (it would call out or start production runs).
    in_branch: may run inside a PARALLEL branch (not a screen: one View per run; not a terminal).
    call: a remote type's traced call (see `Call`): how it runs under a test case's response mock (worker) and in a
        dry-run (apps/trials/dryrun.py); a type with one takes response mocks `{"status", "body"}`.
    settle: see `Settler`; terminal types use it so the workflow ends the run without an activity.
    pure: computes its outcome from the context alone (no I/O), never suspends and writes nothing but its
        output: consecutive pure nodes run as one segment, one local activity (worker/kinds/segment.py).
    closes_segment: computes its outcome from the context alone like a pure type, but what the outcome asks for
        suspends the run (a View, a wait, a child run): it may be the last node of a segment.
    edges: the states the node moves to by itself (BRANCH choices, a screen's timeout...).
    events: the event names the node waits for (the runtime API refuses events no node awaits).
    from_mock: a mock `{"output"}` as the node's outcome (BRANCH takes its `nextNode` from it).
    as_case: what one of its executions in a finished run gives a test case (see `CasePart`); by default a
        `must_mock` type is mocked with its output or error, others give nothing. A type that suspends the run
        (a screen's View, an event wait) gives the resume or the events its test run will need.
    """

    name: str
    validate: Validator
    execute: Executor
    remote: bool = False
    terminal: bool = False
    disconnectable: bool = False
    after_completion: bool = False
    must_mock: bool = False
    call: Call | None = None
    in_branch: bool = True
    settle: Settler | None = None
    pure: bool = False
    closes_segment: bool = False
    edges: Callable[[dict], list[Edge]] = no_edges
    events: Callable[[dict], list[str]] = no_events
    from_mock: Callable[[Any], dict] = output_of_mock
    as_case: Callable[[Execution], CasePart] | None = None
    style: Style = Style()
    schema: Schema | None = None

    @property
    def response_mocks(self) -> bool:
        """A test case may mock it with a response `{"status", "body"}` that its `call` then parses."""
        return self.call is not None

    def case_part(self, execution: Execution) -> CasePart:
        if self.as_case is not None:
            return self.as_case(execution)
        # a type that computes its outcome again in the test run needs nothing from the finished run
        return mock_of_execution(execution) if self.must_mock else CasePart()
