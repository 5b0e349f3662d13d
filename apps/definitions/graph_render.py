"""Pictures of workflow definitions: DOT text built from apps.definitions.graph, drawn by Graphviz's `dot`.

Node ids in the DOT text are generated (`n0`, `n1`, ...); user-provided names only ever appear inside
quoted, escaped label strings, so no instance name, node type or rule can change the graph's structure.

Bounded (issue 8.8: a 360 KB definition held an API thread 15 s): a workflow with more than
DRIFT_GRAPH_MAX_STATES states or a DOT text over DRIFT_GRAPH_MAX_DOT_BYTES is refused (GraphTooLarge), `dot`
is killed after DRIFT_GRAPH_TIMEOUT_SECONDS, at most DRIFT_GRAPH_MAX_CONCURRENT renders run at once (more
answer "busy"), and pictures are cached by the hash of their DOT text (same text, same picture: no invalidation).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import threading
from typing import Any

from django.conf import settings
from django.core.cache import cache

from apps.definitions import graph
from apps.definitions.state_types import state_type_of
from apps.nodes.base import Style
from apps.nodes.registry import edges_of, type_of

FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
CACHE_SECONDS = 24 * 3600
MAX_LABEL = 60
PATH_COLOR = "#1565c0"

UNKNOWN_STYLE = Style()  # an unknown type or a missing node definition; each type names its own style
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class GraphRenderError(Exception):
    """Graphviz is missing, timed out, failed or is busy."""


class GraphTooLarge(GraphRenderError):
    """The workflow is too large to draw within the configured bounds."""


_renders: threading.BoundedSemaphore | None = None
_renders_lock = threading.Lock()


def _render_slots() -> threading.BoundedSemaphore:
    global _renders
    with _renders_lock:
        if _renders is None:
            _renders = threading.BoundedSemaphore(max(1, settings.DRIFT_GRAPH_MAX_CONCURRENT))
        return _renders


def dot_quote(text: object, limit: int = MAX_LABEL) -> str:
    """`text` as a DOT double-quoted string: escape sequences, quotes and line breaks are neutralised."""
    value = _CONTROL.sub("", str(text))
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{value}"'


def _state_type(state: dict[str, Any]) -> str:
    node = state.get("nodeDefinition")
    if (state_type := state_type_of(state)) is not None:
        return state_type.label(state)
    if isinstance(node, dict) and isinstance(node.get("type"), str):
        return node["type"]
    return "?"


def labelled_edges(definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, label) for every edge of `graph.edges`, labelled as the node type labels its edges."""
    states = definition.get("states") if isinstance(definition.get("states"), dict) else {}
    out: list[tuple[str, str, str]] = []
    for source, targets in graph.edges(definition).items():
        labels: dict[str, list[str]] = {}
        state = states[source]
        for edge in edges_of(state.get("nodeDefinition")):
            if isinstance(edge.target, str) and edge.label:
                labels.setdefault(edge.target, []).append(edge.label)
        for _, branch, start in state_type.branches(state) if (state_type := state_type_of(state)) else []:
            if isinstance(start, str):
                labels.setdefault(start, []).append(f"branch {branch}")
        seen: set[str] = set()
        for target in targets:
            if target in seen:
                continue
            seen.add(target)
            out.append((source, target, ", ".join(labels.get(target, []))))
    return out


def workflow_dot(definition: dict[str, Any], *, path: list[str] | None = None, title: str | None = None) -> str:
    """DOT text for a workflow definition whose states carry `nodeDefinition` inlined (where known).
    `path`: executed instances in order; they and the edges between them are highlighted."""
    states = {k: v for k, v in (definition.get("states") or {}).items() if isinstance(v, dict)}
    names = list(states)
    path = [name for name in (path or []) if name in states]
    ids: dict[str, str] = {name: f"n{index}" for index, name in enumerate(names)}
    disconnected = graph.disconnected(definition)
    start = definition.get("startNode")
    failure = definition.get("defaultFailureNode")
    post = set(definition.get("postWorkflowCompletionNodes") or [])
    steps: dict[str, list[int]] = {}
    for number, name in enumerate(path, start=1):
        steps.setdefault(name, []).append(number)

    lines = [
        "digraph workflow {",
        '  graph [rankdir=TB, charset="UTF-8", fontname="DejaVu Sans", fontsize=11, nodesep=0.4, ranksep=0.5'
        + (f", label={dot_quote(title, 120)}, labelloc=t" if title else "") + "];",
        '  node [fontname="DejaVu Sans", fontsize=10, style=filled, penwidth=1];',
        '  edge [fontname="DejaVu Sans", fontsize=9, color="#616161"];',
    ]
    if isinstance(start, str) and start in states:
        start_style = f', color="{PATH_COLOR}", penwidth=2.5' if path and path[0] == start else ""
        lines.append('  start [label="start", shape=circle, fillcolor="#424242", fontcolor=white, width=0.5, '
                     'fixedsize=true];')
        lines.append(f"  start -> {ids[start]} [arrowsize=0.8{start_style}];")
    for name in names:
        node_type = _state_type(states[name])
        known = type_of(states[name].get("nodeDefinition"))
        control = state_type.style if (state_type := state_type_of(states[name])) else None
        drawn = control or (known.style if known else UNKNOWN_STYLE)
        shape, fill, style = drawn.shape, drawn.fill, drawn.extra
        styles = ["filled"] + ([style] if style else [])
        label = f"{dot_quote(name)[1:-1]}\\n{dot_quote(node_type, 30)[1:-1]}"
        notes = []
        if name == start:
            notes.append("start")
        if name == failure:
            notes.append("on error")
        if name in post:
            notes.append("post-completion")
        if name in disconnected:
            notes.append("disconnected")
            styles.append("dashed")
        if notes:
            label += f"\\n({', '.join(notes)})"
        attrs = [f'label="{label}"', f"shape={shape}", f'fillcolor="{fill}"']
        if name in steps:
            styles.append("bold")
            attrs += [f'color="{PATH_COLOR}"', "penwidth=3", f'fontcolor="{PATH_COLOR}"']
            attrs.append(f"xlabel={dot_quote('step ' + ','.join(map(str, steps[name])), 40)}")
        elif name in disconnected:
            attrs.append('color="#9e9e9e"')
        if name == start:
            attrs.append("peripheries=2")
        attrs.append(f'style="{",".join(styles)}"')
        lines.append(f"  {ids[name]} [{', '.join(attrs)}];")

    traversed = set(zip(path, path[1:], strict=False))
    drawn: set[tuple[str, str]] = set()
    for source, target, label in labelled_edges(definition):
        if target not in states:
            continue  # validation reports unknown targets; the picture leaves them out
        attrs = [f"label={dot_quote(label, 30)}"] if label else []
        if (source, target) in traversed:
            attrs += [f'color="{PATH_COLOR}"', "penwidth=3"]
        drawn.add((source, target))
        lines.append(f"  {ids[source]} -> {ids[target]}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    for source, target in sorted(traversed - drawn):
        # a move no edge describes: a jump to the failure node, or post-completion nodes
        lines.append(f'  {ids[source]} -> {ids[target]} [style=dashed, color="{PATH_COLOR}", penwidth=2];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_dot(dot: str, fmt: str = "png", *, timeout: float | None = None) -> bytes:
    """The picture of `dot`, from the cache or drawn by Graphviz within the configured bounds."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    size = len(dot.encode())
    if size > settings.DRIFT_GRAPH_MAX_DOT_BYTES:
        raise GraphTooLarge(f"The graph's description is {size} bytes, over the limit of "
                            f"{settings.DRIFT_GRAPH_MAX_DOT_BYTES} (DRIFT_GRAPH_MAX_DOT_BYTES).")
    key = f"graph:{fmt}:{hashlib.sha256(dot.encode()).hexdigest()}"
    picture = cache.get(key)
    if picture is None:
        picture = _draw(dot, fmt, timeout or settings.DRIFT_GRAPH_TIMEOUT_SECONDS)
        cache.set(key, picture, CACHE_SECONDS)
    return picture


def _draw(dot: str, fmt: str, timeout: float) -> bytes:
    binary = shutil.which("dot")
    if binary is None:
        raise GraphRenderError("Graphviz (`dot`) is not installed; run scripts/bootstrap.")
    slots = _render_slots()
    if not slots.acquire(blocking=False):
        raise GraphRenderError("Every graph renderer is busy; retry shortly.")
    try:
        done = subprocess.run([binary, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise GraphRenderError(f"Graphviz took longer than {timeout:g} s.") from exc
    finally:
        slots.release()
    if done.returncode != 0 or not done.stdout:
        raise GraphRenderError(f"Graphviz failed: {done.stderr.decode(errors='replace')[:500]}")
    return done.stdout


def render_workflow(definition: dict[str, Any], fmt: str = "png", *, path: list[str] | None = None,
                    title: str | None = None) -> bytes:
    states = definition.get("states")
    count = len(states) if isinstance(states, dict) else 0
    if count > settings.DRIFT_GRAPH_MAX_STATES:
        raise GraphTooLarge(f"The workflow has {count} states; pictures are drawn up to "
                            f"{settings.DRIFT_GRAPH_MAX_STATES} (DRIFT_GRAPH_MAX_STATES).")
    return render_dot(workflow_dot(definition, path=path, title=title), fmt)


def inline_svg(definition: dict[str, Any], *, path: list[str] | None = None, title: str | None = None) -> str:
    """SVG markup to embed in an HTML page (no XML prolog or doctype). Graphviz XML-escapes every label."""
    svg = render_workflow(definition, "svg", path=path, title=title).decode()
    return svg[svg.index("<svg"):]
