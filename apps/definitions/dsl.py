"""Typed validation of DSL documents: every problem, each with a JSON path. No database access here:
referenced node definitions come through the `NodeLookup` the caller passes in."""

import re
from collections.abc import Callable

from apps.definitions import parallel
from apps.definitions.case_validation import validate_tests
from apps.definitions.graph import state_targets
from apps.definitions.state_types import STATE_TYPES, state_type_of
from apps.definitions.versions import LATEST, parse_version, version_problem
from apps.nodes import registry
from core.problems import Problem

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")
# Path segments of the definition API that an id would shadow.
RESERVED_KEYS = frozenset({"validate", "treeView"})

# (resourceId, version spec) -> the node definition body, or None when it does not exist.
NodeLookup = Callable[[str, str | int], dict | None]
# (workflow id, version spec) -> the workflow definition body, or None (same contract, for CHILD targets).
WorkflowLookup = NodeLookup


def warning(path: str, text: str) -> Problem:
    return Problem(path, text, severity="warning")


def errors_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity != "warning"]


def warnings_of(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


def key_problems(body: object) -> list[Problem]:
    """Problems with the document's `id` (shared by node and workflow documents)."""
    if not isinstance(body, dict):
        return [Problem("$", "must be a JSON object")]
    key = body.get("id")
    if not isinstance(key, str) or not key:
        return [Problem("$.id", "is required and must be a non-empty string")]
    if not KEY_PATTERN.match(key):
        return [Problem("$.id", "may contain only letters, digits, '_', '.', '-' (at most 200)")]
    if key in RESERVED_KEYS:
        return [Problem("$.id", f"'{key}' is reserved")]
    return []


def validate_node(body: object) -> list[Problem]:
    problems = key_problems(body)
    if isinstance(body, dict):
        # The registry checks `id` too; report it once.
        id_reported = any(p.path == "$.id" for p in problems)
        problems += [p for p in registry.validate_node_definition(body, "$") if not (id_reported and p.path == "$.id")]
    return problems


def validate_workflow(body: object, lookup: NodeLookup, workflow_lookup: WorkflowLookup | None = None) -> list[Problem]:
    problems = key_problems(body)
    if not isinstance(body, dict):
        return problems
    states = body.get("states")
    if not isinstance(states, dict) or not states:
        return problems + [Problem("$.states", "is required and must be a non-empty object")]
    nodes: dict[str, dict | None] = {}
    for name, state in states.items():
        node, state_problems = _check_state(name, state, lookup)
        nodes[name] = node
        problems += state_problems
    problems += _check_targets(body, states, nodes)
    problems += parallel.branch_problems(body, states, nodes, lambda name: successors(states, nodes, name))
    problems += _cycle_warnings(states, nodes)
    problems += validate_tests(body.get("tests"), {name: (node or {}).get("type") for name, node in nodes.items()})
    if workflow_lookup is not None:
        problems += _child_parameter_warnings(states, nodes, workflow_lookup)
    return problems + _check_sensitive_paths(body.get("sensitivePaths")) + limits_problems(body.get("limits"))


LIMIT_OVERFLOWS = ("QUEUE", "REJECT")
MAX_CONCURRENT_RUNS = 100_000
MAX_STARTS_PER_MINUTE = 100_000
# The counts a `limits` object may set (at least one), with their largest value.
LIMIT_COUNTS = {"maxConcurrentRuns": MAX_CONCURRENT_RUNS, "startsPerMinute": MAX_STARTS_PER_MINUTE}


def limits_problems(limits: object, path: str = "$.limits") -> list[Problem]:
    """`limits`: how many runs of the workflow may be open at once and/or start in any 60 s, and what a start
    over them does (spec §13; enforced by apps/runs/admission.py). Also checks the tenant defaults (admin,
    settings.DRIFT_TENANT_LIMITS)."""
    if limits is None:
        return []
    if not isinstance(limits, dict):
        return [Problem(path, "must be an object {maxConcurrentRuns, startsPerMinute, overflow}")]
    problems = [Problem(f"{path}.{key}", "is not a limit (maxConcurrentRuns, startsPerMinute, overflow)")
                for key in limits if key not in (*LIMIT_COUNTS, "overflow")]
    if not any(key in limits for key in LIMIT_COUNTS):
        problems.append(Problem(f"{path}.maxConcurrentRuns", "is required unless startsPerMinute is set: an "
                                                             f"integer from 1 to {MAX_CONCURRENT_RUNS}"))
    for key, largest in LIMIT_COUNTS.items():
        # bool is an int in Python, and 5.0 is not a count: only true integers pass.
        if key in limits and (type(limits[key]) is not int or not 1 <= limits[key] <= largest):
            problems.append(Problem(f"{path}.{key}", f"must be an integer from 1 to {largest}"))
    if limits.get("overflow", "QUEUE") not in LIMIT_OVERFLOWS:
        problems.append(Problem(f"{path}.overflow", "must be QUEUE or REJECT"))
    return problems


_SENSITIVE_PATH = re.compile(r"^\$(\.[^.\s]+)+$")
MAX_SENSITIVE_PATHS = 100


def _check_sensitive_paths(paths: object) -> list[Problem]:
    """`sensitivePaths`: `$.`-paths into `_global` whose values are masked and sealed (spec §12)."""
    if paths is None:
        return []
    if not isinstance(paths, list) or len(paths) > MAX_SENSITIVE_PATHS:
        return [Problem("$.sensitivePaths", f"must be a list of at most {MAX_SENSITIVE_PATHS} $.paths")]
    return [Problem(f"$.sensitivePaths[{index}]", "must be a $.path such as $.customer.phone")
            for index, path in enumerate(paths) if not isinstance(path, str) or not _SENSITIVE_PATH.match(path)]


def _child_parameter_warnings(states: dict, nodes: dict[str, dict | None],
                              workflow_lookup: WorkflowLookup) -> list[Problem]:
    """A CHILD run's `params` are exactly the CHILD state's resolved `parameters`: warn when the child's
    states map `$.params.X` from a start input this state does not give."""
    problems = []
    for name, node in nodes.items():
        child_key = node.get("childWorkflowId") if isinstance(node, dict) and node.get("type") == "CHILD" else None
        if not isinstance(child_key, str):
            continue
        version = str(node.get("childWorkflowVersion") or "ACTIVE").strip().upper()
        spec = int(version) if version.isascii() and version.isdigit() else version
        # Not activated yet (the usual order while building a flow): judge by the latest version.
        child = workflow_lookup(child_key, spec) or workflow_lookup(child_key, LATEST)
        given = states[name].get("parameters") if isinstance(states[name].get("parameters"), dict) else {}
        for child_state, param in sorted(_params_read(child)):
            if param not in given:
                problems.append(warning(
                    f"$.states.{name}.parameters",
                    f"child workflow '{child_key}' maps $.params.{param} (state '{child_state}') but this CHILD "
                    f"state's parameters do not give '{param}'; the child's params are this state's parameters"))
    return problems


def _params_read(workflow: dict | None) -> set[tuple[str, str]]:
    """(state, param) for every `$.params.<param>` mapping in a workflow's states."""
    found = set()
    child_states = workflow.get("states") if isinstance(workflow, dict) else None
    for state_name, state in (child_states.items() if isinstance(child_states, dict) else []):
        mapping = state.get("parameters") if isinstance(state, dict) else None
        for source in (mapping.values() if isinstance(mapping, dict) else []):
            if isinstance(source, str) and source.startswith("$.params."):
                found.add((state_name, source.removeprefix("$.params.").split(".")[0]))
    return found


def _check_state(name: str, state: object, lookup: NodeLookup) -> tuple[dict | None, list[Problem]]:
    """The state's node definition (inline or referenced, None if unusable) and the state's problems."""
    path = f"$.states.{name}"
    if not isinstance(state, dict):
        return None, [Problem(path, "must be an object")]
    problems = _check_state_fields(path, name, state)
    if (state_type := state_type_of(state)) is not None:
        return None, problems + state_type.validate(name, state)
    inline = state.get("nodeDefinition")
    if inline is not None:
        node = inline if isinstance(inline, dict) else None
        problems += registry.validate_node_definition(inline, f"{path}.nodeDefinition")
    else:
        node, ref_problems = _referenced_node(path, state, lookup)
        problems += ref_problems
    if node is not None:
        problems += _check_parameters(path, state, node)
    return node, problems


def _check_state_fields(path: str, name: str, state: dict) -> list[Problem]:
    problems = []
    if state.get("instanceName") not in (None, name):
        problems.append(Problem(f"{path}.instanceName", f"must equal the state name '{name}'"))
    if state.get("type", "NODE") not in ("NODE", *STATE_TYPES):
        problems.append(Problem(f"{path}.type", f"unknown state type; one of {', '.join(['NODE', *STATE_TYPES])}"))
    if not isinstance(state.get("end", False), bool):
        problems.append(Problem(f"{path}.end", "must be a boolean"))
    override = state.get("contextOverrideKey")
    if override is not None and (not isinstance(override, str) or not override):
        problems.append(Problem(f"{path}.contextOverrideKey", "must be null or a non-empty string"))
    return problems


def _referenced_node(path: str, state: dict, lookup: NodeLookup) -> tuple[dict | None, list[Problem]]:
    resource_id = state.get("resourceId")
    if not isinstance(resource_id, str) or not resource_id:
        return None, [Problem(f"{path}.resourceId", "is required when no inline nodeDefinition is given")]
    problem = version_problem(state.get("resourceVersion"), path=f"{path}.resourceVersion")
    if problem:
        return None, [problem]
    version = parse_version(state.get("resourceVersion"), path=f"{path}.resourceVersion", default=LATEST)
    node = lookup(resource_id, version)
    if node is None:
        message = f"node definition '{resource_id}' version {version} does not exist"
        return None, [Problem(f"{path}.resourceId", message)]
    return node, []


def _check_parameters(path: str, state: dict, node: dict) -> list[Problem]:
    mapped = state.get("parameters")
    if mapped is None:
        mapped = {}
    if not isinstance(mapped, dict):
        return [Problem(f"{path}.parameters", "must be an object mapping parameter names to values")]
    expected = node.get("parameters") or []
    if not isinstance(expected, list):
        return []  # the node definition's own validation reports this
    return [
        Problem(f"{path}.parameters.{name}", f"the node expects parameter '{name}' but the state does not map it")
        for name in expected
        if isinstance(name, str) and name not in mapped
    ]


def _check_targets(body: dict, states: dict, nodes: dict[str, dict | None]) -> list[Problem]:
    problems = []

    def check(path: str, target: object, required: bool = False) -> None:
        if target is None and not required:
            return
        if not isinstance(target, str) or target not in states:
            problems.append(Problem(path, f"unknown state {target!r}"))

    check("$.startNode", body.get("startNode"), required=True)
    check("$.defaultFailureNode", body.get("defaultFailureNode"))
    post = body.get("postWorkflowCompletionNodes")
    if post is not None and not isinstance(post, list):
        problems.append(Problem("$.postWorkflowCompletionNodes", "must be a list of state names"))
    for index, target in enumerate(post if isinstance(post, list) else []):
        check(f"$.postWorkflowCompletionNodes[{index}]", target, required=True)
        # After completion a run only notifies or records: its node types say which may.
        node_type = registry.type_of(nodes.get(target)) if isinstance(target, str) else None
        target_state = states.get(target) if isinstance(target, str) else None
        control = target_state.get("type") if isinstance(target_state, dict) else None
        kind = node_type.name if node_type and not node_type.after_completion else \
            control if control in STATE_TYPES else None
        if kind:
            problems.append(Problem(f"$.postWorkflowCompletionNodes[{index}]",
                                    f"a {kind} {'node' if node_type else 'state'} cannot run after completion; use "
                                    f"{' or '.join(registry.types_where('after_completion'))}"))
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        check(f"$.states.{name}.nextNode", state.get("nextNode"))
        for index, _, start in state_type.branches(state) if (state_type := state_type_of(state)) else []:
            if isinstance(start, str):  # else reported by the state type's validate
                check(f"$.states.{name}.branches[{index}].startNode", start)
        inline = isinstance(state.get("nodeDefinition"), dict)
        for edge in registry.edges_of(nodes[name]):
            if inline:
                check(f"$.states.{name}.nodeDefinition.{edge.path}", edge.target)
            elif edge.target is not None and (not isinstance(edge.target, str) or edge.target not in states):
                problems.append(Problem(f"$.states.{name}.resourceId",
                                        f"branch {edge.path} of node definition '{state.get('resourceId')}' "
                                        f"targets unknown state {edge.target!r}"))
    return problems


def successors(states: dict, nodes: dict[str, dict | None], name: str) -> list[str]:
    state = states[name]
    if not isinstance(state, dict):
        return []
    # graph.state_targets reads the inline nodeDefinition; give it the referenced one too.
    return [t for t in state_targets({**state, "nodeDefinition": nodes.get(name)}) if t in states]


def _is_exit(state: object, node: dict | None) -> bool:
    node_type = registry.type_of(node)
    return (isinstance(state, dict) and state.get("end") is True) or bool(node_type and node_type.terminal)


def _cycle_warnings(states: dict, nodes: dict[str, dict | None]) -> list[Problem]:
    """A cycle (strongly connected component) no edge leaves and with no terminal state runs forever."""
    graph = {name: successors(states, nodes, name) for name in states}
    problems = []
    for component in strongly_connected(graph):
        members = set(component)
        is_cycle = len(component) > 1 or component[0] in graph[component[0]]
        if not is_cycle or any(_is_exit(states[m], nodes[m]) for m in component):
            continue
        if all(target in members for m in component for target in graph[m]):
            loop = " -> ".join(sorted(component))
            problems.append(warning(f"$.states.{min(component)}", f"cycle with no exit: {loop}"))
    return problems


def strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (deep graphs must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if child < len(graph[node]):
                work.append((node, child + 1))
                target = graph[node][child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result
