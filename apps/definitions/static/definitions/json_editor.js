/* Drift admin JSON editor: line numbers, pretty-print, tab indentation, a syntax check that names the
   line and column of the first error (checked again before submit), and jumps to the server's problems.
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

  function Editor(root) {
    this.root = root;
    this.area = root.querySelector("textarea");
    this.gutter = root.querySelector(".drift-json-gutter");
    this.status = root.querySelector(".drift-json-status");
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
    this.setStatus(true, "Valid JSON");
    return true;
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

  window.DriftJsonEditor = { syntaxError: syntaxError };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
