// Runs started from the page: while one is running, poll the jobs feed and reload the page when a
// job's status or log changed (its progress), so the table and the report link stay current.
(function () {
  "use strict";
  var script = document.getElementById("runs-script");
  var last = null;
  function tick() {
    fetch(script.dataset.feed, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var sig = JSON.stringify(data.jobs.map(function (j) { return [j.id, j.status, j.log_tail.length, j.has_output]; }));
        if (last !== null && sig !== last) { window.location.reload(); return; }
        last = sig;
        if (data.jobs.some(function (j) { return j.running; })) window.setTimeout(tick, 1500);
      })
      .catch(function () { window.setTimeout(tick, 3000); });
  }
  tick();
})();
