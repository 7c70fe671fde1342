// One execution: poll its state and reload the page when something changed (status, phase,
// commands, confirmations, timeline) while it is not final.
(function () {
  "use strict";
  var script = document.getElementById("execution-script");
  var url = script.dataset.state;
  var last = null;
  var FINAL = ["fixed", "failed", "escalated", "expired", "cancelled", "needs_human", "not_fixed",
               "error", "timeout", "interrupted", "crashed", "stuck"];

  function signature(s) {
    return JSON.stringify([s.status, s.phase, s.actions, s.approvals, s.timeline]);
  }

  function tick() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (state) {
        var sig = signature(state);
        if (last !== null && sig !== last) { window.location.reload(); return; }
        last = sig;
        if (FINAL.indexOf(state.status) < 0) window.setTimeout(tick, 1000);
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  tick();
})();
