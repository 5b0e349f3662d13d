// Drift's visual workflow builder (issue 22), mounted beside the admin's JSON editor. React Flow (@xyflow/react)
// does the canvas, dragging, connecting, zoom and minimap; dagre lays the graph out; doc.js edits the JSON text.
import { Background, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, applyEdgeChanges,
  applyNodeChanges, useReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import "./builder.css";
import { NODE_HEIGHT, START, addState, autoLayout, connect, disconnect, graphOf, kindOf, lineOf, locate, nodeOf,
  nodeWidth, parse, positionsOf, removeStates, savePositions, setAt, statesOf } from "./doc.js";

const EDGE_STYLES = {
  next: { stroke: "#4a5568" },
  choice: { stroke: "#b7791f" },
  default: { stroke: "#b7791f", strokeDasharray: "7 4" },
  branch: { stroke: "#6b46c1", strokeWidth: 2 },
  timeout: { stroke: "#c05621", strokeDasharray: "2 3" },
  start: { stroke: "#2f855a", strokeWidth: 2 },
  failure: { stroke: "#c53030", strokeDasharray: "7 3" },
  post: { stroke: "#2b6cb0", strokeDasharray: "2 4" },
};

const StateNode = memo(function StateNode({ data }) {
  const width = nodeWidth(data);
  return (
    <div className={`drift-node drift-kind-${data.kind}${data.error ? " drift-has-error" : ""}${data.warning ? " drift-has-warning" : ""}`}
      style={{ width, minHeight: NODE_HEIGHT }} title={data.problems || ""}>
      {data.id !== START && <Handle type="target" position={Position.Top} id="in" />}
      <div className="drift-node-title">{data.label}</div>
      <div className="drift-node-sub">{data.sub}</div>
      {data.problems && <div className="drift-node-problem">{data.problems}</div>}
      <div className="drift-ports">
        {data.ports.map((port) => (
          <div key={port.id} className={`drift-port drift-port-${port.kind}`}>
            <span>{port.label}</span>
            <Handle type="source" position={Position.Bottom} id={port.id} />
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

function SidePanel({ doc, selected, palette, commit, text, nodeAdminUrl }) {
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
  const parameters = state.parameters && typeof state.parameters === "object" ? state.parameters : {};
  const expected = (node && Array.isArray(node.parameters)) ? node.parameters : [];
  return (
    <div className="drift-panel" data-panel="state">
      <h3>{selected} <small>{kind}</small></h3>
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
        <Field label="iterator workflow" value={state.iterator && state.iterator.workflowId}
          onCommit={(v) => edit([...at, "iterator", "workflowId"], v)} />
        <Field label="iterator version" value={state.iterator && state.iterator.version}
          onCommit={(v) => edit([...at, "iterator", "version"], v)} />
        <Field label="maxConcurrency" value={state.maxConcurrency} onCommit={(v) => edit([...at, "maxConcurrency"], Number(v))} />
        <Field label="toleratedFailurePercentage" value={state.toleratedFailurePercentage}
          onCommit={(v) => edit([...at, "toleratedFailurePercentage"], v === "" ? undefined : Number(v))} />
      </>}
      {kind !== "PARALLEL" && kind !== "MAP" && <>
        <Field label="resource" value={state.resourceId} onCommit={(v) => edit([...at, "resourceId"], v)} />
        <label className="drift-field"><span>version pin</span>
          <select value={String(state.resourceVersion ?? "LATEST")}
            onChange={(e) => edit([...at, "resourceVersion"], /^\d+$/.test(e.target.value) ? Number(e.target.value) : e.target.value)}>
            {["LATEST", "ACTIVE", ...Array.from({ length: palette.get(state.resourceId)?.version || 0 }, (_, i) => String(i + 1)),
              String(state.resourceVersion ?? "LATEST")].filter((v, i, all) => all.indexOf(v) === i).map((v) => <option key={v}>{v}</option>)}
          </select></label>
        <h4>parameters</h4>
        {[...new Set([...expected, ...Object.keys(parameters)])].map((p) => (
          <Field key={p} label={p} value={parameters[p]} onCommit={(v) => edit([...at, "parameters", p], v)} />))}
        {node && <>
          <h4>node definition {state.nodeDefinition ? "(inline copy)" : ""}
            {state.resourceId && <a href={`${nodeAdminUrl}?q=${encodeURIComponent(state.resourceId)}`} target="_blank" rel="noreferrer"> edit</a>}</h4>
          <pre className="drift-readonly">{JSON.stringify(node, null, 2)}</pre>
        </>}
      </>}
    </div>
  );
}

function Builder({ area, getTenant, baseUrl, nodeAdminUrl }) {
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
  const [tenant, setTenant] = useState(getTenant());
  useEffect(() => {
    const input = document.getElementById("id_tenant");
    if (!input) return undefined;
    const changed = () => setTenant(getTenant());
    input.addEventListener("change", changed);
    input.addEventListener("input", changed);
    return () => { input.removeEventListener("change", changed); input.removeEventListener("input", changed); };
  }, [getTenant]);
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
    const marks = new Map();
    for (const p of problems) {
      if (!p.at) continue;
      const key = p.at.handle ? `${p.at.node}|${p.at.handle}` : p.at.node;
      marks.set(key, [...(marks.get(key) || []), p]);
      const last = blame.current;
      if (last && !p.at.handle && p.at.node === last.target && !last.before.has(p.path + p.problem)) {
        marks.set(last.id, [...(marks.get(last.id) || []), p]);
      }
    }
    const describe = (list) => (list || []).map((p) => `${p.severity === "warning" ? "warning" : "error"}: ${p.problem}`).join("; ");
    setRfNodes((previous) => {
      const was = new Map(previous.map((n) => [n.id, n]));
      return graph.nodes.map((node) => {
        const list = marks.get(node.id);
        return {
          id: node.id, type: "state", position: stored[node.id] || auto[node.id] || { x: 0, y: 0 },
          selected: was.get(node.id)?.selected || false, deletable: node.id !== START,
          data: { ...node, problems: describe(list), error: list?.some((p) => p.severity !== "warning"),
            warning: list?.some((p) => p.severity === "warning") },
        };
      });
    });
    setRfEdges((previous) => {
      const was = new Map(previous.map((e) => [e.id, e]));
      return graph.edges.map((edge) => {
        const list = marks.get(edge.id);
        const bad = list && list.some((p) => p.severity !== "warning");
        return {
          id: edge.id, source: edge.source, target: edge.target, sourceHandle: edge.sourceHandle, targetHandle: "in",
          label: list ? `${edge.label} ⚠ ${describe(list)}` : edge.label, data: edge, reconnectable: true,
          className: `drift-edge drift-edge-${edge.kind}${bad ? " drift-edge-error" : ""}`,
          style: bad ? { stroke: "#e53e3e", strokeWidth: 3 } : EDGE_STYLES[edge.kind],
          labelStyle: bad ? { fill: "#c53030", fontWeight: 600 } : undefined,
          markerEnd: { type: "arrowclosed", color: bad ? "#e53e3e" : EDGE_STYLES[edge.kind].stroke },
          animated: edge.kind === "branch", selected: was.get(edge.id)?.selected || false,
        };
      });
    });
  }, [graph, auto, doc, problems]);

  const currentPositions = () => Object.fromEntries(flow.getNodes().map((n) => [n.id, n.position]));

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

  const layout = () => { commit(savePositions(text, autoLayout(graph))); setTimeout(() => flow.fitView(), 50); };
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
        <aside className="drift-palette">
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
        </aside>
        <div className="drift-canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}
          tabIndex={0}>
          <div className="drift-toolbar">
            <button type="button" className="button" onClick={layout} data-builder="layout">Auto layout</button>
            <button type="button" className="button" onClick={() => flow.fitView()} data-builder="fit">Fit</button>
            <button type="button" className="button" onClick={() => step(undo, redo)} data-builder="undo">Undo</button>
            <button type="button" className="button" onClick={() => step(redo, undo)} data-builder="redo">Redo</button>
            <span className={`drift-builder-status ${errors ? "drift-bad" : "drift-good"}`} data-builder="status">
              {!parsed ? "The JSON has a syntax error: the picture shows the last valid document."
                : errors ? `${errors} problem(s)` : problems.length ? `valid (${problems.length} warning(s))` : "valid"}
            </span>
          </div>
          <ReactFlow nodes={rfNodes} edges={rfEdges} nodeTypes={NODE_TYPES} onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange} onConnect={onConnect} onReconnect={onReconnect} onDelete={onDelete}
            onNodeDragStop={onNodeDragStop} onPaneClick={() => setSelected(null)} deleteKeyCode={["Delete", "Backspace"]}
            fitView={hadStates.current} defaultViewport={{ x: 30, y: 30, zoom: 1 }} fitViewOptions={{ maxZoom: 1 }} minZoom={0.05} onlyRenderVisibleElements={graph.nodes.length > 80} proOptions={{ hideAttribution: true }}>
            <Background gap={16} />
            <Controls />
            <MiniMap pannable zoomable position="top-right" />
          </ReactFlow>
        </div>
        <SidePanel doc={doc} selected={selected} palette={palette} commit={commit} text={text} nodeAdminUrl={nodeAdminUrl} />
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
  const area = document.getElementById(root.dataset.document);
  if (!area) return;
  const fixed = root.dataset.tenant;
  const getTenant = () => fixed || (document.getElementById(root.dataset.tenantInput) || {}).value || "";
  const nodeAdminUrl = root.dataset.url.replace(/workflowdefinition\/builder\/__tenant__\/$/, "nodedefinition/");
  const started = performance.now();
  createRoot(root).render(
    <ReactFlowProvider>
      <Builder area={area} getTenant={getTenant} baseUrl={root.dataset.url} nodeAdminUrl={nodeAdminUrl} />
    </ReactFlowProvider>,
  );
  window.driftBuilder = { started };
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
else mount();
