// The workflow document as the builder sees it. The JSON text in the form's textarea is the one source of truth:
// the builder reads it with JSON.parse and writes it only through jsonc-parser's `modify` (a minimal text edit
// at one JSON path), so every byte the builder does not edit - unknown fields, number spellings, formatting -
// stays as it was.
import dagre from "@dagrejs/dagre";
import { applyEdits, findNodeAtLocation, modify, parseTree } from "jsonc-parser";

export const START = "@start"; // the workflow's own node: start, failure and after-completion ports
export const FLOW = "@items:"; // id prefix of a MAP's item-flow node (not a state: never stored)
export const CANVAS = "canvas"; // engine-ignored layout field (documented in the DSL JSON Schema)
const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: "\n" } };

export function parse(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** `text` with the value at `path` replaced (undefined: removed; an array index with insert: inserted). */
export function setAt(text, path, value, options = {}) {
  return applyEdits(text, modify(text, path, value, { ...FORMAT, ...options }));
}

const isObject = (value) => value && typeof value === "object" && !Array.isArray(value);
export const statesOf = (doc) => (doc && isObject(doc.states) ? doc.states : {});

/** The state's node definition: inline, else the palette's (the tenant's LATEST published). */
export function nodeOf(state, palette) {
  if (isObject(state.nodeDefinition)) return state.nodeDefinition;
  return palette.get(state.resourceId)?.body || null;
}

export function kindOf(state, node) {
  if (state.type === "PARALLEL" || state.type === "MAP") return state.type;
  return (node && node.type) || "?";
}

const TERMINAL = new Set(["SUCCESS", "FAILURE"]);

/** The ports a state draws edges from: {id, kind, label, path, nodeLevel}. */
export function portsOf(name, state, node) {
  const ports = [];
  const at = ["states", name];
  const kind = kindOf(state, node);
  if (kind === "PARALLEL") {
    (Array.isArray(state.branches) ? state.branches : []).forEach((branch, index) => {
      ports.push({ id: `branch:${index}`, kind: "branch", label: (isObject(branch) && branch.name) || `branch ${index + 1}`,
        path: [...at, "branches", index, "startNode"] });
    });
    ports.push({ id: "branch:new", kind: "branch", label: "+ branch", path: null });
  }
  if (kind === "BRANCH") {
    (Array.isArray(node.choices) ? node.choices : []).forEach((_, index) => {
      ports.push({ id: `choice:${index}`, kind: "choice", label: `#${index + 1}`, nodeLevel: true,
        path: [...at, "nodeDefinition", "choices", index, "nextNode"] });
    });
    ports.push({ id: "choice:new", kind: "choice", label: "+ choice", path: null });
    ports.push({ id: "default", kind: "default", label: "default", nodeLevel: true,
      path: [...at, "nodeDefinition", "defaultNode"] });
  }
  if (kind === "INSTRUCTION" && isObject(node.assignment)) {
    ports.push({ id: "timeout", kind: "timeout", label: "timeout", nodeLevel: true,
      path: [...at, "nodeDefinition", "assignment", "timeoutNode"] });
  }
  if (kind === "MAP") ports.push({ id: "items", kind: "items", label: "each item", path: null, fixed: true });
  if (kind !== "BRANCH" && !TERMINAL.has(kind)) {
    ports.push({ id: "next", kind: "next", label: kind === "MAP" ? "after items" : "next", path: [...at, "nextNode"] });
  }
  return ports;
}

export function startPorts(doc) {
  const post = Array.isArray(doc.postWorkflowCompletionNodes) ? doc.postWorkflowCompletionNodes : [];
  return [
    { id: "start", kind: "start", label: "start", path: ["startNode"] },
    { id: "failure", kind: "failure", label: "on failure", path: ["defaultFailureNode"] },
    ...post.map((_, index) => ({ id: `post:${index}`, kind: "post", label: `after ${index + 1}`,
      path: ["postWorkflowCompletionNodes", index] })),
    { id: "post:new", kind: "post", label: "+ after completion", path: null },
  ];
}

function valueAt(doc, path, node) {
  // Node-level ports read the node definition (inline or the palette's): the path's tail after nodeDefinition.
  const cut = path.indexOf("nodeDefinition");
  let value = cut >= 0 ? node : doc;
  for (const key of cut >= 0 ? path.slice(cut + 1) : path) value = value == null ? undefined : value[key];
  return value;
}

/** Nodes and edges of the document (edges only to existing states: the validator reports the others). */
export function graphOf(doc, palette) {
  const states = statesOf(doc);
  const nodes = [{ id: START, kind: "START", label: doc.id || "workflow", sub: "workflow", ports: startPorts(doc) }];
  const edges = [];
  const addEdges = (source, ports, node) => {
    for (const port of ports) {
      if (!port.path) continue;
      const target = valueAt(doc, port.path, node);
      if (typeof target === "string" && Object.hasOwn(states, target)) {
        edges.push({ id: `${source}|${port.id}`, source, sourceHandle: port.id, target, kind: port.kind,
          label: port.label, path: port.path });
      }
    }
  };
  addEdges(START, nodes[0].ports, null);
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    const node = nodeOf(state, palette);
    const kind = kindOf(state, node);
    const ports = portsOf(name, state, node || {});
    const sub = kind === "MAP" ? `MAP of ${(isObject(state.iterator) && state.iterator.workflowId) || "?"}`
      : kind === "PARALLEL" ? "PARALLEL" : `${kind} · ${state.resourceId || "inline"}`;
    nodes.push({ id: name, kind, label: name, sub, ports });
    addEdges(name, ports, node);
  }
  // A MAP's item flow: the iterator workflow, drawn as a node of its own beside the MAP (set in the side panel).
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state) || state.type !== "MAP") continue;
    const iterator = isObject(state.iterator) ? state.iterator : {};
    const id = `${FLOW}${name}`;
    nodes.push({ id, kind: "FLOW", label: iterator.workflowId || "(no iterator workflow)", ports: [], of: name,
      sub: `item flow · ${iterator.version ?? "ACTIVE"}` });
    edges.push({ id: `${name}|items`, source: name, sourceHandle: "items", target: id, kind: "items",
      label: "each item", path: ["states", name, "iterator"], fixed: true });
  }
  return { nodes, edges };
}

const unique = (base, taken) => {
  const clean = String(base || "state").replace(/[^A-Za-z0-9_.-]/g, "_") || "state";
  if (!taken(clean)) return clean;
  for (let n = 2; ; n++) if (!taken(`${clean}_${n}`)) return `${clean}_${n}`;
};

/** A new state for a palette item ({node} or {control: PARALLEL|MAP}). */
export function addState(text, doc, item) {
  const states = statesOf(doc);
  const name = unique(item.node ? item.node.id : item.control.toLowerCase(), (n) => Object.hasOwn(states, n));
  let value;
  if (item.node) {
    const parameters = Object.fromEntries((item.node.parameters || []).map((p) => [p, `$.params.${p}`]));
    value = { instanceName: name, resourceId: item.node.id, resourceVersion: "LATEST", type: "NODE", parameters };
  } else if (item.control === "PARALLEL") {
    value = { instanceName: name, type: "PARALLEL", failurePolicy: "FAIL_FAST", branches: [] };
  } else {
    value = { instanceName: name, type: "MAP", items: "$.params.items", iterator: { workflowId: "", version: "ACTIVE" },
      maxConcurrency: 10 };
  }
  let out = isObject(doc.states) ? text : setAt(text, ["states"], {});
  out = setAt(out, ["states", name], value);
  return { text: out, name };
}

function portOf(doc, palette, source, handle) {
  if (source === START) return startPorts(doc).find((p) => p.id === handle);
  const state = statesOf(doc)[source];
  return state && portsOf(source, state, nodeOf(state, palette) || {}).find((p) => p.id === handle);
}

/** Node-level fields (BRANCH choices, default, timeout) live in the node definition: editing one on a state that
 * references a published node makes the state carry its own copy (inline `nodeDefinition`, which the engine and
 * the validator use before `resourceId`). `tail`: the path inside the node; `value` undefined removes it;
 * `insert`: an array insertion at `tail`'s last index. */
export function editNode(text, doc, palette, name, tail, value, { insert = false } = {}) {
  const state = statesOf(doc)[name];
  if (isObject(state.nodeDefinition)) {
    return setAt(text, ["states", name, "nodeDefinition", ...tail], value, insert ? { isArrayInsertion: true } : {});
  }
  const copy = structuredClone(nodeOf(state, palette));
  const holder = tail.slice(0, -1).reduce((v, key) => v[key], copy);
  const key = tail[tail.length - 1];
  if (Array.isArray(holder) && (insert || value === undefined)) {
    if (value === undefined) holder.splice(key, 1);
    else holder.splice(key, 0, value);
  } else if (value === undefined) delete holder[key];
  else holder[key] = value;
  return setAt(text, ["states", name, "nodeDefinition"], copy);
}

function editNodeLevel(text, doc, palette, port, target) {
  return editNode(text, doc, palette, port.path[1], port.path.slice(port.path.indexOf("nodeDefinition") + 1), target);
}

export const NEW_RULE = { type: "SCRIPT", value: { type: "STRING", data: "return False" } };

/** Appends a BRANCH choice (a rule to write, `target` next) or removes choice `index`. */
export function addChoice(text, doc, palette, name, target) {
  const choices = nodeOf(statesOf(doc)[name], palette)?.choices;
  const choice = { rule: structuredClone(NEW_RULE), nextNode: target };
  if (!Array.isArray(choices)) return editNode(text, doc, palette, name, ["choices"], [choice]);
  return editNode(text, doc, palette, name, ["choices", choices.length], choice, { insert: true });
}

export function removeChoice(text, doc, palette, name, index) {
  return editNode(text, doc, palette, name, ["choices", index], undefined);
}

/** `text` with the key of the property at `path` renamed (a minimal edit: only the key's bytes change). */
function renameKey(text, path, to) {
  const found = findNodeAtLocation(parseTree(text), path);
  const key = found && found.parent && found.parent.type === "property" ? found.parent.children[0] : null;
  if (!key) return text;
  return text.slice(0, key.offset) + JSON.stringify(to) + text.slice(key.offset + key.length);
}

/** Renames a state: its key, its position, its instanceName (when it was the name) and every reference to it. */
export function renameState(text, doc, palette, from, to) {
  const states = statesOf(doc);
  if (!to || from === to || from === START || !Object.hasOwn(states, from) || Object.hasOwn(states, to)) return text;
  const incoming = graphOf(doc, palette).edges.filter((edge) => edge.target === from);
  let out = renameKey(text, ["states", from], to);
  if (Object.hasOwn(positionsOf(doc), from)) out = renameKey(out, [CANVAS, "positions", from], to);
  if (isObject(states[from]) && states[from].instanceName === from) out = setAt(out, ["states", to, "instanceName"], to);
  for (const edge of incoming) {
    const path = edge.source === from ? ["states", to, ...edge.path.slice(2)] : edge.path;
    const nodeLevel = path.includes("nodeDefinition");
    out = nodeLevel ? editNodeLevel(out, parse(out), palette, { path }, to) : setAt(out, path, to);
  }
  return out;
}

function removeAt(text, path) {
  return setAt(text, path, undefined);
}

/** An edge from `source`'s port `handle` to `target` (a new one or a reconnected one). */
export function connect(text, doc, palette, source, handle, target) {
  const port = portOf(doc, palette, source, handle);
  if (!port || !Object.hasOwn(statesOf(doc), target)) return text;
  if (port.id === "choice:new") return addChoice(text, doc, palette, source, target);
  if (port.id === "branch:new") {
    const state = statesOf(doc)[source];
    const branches = Array.isArray(state.branches) ? state.branches : null;
    const taken = new Set((branches || []).map((b) => isObject(b) && b.name));
    const branch = { name: unique(`branch${(branches || []).length + 1}`, (n) => taken.has(n)), startNode: target };
    if (!branches) return setAt(text, ["states", source, "branches"], [branch]);
    return setAt(text, ["states", source, "branches", branches.length], branch, { isArrayInsertion: true });
  }
  if (port.id === "post:new") {
    const post = doc.postWorkflowCompletionNodes;
    if (!Array.isArray(post)) return setAt(text, ["postWorkflowCompletionNodes"], [target]);
    return setAt(text, ["postWorkflowCompletionNodes", post.length], target, { isArrayInsertion: true });
  }
  if (!port.path) return text;
  return port.nodeLevel ? editNodeLevel(text, doc, palette, port, target) : setAt(text, port.path, target);
}

/** Removes edges (array entries from the last, so the indexes stay right). */
export function disconnect(text, doc, palette, edges) {
  const index = (edge) => (Number.isInteger(edge.path[edge.path.length - 2]) ? edge.path[edge.path.length - 2]
    : Number.isInteger(edge.path[edge.path.length - 1]) ? edge.path[edge.path.length - 1] : -1);
  let out = text;
  for (const edge of [...edges].sort((a, b) => index(b) - index(a))) {
    const current = parse(out) || doc;
    const port = portOf(current, palette, edge.source, edge.sourceHandle);
    if (!port || !port.path || edge.fixed) continue;
    if (port.kind === "branch") out = removeAt(out, port.path.slice(0, -1));
    else if (port.kind === "post") out = removeAt(out, port.path);
    else if (port.nodeLevel) out = editNodeLevel(out, current, palette, port, undefined);
    else out = removeAt(out, port.path);
  }
  return out;
}

/** Removes states, their positions and the plain references to them (nextNode, failure, after completion). */
export function removeStates(text, doc, names) {
  let out = text;
  for (const name of names) {
    if (name === START) continue;
    const current = parse(out);
    if (!current || !Object.hasOwn(statesOf(current), name)) continue;
    out = removeAt(out, ["states", name]);
    if (isObject(current[CANVAS]) && isObject(current[CANVAS].positions) && current[CANVAS].positions[name]) {
      out = removeAt(out, [CANVAS, "positions", name]);
    }
    for (const [other, state] of Object.entries(statesOf(current))) {
      if (other !== name && isObject(state) && state.nextNode === name) out = removeAt(out, ["states", other, "nextNode"]);
    }
    if (current.defaultFailureNode === name) out = removeAt(out, ["defaultFailureNode"]);
    const post = Array.isArray(current.postWorkflowCompletionNodes) ? current.postWorkflowCompletionNodes : [];
    for (let i = post.length - 1; i >= 0; i--) if (post[i] === name) out = removeAt(out, ["postWorkflowCompletionNodes", i]);
  }
  return out;
}

export function positionsOf(doc) {
  const canvas = doc && isObject(doc[CANVAS]) ? doc[CANVAS] : {};
  return isObject(canvas.positions) ? canvas.positions : {};
}

export function savePositions(text, positions) {
  const rounded = Object.fromEntries(Object.entries(positions).map(([id, p]) => [id, { x: Math.round(p.x), y: Math.round(p.y) }]));
  return setAt(text, [CANVAS, "positions"], rounded);
}

export const nodeWidth = (node) => Math.max(170, node.ports.length * 78);
export const NODE_HEIGHT = 74;

/** Where a MAP's item-flow node goes: to the right of the MAP. */
export const besideMap = (map, mapWidth) => ({ x: map.x + mapWidth + 60, y: map.y + 40 });

/** Top-to-bottom layered layout (dagre): the top-left corner of every node. */
export function autoLayout(graph) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 80 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: nodeWidth(node), height: NODE_HEIGHT });
  for (const edge of graph.edges) g.setEdge(edge.source, edge.target);
  dagre.layout(g);
  return Object.fromEntries(graph.nodes.map((node) => {
    const at = g.node(node.id);
    return [node.id, { x: at.x - nodeWidth(node) / 2, y: at.y - NODE_HEIGHT / 2 }];
  }));
}

/** Where a problem's JSON path points: {node, handle} (handle null: the state itself), or null (the document). */
export function locate(path, doc) {
  const names = Object.keys(statesOf(doc)).sort((a, b) => b.length - a.length);
  const top = { "$.startNode": "start", "$.defaultFailureNode": "failure" };
  if (top[path]) return { node: START, handle: top[path] };
  const post = /^\$\.postWorkflowCompletionNodes\[(\d+)\]/.exec(path);
  if (post) return { node: START, handle: `post:${post[1]}` };
  const name = names.find((n) => path === `$.states.${n}` || path.startsWith(`$.states.${n}.`) || path.startsWith(`$.states.${n}[`));
  if (name === undefined) return null;
  const rest = path.slice(`$.states.${name}`.length);
  const patterns = [[/^\.nextNode$/, () => "next"], [/^\.branches\[(\d+)\]/, (m) => `branch:${m[1]}`],
    [/^\.nodeDefinition\.choices\[(\d+)\]\.nextNode$/, (m) => `choice:${m[1]}`],
    [/^\.nodeDefinition\.defaultNode$/, () => "default"], [/^\.nodeDefinition\.assignment\.timeoutNode$/, () => "timeout"]];
  for (const [pattern, handle] of patterns) {
    const match = pattern.exec(rest);
    if (match) return { node: name, handle: handle(match) };
  }
  return { node: name, handle: null };
}

/** The 1-based line of a problem's JSON path in `text` (the nearest ancestor present), for the JSON editor. */
export function lineOf(text, path, doc) {
  const names = Object.keys(statesOf(doc)).sort((a, b) => b.length - a.length);
  let segments = [];
  let rest = path.replace(/^\$/, "");
  const name = names.find((n) => rest === `.states.${n}` || rest.startsWith(`.states.${n}.`) || rest.startsWith(`.states.${n}[`));
  if (name !== undefined) {
    segments = ["states", name];
    rest = rest.slice(`.states.${name}`.length);
  }
  for (const match of rest.matchAll(/\.([^.[]+)|\[(\d+)\]/g)) segments.push(match[2] !== undefined ? Number(match[2]) : match[1]);
  const tree = parseTree(text);
  if (!tree) return null;
  for (let n = segments.length; n >= 0; n--) {
    const found = findNodeAtLocation(tree, segments.slice(0, n));
    if (found) {
      const offset = found.parent && found.parent.type === "property" ? found.parent.offset : found.offset;
      return text.slice(0, offset).split("\n").length;
    }
  }
  return null;
}
