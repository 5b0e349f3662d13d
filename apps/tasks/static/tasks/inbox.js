// Operator inbox: cascading widgets (a dependent Option shows under its parent's chosen value; hidden ones are
// disabled so they are not submitted) and the SLA clock ticking in the browser.
(function () {
  "use strict";

  function syncDependents(form) {
    form.querySelectorAll(".drift-dependent").forEach(function (box) {
      var parent = form.querySelector("select[name='" + box.dataset.parent + "']");
      var shown = !!parent && !parent.disabled && parent.value === box.dataset.when;
      box.hidden = !shown;
    });
    form.querySelectorAll(".drift-dependent").forEach(function (box) {
      var hiddenAbove = box.hidden || !!(box.parentElement && box.parentElement.closest(".drift-dependent[hidden]"));
      box.querySelectorAll(":scope > .drift-widget > select, :scope > .drift-widget > input, :scope > .drift-widget button")
        .forEach(function (input) { input.disabled = hiddenAbove; });
    });
  }

  function span(seconds) {
    var s = Math.abs(Math.round(seconds)), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60), parts = [];
    if (d) parts.push(d + "d");
    if (d || h) parts.push(h + "h");
    parts.push(m + "m", (s % 60) + "s");
    return parts.join(" ");
  }

  function tick() {
    document.querySelectorAll(".drift-sla[data-due]").forEach(function (clock) {
      var left = (new Date(clock.dataset.due) - new Date()) / 1000;
      clock.textContent = left >= 0 ? "due in " + span(left) : "overdue by " + span(left);
      clock.classList.toggle("drift-overdue", left < 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("drift-task-form");
    if (form) {
      // Run twice: a dependent's own dependents settle once their parent is enabled.
      var sync = function () { syncDependents(form); syncDependents(form); };
      form.addEventListener("change", sync);
      sync();
    }
    tick();
    setInterval(tick, 1000);
  });
})();
