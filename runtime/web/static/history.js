// The events list from the history (/api/history/events): a label filter, a
// day (local), pages of events newest first, and playback of their saved windows.
var soundscopeHistory = (function () {
  "use strict";
  var PAGE = 50;                 // As configs/history.py EVENTS_PAGE_SIZE.
  var REFRESH_MS = 2000;         // Live windows refresh the first page at most this often.
  var list = document.getElementById("event-list");
  var state = { offset: 0, total: 0 };
  var pending = null;

  function $(id) { return document.getElementById(id); }

  // since/until (ISO UTC) of the chosen local day, or nothing.
  function dayBounds() {
    var day = $("event-day").value;
    if (!day) return {};
    var parts = day.split("-").map(Number);
    var since = new Date(parts[0], parts[1] - 1, parts[2]);
    var until = new Date(parts[0], parts[1] - 1, parts[2] + 1);
    return { since: since.toISOString(), until: until.toISOString() };
  }

  function url() {
    var params = new URLSearchParams({ offset: state.offset, limit: PAGE });
    var label = $("event-label").value;
    if (label) params.set("label", label);
    var bounds = dayBounds();
    if (bounds.since) { params.set("since", bounds.since); params.set("until", bounds.until); }
    return "/api/history/events?" + params.toString();
  }

  function seconds(event) {
    if (!event.end_utc) return null;
    return (Date.parse(event.end_utc) - Date.parse(event.start_utc)) / 1000;
  }

  function cell(row, content) {
    var td = document.createElement("td");
    if (typeof content === "string") td.textContent = content; else td.appendChild(content);
    row.appendChild(td);
    return td;
  }

  function audioCell(event) {
    var span = document.createElement("span");
    (event.audio || []).forEach(function (audio, n) {
      if (!audio.url) {
        var gone = document.createElement("span");
        gone.className = "gone";
        gone.title = audio.name + " (deleted by retention, or not in this run's --save-path)";
        gone.textContent = "deleted";
        span.appendChild(gone);
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "play";
      button.dataset.url = audio.url;
      button.title = audio.name;
      button.textContent = "▶ " + (n + 1);
      button.addEventListener("click", function () { play(audio.url); });
      span.appendChild(button);
    });
    return span;
  }

  function play(src) {
    var player = $("player");
    player.src = src;
    var started = player.play();
    if (started && started.catch) started.catch(function () {});   // No sound device: fine.
  }

  function row(event) {
    var tr = document.createElement("tr");
    tr.dataset.id = event.id;
    tr.dataset.label = event.label;
    tr.className = "event " + event.state;
    cell(tr, soundscopeTimes.make(event.start_utc));
    cell(tr, event.label);
    var length = seconds(event);
    cell(tr, length == null ? (event.state === "open" ? "ongoing" : "interrupted") : length.toFixed(1) + " s");
    cell(tr, event.peak_score == null ? "" : event.peak_score.toFixed(2));
    cell(tr, audioCell(event));
    return tr;
  }

  function showLabels(labels) {
    var select = $("event-label");
    var chosen = select.value;
    while (select.options.length > 1) select.remove(1);
    labels.forEach(function (label) { select.add(new Option(label, label)); });
    select.value = chosen;
  }

  function render(page) {
    var body = list.tBodies[0];
    body.textContent = "";
    page.events.forEach(function (event) { body.appendChild(row(event)); });
    state.total = page.total;
    showLabels(page.labels);
    var first = page.total ? state.offset + 1 : 0;
    $("events-count").textContent = page.total ? ("Events " + first + "–" + (state.offset + page.events.length) + " of " + page.total) : "No events.";
    $("events-newer").disabled = state.offset === 0;
    $("events-older").disabled = state.offset + page.events.length >= page.total;
    list.dataset.offset = String(state.offset);
    list.dataset.total = String(page.total);
  }

  function load() {
    return fetch(url()).then(function (r) {
      if (!r.ok) throw new Error("events: HTTP " + r.status);
      return r.json();
    }).then(render).catch(function (error) { $("events-count").textContent = String(error.message || error); });
  }

  function refresh() {
    if (!list || state.offset !== 0 || pending) return;
    pending = setTimeout(function () { pending = null; load(); }, REFRESH_MS);
  }

  // first: the first page as the page itself holds it (no request needed).
  function start(first) {
    if (!list) return;
    $("event-label").addEventListener("change", function () { state.offset = 0; load(); });
    $("event-day").addEventListener("change", function () { state.offset = 0; load(); });
    $("events-older").addEventListener("click", function () { state.offset += PAGE; load(); });
    $("events-newer").addEventListener("click", function () { state.offset = Math.max(0, state.offset - PAGE); load(); });
    if (first) render(first); else load();
  }

  return { start: start, refresh: refresh, load: load };
})();
