/* soundscope report: draws the activity charts (uPlot) from the page's JSON (#report-data).
 *
 * data.hours / data.dates / data.offsets: {axis: [D positions], step, counts: per label
 * [[position indices], [counts]]}; labels are in the page's order (most events first).
 * The archive-wide charts draw the first data.chartLabels labels; each label's own
 * charts are drawn when its section scrolls into view.  window.soundscopeReport
 * keeps the charts (uPlot instances) for inspection.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  // Okabe-Ito's colour-blind-safe palette (yellow darkened to read on white).
  var COLORS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#6b6b6b", "#b39b00"];
  var WIDE_HEIGHT = 240;
  var MINI_HEIGHT = 150;
  var COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000,
                     1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 2.5e5, 5e5, 1e6, 2e6, 5e6, 1e7];
  var DAY = 86400;
  var DAY_STEPS = [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 182 * DAY, 364 * DAY,
                   728 * DAY, 1820 * DAY];
  var TITLES = {hours: "By hour of day", dates: "By date", offsets: "By offset in the file"};
  var charts = [];
  window.soundscopeReport = {data: data, charts: charts};

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(seconds) {
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? h + ":" + pad(m) + ":" + pad(s % 60) : m + ":" + pad(s % 60);
  }

  function dense(pair, size) {
    var values = new Array(size).fill(0);
    for (var i = 0; i < pair[0].length; i++) values[pair[0][i]] = pair[1][i];
    return values;
  }

  // x positions of axis values: bins of offsets are drawn at their centres.
  function xs(kind, values) {
    var step = data[kind].step;
    return kind === "offsets" ? values.map(function (v) { return v + step / 2; }) : values.slice();
  }

  function xAxis(kind) {
    if (kind === "hours") {
      return {incrs: [1, 2, 3, 4, 6, 12], values: function (u, v) { return v.map(function (h) { return pad(h) + ":00"; }); }};
    }
    if (kind === "offsets") {
      return {values: function (u, v) { return v.map(clock); }};
    }
    var day = uPlot.fmtDate("{YYYY}-{MM}-{DD}");
    return {space: 90, incrs: DAY_STEPS,
            values: function (u, v) { return v.map(function (ts) { return day(utcDate(ts)); }); }};
  }

  function utcDate(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

  function options(kind, el, series, height, title) {
    var step = data[kind].step;
    var opts = {
      title: title,
      legend: {show: !title},
      width: Math.max(el.clientWidth, 200),
      height: height,
      cursor: {drag: {x: true, y: false}},
      scales: {
        x: {time: kind === "dates", range: function (u, min, max) {
          if (kind === "hours") return [-0.5, 23.5];
          return [min - step / 2, max + step / 2];
        }},
        y: {range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; }}
      },
      axes: [xAxis(kind), {incrs: COUNT_STEPS, size: 52, label: "events", labelSize: 16}],
      series: [{label: kind === "hours" ? "hour" : kind === "dates" ? "date" : "offset",
                value: kind === "offsets" ? function (u, v) { return v == null ? "" : clock(v - step / 2); } :
                       kind === "hours" ? function (u, v) { return v == null ? "" : pad(v) + ":00"; } : undefined}]
                .concat(series)
    };
    if (kind === "dates") {
      opts.tzDate = utcDate;
      opts.series[0].value = "{YYYY}-{MM}-{DD}";
    }
    return opts;
  }

  function draw(el, kind, opts, columns, height) {
    el.textContent = "";
    var chart = new uPlot(opts, columns, el);
    charts.push({el: el, kind: kind, chart: chart, height: height});
    el.dataset.drawn = "true";
    return chart;
  }

  function drawWide(el) {
    var kind = el.dataset.kind, part = data[kind], size = part.axis.length;
    var columns = [xs(kind, part.axis)], series = [];
    for (var i = 0; i < data.chartLabels; i++) {
      var color = COLORS[i % COLORS.length];
      columns.push(dense(part.counts[i], size));
      series.push({label: data.labels[i], stroke: color, width: 2, points: {size: 5, fill: color}});
    }
    draw(el, kind, options(kind, el, series, WIDE_HEIGHT), columns, WIDE_HEIGHT);
  }

  function drawMini(el, index) {
    var kind = el.dataset.kind, part = data[kind], pair = part.counts[index];
    var columns = kind === "hours" ? [xs(kind, part.axis), dense(pair, part.axis.length)]
        : [xs(kind, pair[0].map(function (p) { return part.axis[p]; })), pair[1].slice()];
    var color = COLORS[index % COLORS.length];
    var series = [{label: data.labels[index], stroke: color, fill: color + "b0", width: 1,
                   paths: uPlot.paths.bars({size: [0.8, 48]}), points: {show: false}}];
    draw(el, kind, options(kind, el, series, MINI_HEIGHT, TITLES[kind]), columns, MINI_HEIGHT);
  }

  document.querySelectorAll(".chart.wide").forEach(drawWide);

  var minis = document.querySelectorAll(".chart.mini");
  function showMini(el) {
    if (el.dataset.drawn) return;
    drawMini(el, Number(el.closest("section.label").dataset.index));
  }
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        observer.unobserve(entry.target);
        showMini(entry.target);
      });
    }, {rootMargin: "400px 0px"});
    minis.forEach(function (el) { observer.observe(el); });
  } else {
    minis.forEach(showMini);
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      charts.forEach(function (c) { c.chart.setSize({width: Math.max(c.el.clientWidth, 200), height: c.height}); });
    }, 100);
  });
})();
