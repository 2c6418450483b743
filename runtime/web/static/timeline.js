// The timeline (uPlot, vendored): one lane per label, darker for a higher
// score, and the level (RMS and peak dBFS) as lines under the lanes.  Loaded
// from /api/timeline, then extended by every live window.
var soundscopeTimeline = (function () {
  "use strict";
  var MAX_LANES = 12;            // As configs/history.py TIMELINE_LANES.
  var LEVEL_SHARE = 0.35;        // Bottom part of the plot for the level lines.
  var DB_MIN = -100, DB_MAX = 0;
  var HEIGHT_PER_LANE = 22, MIN_HEIGHT = 220;
  var LANE_RGB = "31,90,180";

  var root = document.getElementById("timeline");
  var element = document.getElementById("timeline-chart");
  var tip = document.getElementById("timeline-tip");
  var history = root && root.dataset.history === "true";
  var view = { minutes: 60, since: 0, until: 0 };
  var data = empty();
  var plot = null;

  function empty() { return { start: [], end: [], rms: [], peak: [], labels: [], scores: [] }; }

  function laneCount() { return Math.max(data.labels.length, 1); }

  function shorten(text) { return text.length > 14 ? text.slice(0, 13) + "…" : text; }

  function height() { return Math.max(MIN_HEIGHT, laneCount() * HEIGHT_PER_LANE / (1 - LEVEL_SHARE) + 40); }

  function drawLanes(u) {
    var ctx = u.ctx, count = data.labels.length;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    for (var lane = 0; lane < count; lane++) {
      var top = u.valToPos(count - lane, "lanes", true);
      var bottom = u.valToPos(count - lane - 1, "lanes", true);
      var scores = data.scores[lane];
      for (var j = 0; j < scores.length; j++) {
        if (!scores[j]) continue;
        var x0 = u.valToPos(data.start[j], "x", true), x1 = u.valToPos(data.end[j], "x", true);
        ctx.fillStyle = "rgba(" + LANE_RGB + "," + Math.min(1, Math.max(0.06, scores[j])) + ")";
        ctx.fillRect(x0, top + 1, Math.max(1, x1 - x0), Math.max(1, bottom - top - 2));
      }
    }
    ctx.restore();
  }

  function showTip(u) {
    var j = u.cursor.idx;
    if (j == null || j >= data.end.length) { tip.textContent = ""; return; }
    var when = new Date(data.end[j] * 1000);
    var heard = [];
    for (var lane = 0; lane < data.labels.length; lane++) {
      var s = data.scores[lane][j];
      if (s) heard.push([data.labels[lane], s]);
    }
    heard.sort(function (a, b) { return b[1] - a[1]; });
    var text = heard.slice(0, 3).map(function (h) { return h[0] + " " + h[1].toFixed(2); }).join(", ");
    if (data.rms[j] != null) text += (text ? " · " : "") + data.rms[j].toFixed(0) + " dBFS";
    tip.textContent = "";
    tip.appendChild(soundscopeTimes.make(when.toISOString()));
    tip.appendChild(document.createTextNode(" " + (text || "nothing above the threshold")));
  }

  function options() {
    var lanesLow = -laneCount() * LEVEL_SHARE / (1 - LEVEL_SHARE);
    return {
      width: Math.max(element.clientWidth, 200), height: height(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: true, range: function () { return [view.since, view.until]; } },
        lanes: { auto: false, range: [lanesLow, laneCount()] },
        db: { auto: false, range: [DB_MIN, DB_MIN + (DB_MAX - DB_MIN) / LEVEL_SHARE] }
      },
      axes: [
        { space: 60 },
        { scale: "lanes", size: 96, grid: { show: false }, gap: 4,
          splits: function () { return data.labels.map(function (_, i) { return data.labels.length - i - 0.5; }); },
          values: function () { return data.labels.map(shorten); } },
        { scale: "db", side: 1, size: 40, grid: { show: false },
          splits: function () { return [-80, -40, 0]; } }
      ],
      series: [
        {},
        { label: "RMS dBFS", scale: "db", stroke: "#333", width: 1.5 },
        { label: "peak dBFS", scale: "db", stroke: "#999", width: 1, dash: [4, 3] }
      ],
      hooks: { drawClear: [drawLanes], setCursor: [showTip] }
    };
  }

  function columns() {
    var x = data.start.map(function (s, j) { return (s + data.end[j]) / 2; });
    return [x, data.rms, data.peak];
  }

  function redraw() {
    if (plot) plot.destroy();
    element.textContent = "";
    plot = new uPlot(options(), columns(), element);
    element.dataset.points = String(data.end.length);
    element.dataset.lanes = data.labels.join("|");
  }

  // The span ends now, or at the latest window when later (a file read faster than real time).
  function setWindow() {
    var last = data.end.length ? data.end[data.end.length - 1] : 0;
    view.until = Math.max(Date.now() / 1000, last) + 1;
    view.since = view.until - view.minutes * 60;
  }

  function show(answer) {
    data = { start: answer.start, end: answer.end, rms: answer.rms_dbfs, peak: answer.peak_dbfs,
             labels: answer.labels, scores: answer.scores };
    setWindow();
    redraw();
  }

  // The last `minutes` from the history (or `first`, the page's own copy of them).
  function load(minutes, first) {
    view.minutes = minutes;
    setWindow();
    if (!history) { trim(); redraw(); return Promise.resolve(); }
    if (first) { show(first); return Promise.resolve(); }
    return fetch("/api/timeline?minutes=" + minutes).then(function (r) {
      if (!r.ok) throw new Error("timeline: HTTP " + r.status);
      return r.json();
    }).then(show).catch(function (error) { tip.textContent = String(error.message || error); });
  }

  function trim() {
    while (data.end.length && data.end[0] < view.since) {
      data.start.shift(); data.end.shift(); data.rms.shift(); data.peak.shift();
      data.scores.forEach(function (lane) { lane.shift(); });
    }
  }

  // One live window (a PredictionEvent.to_dict()).
  function add(window) {
    var lanesBefore = data.labels.length;
    data.start.push(Date.parse(window.start_utc) / 1000);
    data.end.push(Date.parse(window.end_utc) / 1000);
    data.rms.push(window.rms_dbfs == null ? null : window.rms_dbfs);
    data.peak.push(window.peak_dbfs == null ? null : window.peak_dbfs);
    data.scores.forEach(function (lane) { lane.push(null); });
    var at = data.end.length - 1;
    (window.predictions || []).forEach(function (p) {
      var lane = data.labels.indexOf(p.label);
      if (lane < 0 && data.labels.length < MAX_LANES) {
        data.labels.push(p.label);
        data.scores.push(data.end.map(function () { return null; }));
        lane = data.labels.length - 1;
      }
      if (lane >= 0) data.scores[lane][at] = p.score;
    });
    setWindow();
    trim();
    if (plot && data.labels.length === lanesBefore) {
      plot.setData(columns());
      element.dataset.points = String(data.end.length);
    } else {
      redraw();
    }
  }

  function start(first) {
    if (!element) return;
    var buttons = root.querySelectorAll("button.span");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        Array.prototype.forEach.call(buttons, function (b) { b.classList.remove("selected"); });
        button.classList.add("selected");
        load(Number(button.dataset.minutes));
      });
    });
    window.addEventListener("resize", function () {
      if (plot) plot.setSize({ width: Math.max(element.clientWidth, 200), height: height() });
    });
    load(view.minutes, first);
  }

  return { start: start, add: add, load: load };
})();
