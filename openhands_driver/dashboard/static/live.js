// The live executions list: poll the JSON feed every second and redraw both tables in place
// (DOM nodes and textContent only: nothing from the feed is parsed as HTML).
(function () {
  "use strict";
  var script = document.getElementById("live-script");
  var feed = script.dataset.feed;
  var link = script.dataset.link;
  var columns = ["title", "status", "service", "priority", "phase", "elapsed_s"];

  function duration(value) {
    if (value === null || value === undefined) return "-";
    if (value < 60) return value.toFixed(1) + " s";
    var s = Math.floor(value % 60);
    return Math.floor(value / 60) + "m " + (s < 10 ? "0" : "") + s + "s";
  }

  function row(item) {
    var tr = document.createElement("tr");
    tr.dataset.id = item.id;
    var first = document.createElement("td");
    var a = document.createElement("a");
    a.href = link.replace("__ID__", encodeURIComponent(item.id));
    a.textContent = item.id;
    first.appendChild(a);
    tr.appendChild(first);
    columns.forEach(function (name) {
      var td = document.createElement("td");
      if (name === "status") {
        var span = document.createElement("span");
        span.className = "status s-" + item.status;
        span.textContent = item.status;
        td.appendChild(span);
      } else if (name === "elapsed_s") {
        td.textContent = duration(item.elapsed_s);
      } else {
        td.textContent = item[name] === null || item[name] === undefined ? "-" : String(item[name]);
        if (name === "phase" && item.pending) {
          var badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = item.pending + " awaiting approval";
          td.appendChild(document.createTextNode(" "));
          td.appendChild(badge);
        }
      }
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(id, items, empty) {
    var body = document.getElementById(id);
    var rows = items.map(row);
    if (!rows.length) {
      var tr = document.createElement("tr");
      tr.className = "empty";
      var td = document.createElement("td");
      td.colSpan = 7;
      td.textContent = empty;
      tr.appendChild(td);
      rows = [tr];
    }
    body.replaceChildren.apply(body, rows);
  }

  function tick() {
    fetch(feed, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/login"; throw new Error("signed out"); }
        return r.json();
      })
      .then(function (data) {
        fill("live-active", data.active, "nothing running");
        fill("live-recent", data.recent, "nothing finished yet");
        document.getElementById("live-updated").textContent =
          "Updated " + new Date(data.at * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
      })
      .catch(function () {})
      .finally(function () { window.setTimeout(tick, 1000); });
  }
  window.setTimeout(tick, 1000);
})();
