// Drift's visual workflow builder (issue 22), mounted beside the admin's JSON editor. React Flow (@xyflow/react)
// does the canvas, dragging, connecting, zoom and minimap; dagre lays the graph out; doc.js edits the JSON text.
import { Background, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, applyEdgeChanges,
  applyNodeChanges, useReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import "./builder.css";
import { FLOW, NODE_HEIGHT, START, addState, autoLayout, besideMap, connect, disconnect, editNode, graphOf, kindOf,
  lineOf, locate, nodeOf, nodeWidth, parse, positionsOf, removeChoice, removeStates, renameState, savePositions, setAt,
  statesOf } from "./doc.js";

const EDGE_STYLES = {
  next: { stroke: "#4a5568" },
  choice: { stroke: "#b7791f" },
  default: { stroke: "#b7791f", strokeDasharray: "7 4" },
  branch: { stroke: "#6b46c1", strokeWidth: 2 },
  timeout: { stroke: "#c05621", strokeDasharray: "2 3" },
  start: { stroke: "#2f855a", strokeWidth: 2 },
  failure: { stroke: "#c53030", strokeDasharray: "7 3" },
  post: { stroke: "#2b6cb0", strokeDasharray: "2 4" },
  items: { stroke: "#0f766e", strokeDasharray: "5 3", strokeWidth: 2 },
};
const PATH = { stroke: "#1565c0", strokeWidth: 4 }; // a run's (or a test case's) path, as the graphviz picture
const MIN_FIT = 0.5; // "Fit" never zooms out further: a long flow shows its start, readable, instead of a thin line

const csrf = () => (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";

/** A path (executed instances in order) as marks: each state's step numbers and the moves between them. */
function pathMarks(path) {
  if (!Array.isArray(path) || !path.length) return null;
  const steps = new Map();
  path.forEach((name, i) => steps.set(name, [...(steps.get(name) || []), i + 1]));
  const moves = [[START, path[0]], ...path.slice(1).map((name, i) => [path[i], name])];
  return { steps, moves: new Set(moves.map(([a, b]) => `${a}>${b}`)), list: moves };
}

const StateNode = memo(function StateNode({ data }) {
  const width = nodeWidth(data);
  return (
    <div className={`drift-node drift-kind-${data.kind}${data.error ? " drift-has-error" : ""}${data.warning ? " drift-has-warning" : ""}${data.steps ? " drift-visited" : ""}`}
      style={{ width, minHeight: NODE_HEIGHT }} title={data.problems || ""}>
      {data.id !== START && <Handle type="target" position={data.kind === "FLOW" ? Position.Left : Position.Top} id="in"
        isConnectable={!data.readOnly} />}
      {data.steps && <div className="drift-node-steps" data-steps={data.steps.join(",")}>step {data.steps.join(", ")}</div>}
      <div className="drift-node-title">{data.label}</div>
      <div className="drift-node-sub">{data.sub}</div>
      {data.problems && <div className="drift-node-problem">{data.problems}</div>}
      <div className="drift-ports">
        {data.ports.filter((port) => !(data.readOnly && port.id.endsWith(":new"))).map((port) => (
          <div key={port.id} className={`drift-port drift-port-${port.kind}`}>
            <span>{port.label}</span>
            <Handle type="source" position={Position.Bottom} id={port.id} isConnectable={!port.fixed && !data.readOnly} />
          </div>
        ))}
      </div>
    </div>
  );
});
const NODE_TYPES = { state: StateNode };

function Field({ label, value, onCommit, readOnly, name }) {
  // Commits on blur or Enter: one undo step and one validation per field edit, not per key.
  const shown = value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
  return (
    <label className="drift-field">
      <span>{label}</span>
      <input key={shown} defaultValue={shown} readOnly={readOnly} name={name}
        onBlur={(e) => e.target.value !== shown && onCommit(e.target.value)}
        onKeyDown={(e) => e.key === "Enter" && (e.preventDefault(), e.target.blur())} />
    </label>
  );
}

function tryHeadline(report) {
  if (report.ok) return `OK: ${report.type} node ${report.node} (version ${report.version})`;
  if (typeof report.error !== "object") {
    const where = (report.details || []).map((d) => `${d.path}: ${d.problem}`).join("; ");
    return `Refused: ${report.message || "error"}${where ? ` (${where})` : ""}`;
  }
  return `Failed${report.error.line ? ` at script line ${report.error.line}` : ""}: ${report.error.message}`;
}

/** "Try" the selected state's node: the node admin's dry-run (nothing stored), with this state's parameters
 * resolved against the sample context as the engine would. */
function TryPanel({ state, entry, tryUrl, sample }) {
  const [context, setContext] = useState(sample);
  const [result, setResult] = useState(null);
  const run = () => {
    let parsedContext;
    try { parsedContext = JSON.parse(context || "{}"); } catch (error) {
      setResult({ ok: false, status: `Context is not valid JSON: ${error.message}` });
      return;
    }
    setResult({ status: "Running…" });
    fetch(tryUrl.replace("__pk__", entry.pk), {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ version: String(state.resourceVersion ?? "LATEST"), context: parsedContext,
        stateParameters: state.parameters && typeof state.parameters === "object" ? state.parameters : {} }),
    }).then((r) => r.json()).then((report) => setResult({ ok: report.ok === true, status: tryHeadline(report), report }))
      .catch((error) => setResult({ ok: false, status: `Request failed: ${error.message}` }));
  };
  return (
    <div className="drift-try-node" data-builder="try">
      <h4>Try this node</h4>
      {state.nodeDefinition && <div className="drift-note">Tries the stored node {entry.id}, not this state's inline copy.</div>}
      <label className="drift-field"><span>context (<code>_global</code>)</span>
        <textarea rows={5} value={context} onChange={(e) => setContext(e.target.value)} name="try-context" /></label>
      <button type="button" className="button" onClick={run} data-builder="try-run">Try</button>
      {result && <div className={`drift-try-status ${result.ok ? "drift-good" : result.ok === false ? "drift-bad" : ""}`}
        data-builder="try-status">{result.status}</div>}
      {result && result.report && <pre className="drift-readonly" data-builder="try-result">{JSON.stringify(result.report, null, 2)}</pre>}
    </div>
  );
}

function SidePanel({ doc, selected, palette, commit, text, tryUrl, trySample, onRenamed }) {
  if (!doc) return null;
  const edit = (path, value) => commit(setAt(text, path, value));
  const state = selected && selected !== START ? statesOf(doc)[selected] : null;
  if (!state) {
    return (
      <div className="drift-panel" data-panel="workflow">
        <h3>Workflow</h3>
        <Field label="id" name="workflow-id" value={doc.id} onCommit={(v) => edit(["id"], v)} />
        <Field label="comment" value={doc.comment} onCommit={(v) => edit(["comment"], v)} />
        <p className="help">Drag from a port (the dots under a state) to another state to connect; select and press
          Delete to remove; Ctrl+Z / Ctrl+Shift+Z undo and redo.</p>
      </div>
    );
  }
  const at = ["states", selected];
  const node = nodeOf(state, palette);
  const kind = kindOf(state, node);
  const entry = palette.get(state.resourceId);
  const parameters = state.parameters && typeof state.parameters === "object" ? state.parameters : {};
  const expected = (node && Array.isArray(node.parameters)) ? node.parameters : [];
  const rename = (to) => {
    const next = renameState(text, doc, palette, selected, to.trim());
    if (next === text) return;
    commit(next);
    onRenamed(to.trim());
  };
  const choices = kind === "BRANCH" && Array.isArray(node.choices) ? node.choices : [];
  return (
    <div className="drift-panel" data-panel="state">
      <h3>{selected} <small>{kind}</small></h3>
      <Field label="state name (renames every reference)" name="state-name" value={selected} onCommit={rename} />
      {kind === "PARALLEL" && <>
        <label className="drift-field"><span>failurePolicy</span>
          <select value={state.failurePolicy || "FAIL_FAST"} onChange={(e) => edit([...at, "failurePolicy"], e.target.value)}>
            {["FAIL_FAST", "WAIT_ALL", "CONTINUE"].map((p) => <option key={p}>{p}</option>)}
          </select></label>
        {(Array.isArray(state.branches) ? state.branches : []).map((branch, i) => (
          <Field key={i} label={`branch ${i + 1} name`} value={branch && branch.name}
            onCommit={(v) => edit([...at, "branches", i, "name"], v)} />))}
      </>}
      {kind === "MAP" && <>
        <Field label="items" value={state.items} onCommit={(v) => edit([...at, "items"], v.startsWith("$") ? v : JSON.parse(v))} />
        <Field label="iterator workflow" name="iterator-workflow" value={state.iterator && state.iterator.workflowId}
          onCommit={(v) => edit([...at, "iterator", "workflowId"], v)} />
        <Field label="iterator version" value={state.iterator && state.iterator.version}
          onCommit={(v) => edit([...at, "iterator", "version"], v)} />
        <Field label="maxConcurrency" value={state.maxConcurrency} onCommit={(v) => edit([...at, "maxConcurrency"], Number(v))} />
        <Field label="toleratedFailurePercentage" value={state.toleratedFailurePercentage}
          onCommit={(v) => edit([...at, "toleratedFailurePercentage"], v === "" ? undefined : Number(v))} />
      </>}
      {kind === "BRANCH" && <>
        <h4>choices <small>(drag from "+ choice" to add one)</small></h4>
        {choices.map((choice, i) => (
          <div key={`${i}:${choices.length}`} className="drift-choice" data-choice={i}>
            <Field label={`#${i + 1} rule → ${(choice && choice.nextNode) || "?"}`} name={`choice-${i}-rule`}
              value={choice && choice.rule && choice.rule.value ? choice.rule.value.data : ""}
              onCommit={(v) => commit(editNode(text, doc, palette, selected, ["choices", i, "rule", "value", "data"], v))} />
            <button type="button" className="button" data-builder={`remove-choice-${i}`}
              onClick={() => commit(removeChoice(text, doc, palette, selected, i))}>Remove choice #{i + 1}</button>
          </div>))}
      </>}
      {kind !== "PARALLEL" && kind !== "MAP" && <>
        <Field label="resource" value={state.resourceId} onCommit={(v) => edit([...at, "resourceId"], v)} />
        <label className="drift-field"><span>version pin</span>
          <select value={String(state.resourceVersion ?? "LATEST")}
            onChange={(e) => edit([...at, "resourceVersion"], /^\d+$/.test(e.target.value) ? Number(e.target.value) : e.target.value)}>
            {["LATEST", "ACTIVE", ...Array.from({ length: entry?.version || 0 }, (_, i) => String(i + 1)),
              String(state.resourceVersion ?? "LATEST")].filter((v, i, all) => all.indexOf(v) === i).map((v) => <option key={v}>{v}</option>)}
          </select></label>
        <h4>parameters</h4>
        {[...new Set([...expected, ...Object.keys(parameters)])].map((p) => (
          <Field key={p} label={p} value={parameters[p]} onCommit={(v) => edit([...at, "parameters", p], v)} />))}
        {entry && tryUrl && <TryPanel key={selected} state={state} entry={entry} tryUrl={tryUrl} sample={trySample} />}
        {node && <>
          <h4>node definition {state.nodeDefinition ? "(inline copy)" : ""}
            {entry && <a href={entry.url} target="_blank" rel="noreferrer" data-builder="edit-node"> edit</a>}</h4>
          <pre className="drift-readonly">{JSON.stringify(node, null, 2)}</pre>
        </>}
      </>}
    </div>
  );
}

function Builder({ area, getTenant, baseUrl, readOnly = false, path = null, runTestsUrl, tryUrl, trySample }) {
  const [text, setText] = useState(area.value);
  const [palette, setPalette] = useState(new Map());
  const [problems, setProblems] = useState([]);
  const [search, setSearch] = useState("");
  const [selected, setSelected] = useState(null);
  const [rfNodes, setRfNodes] = useState([]);
  const [rfEdges, setRfEdges] = useState([]);
  const lastGood = useRef(null);
  const hadStates = useRef(Object.keys(statesOf(parse(area.value))).length > 0); // an empty flow starts at 1:1
  const undo = useRef([]);
  const redo = useRef([]);
  const blame = useRef(null); // the edge drawn last: problems it caused at its target are shown on it
  const flow = useReactFlow();
  const canvas = useRef(null);
  const fitted = useRef(false);
  const [shownPath, setShownPath] = useState(path); // a run's path (run page) or a test case's (Run tests)
  const [tests, setTests] = useState(null);
  const marks = useMemo(() => pathMarks(shownPath), [shownPath]);

  const parsed = useMemo(() => parse(text), [text]);
  if (parsed) lastGood.current = parsed;
  const doc = lastGood.current;

  const commit = useCallback((next, { record = true } = {}) => {
    if (next === area.value) return;
    if (record) { undo.current.push(area.value); redo.current = []; }
    area.value = next;
    area.dispatchEvent(new Event("input", { bubbles: true }));
    setText(next);
  }, [area]);

  useEffect(() => {
    const sync = () => setText(area.value);
    area.addEventListener("input", sync);
    return () => area.removeEventListener("input", sync);
  }, [area]);

  // The palette: the tenant's published node definitions (server-side tenant check).
  const [tenant, setTenant] = useState(readOnly ? "" : getTenant()); // read-only: nodes inlined, nothing to validate
  useEffect(() => {
    const input = document.getElementById("id_tenant");
    if (!input || readOnly) return undefined;
    const changed = () => setTenant(getTenant());
    input.addEventListener("change", changed);
    input.addEventListener("input", changed);
    return () => { input.removeEventListener("change", changed); input.removeEventListener("input", changed); };
  }, [getTenant, readOnly]);
  useEffect(() => {
    if (!tenant) { setPalette(new Map()); return; }
    fetch(`${baseUrl.replace("__tenant__", encodeURIComponent(tenant))}palette/`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { nodes: [] }))
      .then((body) => setPalette(new Map(body.nodes.map((n) => [n.id, n]))));
  }, [tenant, baseUrl]);

  // Validation as you draw: the save's own validator, one debounced call.
  useEffect(() => {
    if (!tenant || !parsed) return undefined;
    const timer = setTimeout(() => {
      const token = document.querySelector("[name=csrfmiddlewaretoken]");
      fetch(`${baseUrl.replace("__tenant__", encodeURIComponent(tenant))}validate/`, {
        method: "POST", credentials: "same-origin", body: text,
        headers: { "Content-Type": "application/json", "X-CSRFToken": token ? token.value : "" },
      }).then((r) => (r.ok ? r.json() : { problems: [] })).then((body) => {
        if (area.value !== text) return; // stale: a newer edit is on its way
        const rows = body.problems.map((p) => ({ ...p, line: lineOf(text, p.path, parsed), at: locate(p.path, parsed) }));
        setProblems(rows);
        const lines = {};
        for (const row of rows) if (row.line && lines[row.line] !== "error") lines[row.line] = row.severity === "warning" ? "warning" : "error";
        area.dispatchEvent(new CustomEvent("drift:problem-lines", { detail: lines }));
      });
    }, 350);
    return () => clearTimeout(timer);
  }, [text, tenant, baseUrl, parsed, area]);

  const graph = useMemo(() => (doc ? graphOf(doc, palette) : { nodes: [], edges: [] }), [doc, palette]);
  const structure = graph.nodes.map((n) => n.id).join("\n") + "|" + graph.edges.map((e) => `${e.source}>${e.target}`).join("\n");
  const auto = useMemo(() => autoLayout(graph), [structure]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    const stored = positionsOf(doc);
    const problemsAt = new Map();
    for (const p of problems) {
      if (!p.at) continue;
      const key = p.at.handle ? `${p.at.node}|${p.at.handle}` : p.at.node;
      problemsAt.set(key, [...(problemsAt.get(key) || []), p]);
      const last = blame.current;
      if (last && !p.at.handle && p.at.node === last.target && !last.before.has(p.path + p.problem)) {
        problemsAt.set(last.id, [...(problemsAt.get(last.id) || []), p]);
      }
    }
    const describe = (list) => (list || []).map((p) => `${p.severity === "warning" ? "warning" : "error"}: ${p.problem}`).join("; ");
    const placed = Object.fromEntries(graph.nodes.map((n) => [n.id, stored[n.id] || auto[n.id] || { x: 0, y: 0 }]));
    const widths = Object.fromEntries(graph.nodes.map((n) => [n.id, nodeWidth(n)]));
    setRfNodes((previous) => {
      const was = new Map(previous.map((n) => [n.id, n]));
      return graph.nodes.map((node) => {
        const list = problemsAt.get(node.id);
        const flowNode = node.kind === "FLOW";
        return {
          id: node.id, type: "state", position: flowNode ? besideMap(placed[node.of], widths[node.of]) : placed[node.id],
          initialWidth: widths[node.id], initialHeight: NODE_HEIGHT, draggable: !flowNode && !readOnly,
          selectable: !flowNode, selected: was.get(node.id)?.selected || false, deletable: node.id !== START && !flowNode,
          data: { ...node, readOnly, problems: describe(list), error: list?.some((p) => p.severity !== "warning"),
            warning: list?.some((p) => p.severity === "warning"), steps: marks?.steps.get(node.id) },
        };
      });
    });
    setRfEdges((previous) => {
      const was = new Map(previous.map((e) => [e.id, e]));
      const drawn = graph.edges.map((edge) => {
        const list = problemsAt.get(edge.id);
        const bad = list && list.some((p) => p.severity !== "warning");
        const taken = marks?.moves.has(`${edge.source}>${edge.target}`);
        const style = bad ? { stroke: "#e53e3e", strokeWidth: 3 } : taken ? { ...EDGE_STYLES[edge.kind], ...PATH } : EDGE_STYLES[edge.kind];
        return {
          id: edge.id, source: edge.source, target: edge.target, sourceHandle: edge.sourceHandle, targetHandle: "in",
          label: list ? `${edge.label} ⚠ ${describe(list)}` : edge.label, data: edge,
          reconnectable: !readOnly && !edge.fixed, deletable: !edge.fixed,
          className: `drift-edge drift-edge-${edge.kind}${bad ? " drift-edge-error" : ""}${taken ? " drift-edge-path" : ""}`,
          style, labelStyle: bad ? { fill: "#c53030", fontWeight: 600 } : undefined,
          markerEnd: { type: "arrowclosed", color: style.stroke },
          animated: edge.kind === "branch", selected: was.get(edge.id)?.selected || false,
        };
      });
      // Moves no edge describes (a jump to the failure node, post-completion nodes): dashed, as in the picture.
      const described = new Set(graph.edges.map((e) => `${e.source}>${e.target}`));
      const ids = new Set(graph.nodes.map((n) => n.id));
      const jumps = (marks?.list || []).filter(([a, b]) => ids.has(a) && ids.has(b) && !described.has(`${a}>${b}`))
        .filter(([a, b], i, all) => all.findIndex(([c, d]) => c === a && d === b) === i)
        .map(([a, b]) => ({ id: `path|${a}>${b}`, source: a, target: b, sourceHandle: null, targetHandle: "in",
          className: "drift-edge drift-edge-path drift-edge-jump", deletable: false, reconnectable: false,
          style: { ...PATH, strokeDasharray: "6 4" }, markerEnd: { type: "arrowclosed", color: PATH.stroke } }));
      return [...drawn, ...jumps];
    });
  }, [graph, auto, doc, problems, marks, readOnly]);

  const currentPositions = () => Object.fromEntries(flow.getNodes().filter((n) => !n.id.startsWith(FLOW))
    .map((n) => [n.id, n.position]));

  const fit = useCallback(() => {
    const nodes = flow.getNodes();
    const pane = canvas.current && canvas.current.querySelector(".react-flow");
    if (!nodes.length || !pane) return;
    const bounds = flow.getNodesBounds(nodes);
    const { width, height } = pane.getBoundingClientRect();
    const pad = 30;
    const zoom = Math.min(1, (width - 2 * pad) / bounds.width, (height - 2 * pad) / bounds.height);
    if (zoom >= MIN_FIT) { flow.fitView({ maxZoom: 1, padding: 0.08 }); return; }
    // Too big to read at once: the readable zoom, the top (the start) in view, centred when it is narrow enough.
    const x = bounds.width * MIN_FIT <= width - 2 * pad ? (width - bounds.width * MIN_FIT) / 2 : pad;
    flow.setViewport({ x: x - bounds.x * MIN_FIT, y: pad - bounds.y * MIN_FIT, zoom: MIN_FIT });
  }, [flow]);
  useEffect(() => { // once, when a flow that has states is first drawn (an empty one stays at 1:1)
    if (fitted.current || !hadStates.current || rfNodes.length < 2) return;
    fitted.current = true;
    requestAnimationFrame(fit);
  }, [rfNodes, fit]);

  const runTests = () => {
    setTests({ status: "Running the saved SNAPSHOT's test cases…" });
    fetch(runTestsUrl, { method: "POST", credentials: "same-origin", body: new URLSearchParams({ version: "SNAPSHOT" }),
      headers: { Accept: "application/json", "X-CSRFToken": csrf() } })
      .then((r) => r.json()).then((report) => setTests(report))
      .catch((error) => setTests({ status: `Request failed: ${error.message}` }));
  };

  const onNodesChange = useCallback((changes) => {
    setRfNodes((nodes) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), nodes));
    const picked = changes.find((c) => c.type === "select" && c.selected);
    if (picked) setSelected(picked.id);
  }, []);
  const onEdgesChange = useCallback((changes) => setRfEdges((edges) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), edges)), []);

  const draw = (source, handle, target, replacing) => {
    if (!doc) return;
    let next = replacing ? disconnect(text, doc, palette, [replacing]) : text;
    next = connect(next, parse(next) || doc, palette, source, handle, target);
    blame.current = { id: `${source}|${handle}`, target, before: new Set(problems.map((p) => p.path + p.problem)) };
    if (handle === "branch:new") {
      const state = statesOf(parse(next))[source];
      blame.current.id = `${source}|branch:${state.branches.length - 1}`;
    }
    if (handle === "post:new") blame.current.id = `${START}|post:${parse(next).postWorkflowCompletionNodes.length - 1}`;
    commit(next);
  };
  const onConnect = (c) => draw(c.source, c.sourceHandle, c.target);
  const onReconnect = (old, c) => draw(c.source, c.sourceHandle, c.target, old.data);
  const onDelete = ({ nodes, edges }) => {
    if (!doc) return;
    let next = disconnect(text, doc, palette, edges.map((e) => e.data).filter((e) => !nodes.some((n) => n.id === e.source || n.id === e.target)));
    next = removeStates(next, parse(next) || doc, nodes.map((n) => n.id));
    setSelected(null);
    commit(next);
  };
  const onNodeDragStop = () => commit(savePositions(text, currentPositions()));

  const onDrop = (event) => {
    event.preventDefault();
    const raw = event.dataTransfer.getData("application/x-drift-palette");
    if (!raw || !doc) return;
    const item = JSON.parse(raw);
    const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    const added = addState(text, doc, item.node ? { node: palette.get(item.node) } : item);
    const positions = { ...currentPositions(), [added.name]: { x: position.x - 10, y: position.y - 10 } };
    commit(savePositions(added.text, positions));
    setSelected(added.name);
  };

  const layout = () => {
    const laid = autoLayout(graph);
    commit(savePositions(text, Object.fromEntries(Object.entries(laid).filter(([id]) => !id.startsWith(FLOW)))));
    requestAnimationFrame(fit);
  };
  const step = (from, to) => {
    if (!from.current.length) return;
    to.current.push(area.value);
    commit(from.current.pop(), { record: false });
  };
  const onKeyDown = (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.target.tagName === "INPUT") return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey) { event.preventDefault(); step(undo, redo); }
    if ((key === "z" && event.shiftKey) || key === "y") { event.preventDefault(); step(redo, undo); }
  };

  const groups = useMemo(() => {
    const byType = new Map([["Control", [{ control: "PARALLEL", label: "PARALLEL" }, { control: "MAP", label: "MAP" }]]]);
    for (const node of palette.values()) {
      const list = byType.get(node.type) || [];
      list.push({ node: node.id, label: node.id, title: node.name });
      byType.set(node.type, list);
    }
    const needle = search.trim().toLowerCase();
    return [...byType.entries()].map(([type, items]) => [type, items.filter((i) => !needle
      || `${i.label} ${i.title || ""} ${type}`.toLowerCase().includes(needle))]).filter(([, items]) => items.length);
  }, [palette, search]);

  const errors = problems.filter((p) => p.severity !== "warning").length;
  const goToLine = (line) => {
    if (!line) return;
    const lines = area.value.split("\n");
    const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  };

  return (
    <div className="drift-builder-frame" onKeyDown={onKeyDown}>
      <div className="drift-builder-main">
        {!readOnly && <aside className="drift-palette">
          <input type="search" placeholder="Search nodes" value={search} onChange={(e) => setSearch(e.target.value)}
            aria-label="search the palette" />
          {!tenant && <p className="help">Choose the tenant to see its nodes.</p>}
          {groups.map(([type, items]) => (
            <div key={type} className="drift-palette-group"><h4>{type}</h4>
              {items.map((item) => (
                <div key={item.label} className="drift-palette-item" draggable title={item.title || item.label}
                  data-palette={item.node || item.control}
                  onDragStart={(e) => { e.dataTransfer.setData("application/x-drift-palette", JSON.stringify(item)); e.dataTransfer.effectAllowed = "move"; }}>
                  {item.label}
                </div>))}
            </div>))}
        </aside>}
        <div className="drift-canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}
          tabIndex={0} ref={canvas}>
          <div className="drift-toolbar">
            {!readOnly && <button type="button" className="button" onClick={layout} data-builder="layout">Auto layout</button>}
            <button type="button" className="button" onClick={fit} data-builder="fit">Fit</button>
            {!readOnly && <>
              <button type="button" className="button" onClick={() => step(undo, redo)} data-builder="undo">Undo</button>
              <button type="button" className="button" onClick={() => step(redo, undo)} data-builder="redo">Redo</button>
            </>}
            {runTestsUrl && <button type="button" className="button" onClick={runTests} data-builder="run-tests">Run tests</button>}
            {shownPath && <span className="drift-path-legend" data-builder="path">path: {shownPath.length} step(s)
              {!readOnly && <button type="button" className="button" onClick={() => setShownPath(null)}>clear</button>}</span>}
            {!readOnly && <span className={`drift-builder-status ${errors ? "drift-bad" : "drift-good"}`} data-builder="status">
              {!parsed ? "The JSON has a syntax error: the picture shows the last valid document."
                : errors ? `${errors} problem(s)` : problems.length ? `valid (${problems.length} warning(s))` : "valid"}
            </span>}
          </div>
          {tests && <div className="drift-tests" data-builder="tests">
            <div className={tests.status ? "" : tests.passed ? "drift-good" : "drift-bad"} data-builder="tests-summary">
              {tests.status || tests.message || `${tests.passed ? "PASSED" : "FAILED"}: ${tests.cases.length} case(s) of the SNAPSHOT`}
              {tests.url && <> · <a href={tests.url} target="_blank" rel="noreferrer">report</a></>}
              {tests.cases && area.value !== area.defaultValue && <em> (unsaved changes are not tested: save first)</em>}
            </div>
            {(tests.cases || []).map((c, i) => (
              <button type="button" key={i} className={`drift-test-case ${c.passed ? "drift-good" : "drift-bad"}`}
                data-case={c.name} title={c.failure || "show its path"} onClick={() => { setShownPath(c.path); requestAnimationFrame(fit); }}>
                {c.passed ? "✓" : "✗"} {c.name}{c.failure ? `: ${c.failure}` : ""}</button>))}
          </div>}
          <ReactFlow nodes={rfNodes} edges={rfEdges} nodeTypes={NODE_TYPES} onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange} onConnect={onConnect} onReconnect={onReconnect} onDelete={onDelete}
            onNodeDragStop={onNodeDragStop} onPaneClick={() => setSelected(null)}
            deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]} nodesConnectable={!readOnly} edgesReconnectable={!readOnly}
            defaultViewport={{ x: 30, y: 30, zoom: 1 }} minZoom={0.05} onlyRenderVisibleElements={graph.nodes.length > 80}
            proOptions={{ hideAttribution: true }}>
            <Background gap={16} />
            <Controls />
            <MiniMap pannable zoomable position="top-right" />
          </ReactFlow>
        </div>
        {!readOnly && <SidePanel doc={doc} selected={selected} palette={palette} commit={commit} text={text} tryUrl={tryUrl}
          trySample={trySample} onRenamed={setSelected} />}
      </div>
      <ul className="drift-builder-problems" aria-label="builder problems">
        {problems.map((p, i) => (
          <li key={i} className={`drift-${p.severity || "error"}`} onClick={() => goToLine(p.line)}>
            {p.line ? `line ${p.line} · ` : ""}<code>{p.path}</code>: {p.problem}
          </li>))}
      </ul>
    </div>
  );
}

function mount() {
  const root = document.getElementById("drift-builder");
  if (!root) return;
  const readOnly = root.dataset.readonly === "true";
  let area = document.getElementById(root.dataset.document);
  if (readOnly) { // the run page: a stored document, drawn with the run's path; nothing is edited
    area = document.createElement("textarea");
    area.value = JSON.stringify(JSON.parse(document.getElementById(root.dataset.body).textContent), null, 2);
  }
  if (!area) return;
  const fixed = root.dataset.tenant;
  const getTenant = () => fixed || (document.getElementById(root.dataset.tenantInput) || {}).value || "";
  const path = root.dataset.path ? JSON.parse(root.dataset.path) : null;
  const started = performance.now();
  createRoot(root).render(
    <ReactFlowProvider>
      <Builder area={area} getTenant={getTenant} baseUrl={root.dataset.url} readOnly={readOnly} path={path}
        runTestsUrl={root.dataset.runTestsUrl} tryUrl={root.dataset.tryUrl} trySample={root.dataset.trySample || "{}"} />
    </ReactFlowProvider>,
  );
  window.driftBuilder = { started };
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
