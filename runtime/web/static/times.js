// Times on the page: shown in the browser's local time, UTC in the tooltip.
// Every <time datetime="...Z"> the server wrote is converted on load.
var soundscopeTimes = (function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // Date -> "2026-11-26 13:00:03" in local time (date left out when short).
  function local(date, short) {
    var time = pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
    if (short) return time;
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " + time;
  }

  // Date -> "2026-11-26 12:00:03 UTC".
  function utc(date) {
    return date.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  // Fills a <time> element from an ISO-8601 UTC string.
  function show(element, iso) {
    var date = new Date(iso);
    element.dateTime = iso;
    element.textContent = local(date);
    element.title = utc(date);
    return element;
  }

  function make(iso) { return show(document.createElement("time"), iso); }

  function localizeAll(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) show(times[i], times[i].getAttribute("datetime"));
  }

  document.addEventListener("DOMContentLoaded", function () { localizeAll(); });
  return { local: local, utc: utc, show: show, make: make, localizeAll: localizeAll };
})();
