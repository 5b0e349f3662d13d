/* Drift admin JSON editor: line numbers, pretty-print, tab indentation, a syntax check that names the
   line and column of the first error (checked again before submit), and jumps to the server's problems.
   With the DSL's JSON Schema (embedded by the form; the same document GET /dslSchema/ serves) it also lists
   schema problems per JSON path as you type and hints the fields allowed where the caret is.
   Self-contained: no libraries, no network. */
(function () {
  "use strict";
  var INDENT = "  ";

  function lineCol(text, pos) {
    var before = text.slice(0, pos).split("\n");
    return { line: before.length, column: before[before.length - 1].length + 1 };
  }

  function lineStart(text, line) {
    var pos = 0;
    for (var l = 1; l < line; l++) {
      var next = text.indexOf("\n", pos);
      if (next < 0) return text.length;
      pos = next + 1;
    }
    return pos;
  }

  /* A strict JSON scanner: null when `text` is valid, else {pos, line, column, message}. */
  function syntaxError(text) {
    var i = 0, n = text.length;
    function fail(message) { throw { driftPos: i, message: message }; }
    function ws() { while (i < n && " \t\n\r".indexOf(text[i]) >= 0) i++; }
    function value() {
      ws();
      if (i >= n) fail("unexpected end of the document, a value is expected");
      var c = text[i];
      if (c === "{") return object();
      if (c === "[") return array();
      if (c === "\"") return string();
      if (c === "-" || (c >= "0" && c <= "9")) return number();
      var literals = ["true", "false", "null"];
      for (var k = 0; k < literals.length; k++) {
        if (text.substr(i, literals[k].length) === literals[k]) { i += literals[k].length; return; }
      }
      fail("unexpected character " + JSON.stringify(c) + ", a value is expected");
    }
    function object() {
      i++; ws();
      if (text[i] === "}") { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== "\"") fail("a property name in double quotes is expected");
        string(); ws();
        if (text[i] !== ":") fail("':' is expected after the property name");
        i++; value(); ws();
        if (text[i] === ",") {
          i++; ws();
          if (text[i] === "}") fail("trailing comma before '}'");
          continue;
        }
        if (text[i] === "}") { i++; return; }
        fail(i >= n ? "unexpected end of the document, '}' is missing" : "',' or '}' is expected after a value");
      }
    }
    function array() {
      i++; ws();
      if (text[i] === "]") { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ",") {
          i++; ws();
          if (text[i] === "]") fail("trailing comma before ']'");
          continue;
        }
        if (text[i] === "]") { i++; return; }
        fail(i >= n ? "unexpected end of the document, ']' is missing" : "',' or ']' is expected after a value");
      }
    }
    function string() {
      i++;
      while (i < n) {
        var c = text[i];
        if (c === "\"") { i++; return; }
        if (c === "\\") {
          var e = text[i + 1];
          if (e === "u") {
            if (!/^[0-9a-fA-F]{4}$/.test(text.substr(i + 2, 4))) fail("invalid \\u escape");
            i += 6; continue;
          }
          if (e === undefined || "\"\\/bfnrt".indexOf(e) < 0) fail("invalid escape sequence");
          i += 2; continue;
        }
        if (c < " ") fail(c === "\n" ? "unterminated string (line break inside a string)" : "control character in a string");
        i++;
      }
      fail("unterminated string");
    }
    function number() {
      var m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      if (!m) fail("invalid number");
      i += m[0].length;
    }
    try {
      value(); ws();
      if (i < n) fail("unexpected text after the end of the document");
      return null;
    } catch (err) {
      if (err && typeof err.driftPos === "number") {
        var lc = lineCol(text, err.driftPos);
        return { pos: err.driftPos, line: lc.line, column: lc.column, message: err.message };
      }
      throw err;
    }
  }


  /* ---- the DSL's JSON Schema: a validator for the keywords the schema uses, and field hints ---- */

  function typeOf(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "array";
    if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
    return typeof value;
  }

  function typeMatches(value, type) {
    var actual = typeOf(value);
    return actual === type || (type === "number" && actual === "integer");
  }

  function member(path, key) {
    return /^[A-Za-z0-9_]+$/.test(key) ? path + "." + key : path + "[" + JSON.stringify(key) + "]";
  }

  function Schema(root) { this.root = root; }

  Schema.prototype.resolve = function (node) {
    var guard = 0;
    while (node && node.$ref && guard++ < 50) node = this.root.$defs[node.$ref.replace("#/$defs/", "")];
    return node || {};
  };

  Schema.prototype.errors = function (value, node, path, out) {
    node = this.resolve(node);
    var self = this, k;
    if (node.type !== undefined) {
      var types = Array.isArray(node.type) ? node.type : [node.type];
      if (!types.some(function (t) { return typeMatches(value, t); })) {
        out.push({ path: path, message: "must be " + types.join(" or ") });
        return out;
      }
    }
    if (node.enum && !node.enum.some(function (e) { return JSON.stringify(e) === JSON.stringify(value); })) {
      out.push({ path: path, message: "must be one of " + node.enum.map(function (e) { return JSON.stringify(e); }).join(", ") });
    }
    if (typeof value === "number") {
      if (node.minimum !== undefined && value < node.minimum) out.push({ path: path, message: "must be at least " + node.minimum });
      if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum) out.push({ path: path, message: "must be more than " + node.exclusiveMinimum });
    }
    if (typeof value === "string") {
      if (node.minLength !== undefined && value.length < node.minLength) out.push({ path: path, message: "must not be empty" });
      if (node.pattern && !new RegExp(node.pattern).test(value)) out.push({ path: path, message: "must match " + node.pattern });
    }
    if (typeOf(value) === "object") {
      (node.required || []).forEach(function (name) {
        if (!(name in value)) out.push({ path: member(path, name), message: "is required" });
      });
      if (node.minProperties && Object.keys(value).length < node.minProperties) out.push({ path: path, message: "must not be empty" });
      for (k in value) {
        if (!Object.prototype.hasOwnProperty.call(value, k)) continue;
        if (node.properties && node.properties[k]) self.errors(value[k], node.properties[k], member(path, k), out);
        else if (node.additionalProperties === false) out.push({ path: member(path, k), message: "is not an allowed field here" });
        else if (node.additionalProperties) self.errors(value[k], node.additionalProperties, member(path, k), out);
      }
    }
    if (Array.isArray(value) && node.items) {
      value.forEach(function (item, index) { self.errors(item, node.items, path + "[" + index + "]", out); });
    }
    if (node.anyOf && !node.anyOf.some(function (option) { return self.errors(value, option, path, []).length === 0; })) {
      var first = self.errors(value, node.anyOf[0], path, []);
      out.push({ path: path, message: "does not fit any allowed shape" + (first.length ? " (e.g. " + first[0].path + " " + first[0].message + ")" : "") });
    }
    (node.allOf || []).forEach(function (part) { self.errors(value, part, path, out); });
    if (node["if"]) {
      var branch = self.errors(value, node["if"], path, []).length === 0 ? node.then : node["else"];
      if (branch) self.errors(value, branch, path, out);
    }
    return out;
  };

  /* The object schemas that apply to `value` (following $ref, allOf and if/then/else). */
  Schema.prototype.objectParts = function (value, node, out) {
    node = this.resolve(node);
    var self = this;
    out.push(node);
    (node.allOf || []).forEach(function (part) { self.objectParts(value, part, out); });
    if (node["if"]) {
      var branch = self.errors(value, node["if"], "$", []).length === 0 ? node.then : node["else"];
      if (branch) self.objectParts(value, branch, out);
    }
    (node.anyOf || []).forEach(function (option) {
      var resolved = self.resolve(option);
      if (resolved.type === "object" || resolved.properties) self.objectParts(value, option, out);
    });
    return out;
  };

  /* The schema of the value at `segments` inside `doc`. */
  Schema.prototype.at = function (doc, segments) {
    var node = this.root, value = doc, self = this;
    for (var s = 0; s < segments.length; s++) {
      var key = segments[s], next = null;
      self.objectParts(value, node, []).forEach(function (part) {
        if (next) return;
        if (typeof key === "number" && part.items) next = part.items;
        else if (part.properties && part.properties[key]) next = part.properties[key];
        else if (part.additionalProperties && typeof part.additionalProperties === "object") next = part.additionalProperties;
      });
      if (!next) return null;
      node = next;
      value = value == null ? undefined : value[key];
    }
    return { node: node, value: value };
  };

  Schema.prototype.fieldsAt = function (doc, segments) {
    var found = this.at(doc, segments);
    if (!found || typeOf(found.value) !== "object") return null;
    var names = [], seen = {};
    this.objectParts(found.value, found.node, []).forEach(function (part) {
      Object.keys(part.properties || {}).forEach(function (name) {
        if (!seen[name]) { seen[name] = true; names.push(name); }
      });
    });
    return names;
  };

  /* The container path (keys and indexes) enclosing text position `pos`. Tolerant of unfinished text. */
  function pathAt(text, pos) {
    var stack = [], i = 0;
    while (i < pos) {
      var c = text[i];
      if (c === "\"") {
        var end = i + 1;
        while (end < text.length && text[end] !== "\"") end += text[end] === "\\" ? 2 : 1;
        if (end >= pos) break;
        var top = stack[stack.length - 1];
        var after = text.slice(end + 1).match(/^\s*:/);
        if (top && top.kind === "object" && after) {
          try { top.key = JSON.parse(text.slice(i, end + 1)); } catch (e) { top.key = null; }
        }
        i = end + 1; continue;
      }
      if (c === "{") stack.push({ kind: "object", key: null });
      else if (c === "[") stack.push({ kind: "array", index: 0 });
      else if (c === "}" || c === "]") stack.pop();
      else if (c === "," && stack.length && stack[stack.length - 1].kind === "array") stack[stack.length - 1].index++;
      else if (c === "," && stack.length) stack[stack.length - 1].key = null;
      i++;
    }
    var segments = [];
    for (var s = 0; s < stack.length - 1; s++) segments.push(stack[s].kind === "array" ? stack[s].index : stack[s].key);
    return segments;
  }

  function pathText(segments) {
    return segments.reduce(function (path, key) {
      return typeof key === "number" ? path + "[" + key + "]" : member(path, String(key));
    }, "$");
  }

  function Editor(root) {
    this.root = root;
    this.area = root.querySelector("textarea");
    this.gutter = root.querySelector(".drift-json-gutter");
    this.status = root.querySelector(".drift-json-status");
    this.schemaList = root.querySelector(".drift-schema-problems");
    this.hint = root.querySelector(".drift-json-hint");
    var schemaNode = document.getElementById(root.getAttribute("data-schema") || "");
    this.schema = schemaNode ? new Schema(JSON.parse(schemaNode.textContent)) : null;
    this.parsed = undefined;
    this.serverLines = {};
    var spec = root.getAttribute("data-problem-lines") || "";
    var self = this;
    spec.split(",").forEach(function (item) {
      var parts = item.split(":");
      if (parts[0]) self.serverLines[parseInt(parts[0], 10)] = parts[1] === "w" ? "warning" : "error";
    });
    this.serverText = this.area.value;
    this.errorLine = null;
    this.bind();
    this.renderGutter();
    this.check(false);
  }

  Editor.prototype.bind = function () {
    var self = this, timer = null;
    this.area.addEventListener("keydown", function (event) { self.onKey(event); });
    this.area.addEventListener("input", function () {
      self.renderGutter();
      clearTimeout(timer);
      timer = setTimeout(function () { self.check(false); }, 250);
    });
    this.area.addEventListener("scroll", function () { self.gutter.scrollTop = self.area.scrollTop; });
    // The workflow builder validates as you draw and marks the problems' lines here: {line: "error"|"warning"}.
    this.area.addEventListener("drift:problem-lines", function (event) {
      self.serverLines = event.detail || {};
      self.serverText = self.area.value;
      self.renderGutter();
    });
    ["click", "keyup"].forEach(function (name) {
      self.area.addEventListener(name, function () { self.showHint(); });
    });
    this.root.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var action = button.getAttribute("data-action");
        if (action === "format") self.format();
        if (action === "check") self.check(true);
      });
    });
    this.root.querySelectorAll("[data-line]").forEach(function (item) {
      item.addEventListener("click", function (event) {
        event.preventDefault();
        self.goTo(parseInt(item.getAttribute("data-line"), 10), 1, true);
      });
    });
  };

  Editor.prototype.onKey = function (event) {
    var area = this.area, text = area.value, start = area.selectionStart, end = area.selectionEnd;
    if (event.key === "Tab") {
      event.preventDefault();
      var first = text.lastIndexOf("\n", start - 1) + 1;
      if (event.shiftKey || start !== end) {
        var block = text.slice(first, end);
        var changed = event.shiftKey
          ? block.replace(/^( {1,2}|\t)/gm, "")
          : block.replace(/^/gm, INDENT);
        area.setRangeText(changed, first, end, "preserve");
        area.setSelectionRange(first, first + changed.length);
      } else {
        area.setRangeText(INDENT, start, end, "end");
      }
      area.dispatchEvent(new Event("input"));
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      var lineBegin = text.lastIndexOf("\n", start - 1) + 1;
      var indent = /^[ \t]*/.exec(text.slice(lineBegin, start))[0];
      var prev = text.slice(0, start).trimEnd().slice(-1);
      if (prev === "{" || prev === "[") indent += INDENT;
      event.preventDefault();
      area.setRangeText("\n" + indent, start, end, "end");
      area.dispatchEvent(new Event("input"));
    }
  };

  Editor.prototype.renderGutter = function () {
    var count = this.area.value.split("\n").length, html = [];
    var stale = this.area.value !== this.serverText;
    for (var l = 1; l <= count; l++) {
      var cls = "";
      if (l === this.errorLine) cls = "drift-line-error";
      else if (!stale && this.serverLines[l]) cls = "drift-line-" + this.serverLines[l];
      html.push(cls ? "<span class=\"" + cls + "\">" + l + "</span>" : String(l));
    }
    this.gutter.innerHTML = html.join("\n") + "\n ";
    this.gutter.scrollTop = this.area.scrollTop;
  };

  Editor.prototype.setStatus = function (ok, text) {
    this.status.textContent = text;
    this.status.className = "drift-json-status " + (ok ? "drift-ok" : "drift-bad");
    this.root.classList.toggle("drift-json-invalid", !ok);
  };

  /* Returns true when the text is valid JSON; `focus` moves the caret to the error. */
  Editor.prototype.check = function (focus) {
    var error = syntaxError(this.area.value);
    this.errorLine = error ? error.line : null;
    this.renderGutter();
    if (error) {
      this.setStatus(false, "JSON syntax error at line " + error.line + ", column " + error.column + ": " + error.message);
      if (focus) this.goTo(error.line, error.column, true);
      return false;
    }
    this.parsed = JSON.parse(this.area.value);
    var problems = this.schemaCheck();
    this.setStatus(true, problems ? "Valid JSON; " + problems + " schema problem" + (problems > 1 ? "s" : "") +
      " (listed below; the server checks again on save)" : "Valid JSON" + (this.schema ? ", fits the DSL schema" : ""));
    return true;
  };

  /* Lists the document's schema problems (not blocking: the server's validation decides); returns the count. */
  Editor.prototype.schemaCheck = function () {
    if (!this.schema || !this.schemaList) return 0;
    var problems = this.schema.errors(this.parsed, this.schema.root, "$", []);
    this.schemaList.innerHTML = "";
    var list = this.schemaList;
    problems.slice(0, 50).forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "drift-error";
      var code = document.createElement("code");
      code.textContent = problem.path;
      item.appendChild(code);
      item.appendChild(document.createTextNode(": " + problem.message));
      list.appendChild(item);
    });
    list.hidden = problems.length === 0;
    return problems.length;
  };

  /* Field hints: the fields the schema allows in the object around the caret (missing ones first). */
  Editor.prototype.showHint = function () {
    if (!this.schema || !this.hint || this.parsed === undefined) return;
    var segments = pathAt(this.area.value, this.area.selectionStart);
    var fields = this.schema.fieldsAt(this.parsed, segments);
    if (!fields || !fields.length) { this.hint.textContent = ""; return; }
    var found = this.schema.at(this.parsed, segments), present = found && found.value ? found.value : {};
    var missing = fields.filter(function (name) { return !(name in present); });
    var used = fields.filter(function (name) { return name in present; });
    this.hint.textContent = "Fields at " + pathText(segments) + ": " +
      (missing.length ? "available " + missing.join(", ") : "all used") + (used.length ? "; set " + used.join(", ") : "");
  };

  Editor.prototype.format = function () {
    if (!this.check(true)) return;
    this.area.value = JSON.stringify(JSON.parse(this.area.value), null, 2);
    this.area.dispatchEvent(new Event("input"));
    this.setStatus(true, "Valid JSON (formatted)");
  };

  Editor.prototype.goTo = function (line, column, select) {
    var text = this.area.value, pos = lineStart(text, line) + Math.max(0, column - 1);
    var lineEnd = text.indexOf("\n", pos);
    this.area.focus();
    this.area.setSelectionRange(pos, select ? (lineEnd < 0 ? text.length : lineEnd) : pos);
    var lineHeight = parseFloat(getComputedStyle(this.area).lineHeight) || 18;
    this.area.scrollTop = Math.max(0, (line - 4) * lineHeight);
  };

  function init() {
    var editors = [];
    document.querySelectorAll(".drift-json-editor").forEach(function (root) {
      if (!root.driftEditor) { root.driftEditor = new Editor(root); editors.push(root.driftEditor); }
    });
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        for (var k = 0; k < editors.length; k++) {
          if (form.contains(editors[k].area) && !editors[k].check(true)) {
            event.preventDefault();
            event.stopImmediatePropagation();
            return;
          }
        }
      });
    });
  }

  window.DriftJsonEditor = { syntaxError: syntaxError, Schema: Schema, pathAt: pathAt };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
