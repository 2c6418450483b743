// Live updates of the index page: predictions and the status arrive as
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
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = event.text;   // textContent: labels are never parsed as HTML.
    item.appendChild(soundscopeTimes.make(event.end_utc));
    item.appendChild(document.createTextNode(" "));
    item.appendChild(text);
    list.insertBefore(item, list.firstChild);
    while (list.children.length > MAX_SHOWN) list.removeChild(list.lastChild);
    latest.textContent = event.text;
    soundscopeTimeline.add(event);
    soundscopeHistory.refresh();
  }

  function setText(id, value) {
    var node = document.getElementById(id);
    if (node) node.textContent = value;
  }

  // One sink's line: failing now (its last call raised), not connected, or ok.
  function sinkLine(name, state, failure, failing) {
    state = state || {};
    var problem = null;
    if (failing) {
      problem = "failing: " + ((failure && failure.last_error) || "error") +
                (failure ? " (" + failure.count + " failures)" : "");
    } else if (state.enabled === false) {
      problem = null;
    } else if (state.connected === false) {
      problem = "not connected" + (state.last_error ? ": " + state.last_error : "");
    }
    var item = document.createElement("li");
    item.dataset.sink = name;
    item.dataset.ok = problem ? "false" : "true";
    var text = problem || (state.enabled === false ? "not configured" : "ok");
    if (state.queued) text += ", " + state.queued + " queued";
    item.textContent = name + ": " + text;
    return item;
  }

  function showRuntime(rt) {
    setText("st-running", rt.running ? "yes" : "no");
    setText("st-source", rt.source || rt.device || "");
    setText("st-model", rt.model || "");
    setText("st-label-set", rt.label_set || "the model's classes");
    setText("st-windows", rt.windows || 0);
    setText("st-overruns", rt.overruns || 0);
    setText("st-clock", rt.clock_corrections || 0);
    var input = document.getElementById("st-input");
    if (input) {
      var got = rt.input;
      input.dataset.ok = got && got.state !== "playing" && got.state !== "connecting" ? "false" : "true";
      input.textContent = !got ? (rt.running ? "running" : "stopped") :
          got.state + ", " + (got.reconnections || 0) + " reconnections" +
          (got.last_error ? " (last: " + got.last_error + ")" : "");
    }
    setText("st-failed", rt.failed_windows || 0);
    var save = document.getElementById("st-save");
    if (save) {
      save.dataset.ok = rt.save && rt.save.last_error ? "false" : "true";
      save.textContent = !rt.save ? "not saved" : (rt.save.last_error || rt.save.path);
    }
    setText("st-retention", (rt.retention && rt.retention.last_error) || "ok");
    var sinks = document.getElementById("st-sinks");
    if (sinks) {
      sinks.textContent = "";
      var states = rt.sinks || {}, failures = rt.sink_failures || {};
      var names = Object.keys(states);
      Object.keys(failures).forEach(function (name) { if (names.indexOf(name) < 0) names.push(name); });
      var failing = rt.failing_sinks || [];
      names.sort().forEach(function (name) {
        sinks.appendChild(sinkLine(name, states[name], failures[name], failing.indexOf(name) >= 0));
      });
    }
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
    showRuntime(status.runtime || {});
  }

  var initial = document.getElementById("initial-data");   // The history's first answers.
  initial = initial ? JSON.parse(initial.textContent) : {};
  soundscopeTimeline.start(initial.timeline);
  soundscopeHistory.start(initial.events);
  performance.mark("soundscope-drawn");   // Timeline and events shown (bench/bench_page.py).
  // From the last prediction rendered with the page: one published since comes first.
  var source = new EventSource("/api/stream?after=" + encodeURIComponent(list.dataset.streamAfter || ""));
  source.addEventListener("open", function () { document.body.dataset.stream = "open"; });
  source.addEventListener("prediction", function (e) { addPrediction(JSON.parse(e.data)); });
  source.addEventListener("status", function (e) { showStatus(JSON.parse(e.data)); });
})();
