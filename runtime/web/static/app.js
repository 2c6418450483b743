// Live updates of the index page: predictions and DeviceHive status arrive as
// server-sent events from /api/stream; nothing here needs a reload.
(function () {
  "use strict";
  var MAX_SHOWN = 10;
  var list = document.getElementById("predictions");
  var latest = document.getElementById("latest");

  function addPrediction(event) {
    var item = document.createElement("li");
    item.className = "prediction";
    item.dataset.sequence = event.sequence;
    var time = document.createElement("time");
    time.dateTime = event.end_utc;
    time.textContent = event.end_utc;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = event.text;   // textContent: labels are never parsed as HTML.
    item.appendChild(time);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(text);
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_SHOWN) list.removeChild(list.lastChild);
    latest.textContent = event.text;
  }

  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) node.textContent = value;
  }

  function showStatus(status) {
    var dh = status.devicehive || {};
    var connected = document.getElementById("dh-connected");
    connected.dataset.connected = dh.connected ? "true" : "false";
    connected.textContent = !dh.enabled ? "not configured" : (dh.connected ? "connected" : "not connected");
    setText("dh-sent", dh.sent || 0);
    setText("dh-queued", dh.queued || 0);
    setText("dh-dropped", dh.dropped || 0);
    setText("dh-error", dh.last_error || "none");
  }

  var source = new EventSource("/api/stream");
  source.addEventListener("prediction", function (e) { addPrediction(JSON.parse(e.data)); });
  source.addEventListener("status", function (e) { showStatus(JSON.parse(e.data)); });
})();
