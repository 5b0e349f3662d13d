// The node page's "Try it" panel: posts the sample context to the dry-run view, shows the report beside it.
(function () {
  var panel = document.getElementById("drift-try");
  if (!panel) return;
  var status = document.getElementById("drift-try-status");
  var result = document.getElementById("drift-try-result");

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function parsed(id, label) {
    var text = document.getElementById(id).value.trim();
    if (!text) return undefined;
    try { return JSON.parse(text); } catch (error) { throw new Error(label + " is not valid JSON: " + error.message); }
  }

  function show(ok, headline, body) {
    status.textContent = headline;
    status.className = "drift-try-status " + (ok ? "drift-ok" : "drift-bad");
    result.textContent = JSON.stringify(body, null, 2);
  }

  function headline(report) {
    if (report.ok) return "OK: " + report.type + " node " + report.node + " (version " + report.version + ")";
    if (typeof report.error !== "object") {
      var where = (report.details || []).map(function (d) { return d.path + ": " + d.problem; }).join("; ");
      return "Refused: " + (report.message || "error") + (where ? " (" + where + ")" : "");
    }
    return "Failed" + (report.error.line ? " at script line " + report.error.line : "") + ": " + report.error.message;
  }

  document.getElementById("drift-try-run").addEventListener("click", function () {
    var request;
    try {
      request = {version: document.getElementById("drift-try-version").value,
                 context: parsed("drift-try-context", "Context") || {},
                 parameters: parsed("drift-try-parameters", "Node parameters"),
                 mock: parsed("drift-try-mock", "HTTP mock")};
    } catch (error) {
      status.textContent = error.message;
      status.className = "drift-try-status drift-bad";
      return;
    }
    status.textContent = "Running…";
    status.className = "drift-try-status";
    fetch(panel.dataset.url, {method: "POST", credentials: "same-origin", body: JSON.stringify(request),
                              headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()}})
      .then(function (response) { return response.json(); })
      .then(function (report) { show(report.ok === true, headline(report), report); })
      .catch(function (error) { show(false, "Request failed: " + error.message, {}); });
  });
})();
