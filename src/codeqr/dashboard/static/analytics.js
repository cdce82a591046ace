/* The analytics page: reads its data from the dashboard's JSON route and draws it with
   Chart.js (served by the app from /static/vendor). */
(function () {
  "use strict";
  var root = document.getElementById("analytics");
  if (!root || !window.Chart) { return; }

  // The charts' colours are the CSS's (--c-clicks…, light or dark): read again on a theme change.
  var COLORS = {};
  function cssColor(name) { return getComputedStyle(document.documentElement).getPropertyValue("--" + name).trim(); }
  function readColors() {
    ["clicks", "leads", "sales", "revenue"].forEach(function (name) { COLORS[name] = cssColor("c-" + name); });
    Chart.defaults.color = cssColor("muted");
    Chart.defaults.borderColor = cssColor("c-grid");
  }
  var params = new URLSearchParams(window.location.search);
  var browserZone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  var zone = params.get("timezone") || browserZone;
  var numbers = new Intl.NumberFormat();
  var percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
  var regions = window.Intl && Intl.DisplayNames ? new Intl.DisplayNames(undefined, { type: "region" }) : null;

  // -- the filter form --------------------------------------------------------------------
  var form = document.getElementById("analytics-form");
  var zoneSelect = document.getElementById("timezone");
  function fillZones() {
    var zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    var all = [zone, browserZone, "UTC"].concat(zones);
    var seen = {};
    zoneSelect.textContent = "";
    all.forEach(function (name) {
      if (seen[name]) { return; }
      seen[name] = true;
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name === browserZone ? name + " (yours)" : name;
      option.selected = name === zone;
      zoneSelect.appendChild(option);
    });
  }
  fillZones();
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () { form.requestSubmit(); });
  });
  document.querySelectorAll("[data-remove-filter]").forEach(function (link) {
    var without = new URLSearchParams(params);
    without.delete(link.getAttribute("data-remove-filter"));
    link.setAttribute("href", "?" + without.toString());
  });

  // -- formatting -------------------------------------------------------------------------
  var money = function (minor) { return String(minor); };
  var wholeMoney = function (major) { return String(major); };
  var minorUnits = 2;
  function setCurrency(code, units) {
    var fmt, whole;
    minorUnits = units;
    try {
      fmt = new Intl.NumberFormat(undefined, { style: "currency", currency: code, minimumFractionDigits: units, maximumFractionDigits: units });
      whole = new Intl.NumberFormat(undefined, { style: "currency", currency: code, minimumFractionDigits: 0, maximumFractionDigits: 0 });
    } catch (e) {
      fmt = new Intl.NumberFormat(undefined, { minimumFractionDigits: units, maximumFractionDigits: units });
      whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
    }
    money = function (minor) { return fmt.format((minor || 0) / Math.pow(10, units)); };
    wholeMoney = function (major) { return whole.format(major); };
  }
  function rate(value) { return value === null || value === undefined ? "—" : percent.format(value); }

  // Bucket starts carry the local wall time of the chosen zone: read as written. The step
  // (hour, day or month) is the server's, from the chosen range: one monthly bucket would
  // otherwise look like a day.
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function bucketLabel(start, unit, full) {
    var month = MONTHS[parseInt(start.slice(5, 7), 10) - 1];
    var day = parseInt(start.slice(8, 10), 10);
    if (unit === "hour") { return full ? month + " " + day + ", " + start.slice(11, 16) : start.slice(11, 16); }
    if (unit === "month") { return month + " " + start.slice(0, 4); }
    return full ? month + " " + day + ", " + start.slice(0, 4) : month + " " + day;
  }

  // -- drawing ----------------------------------------------------------------------------
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  readColors();
  Chart.defaults.animation = false;
  var base = {
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom", labels: { usePointStyle: true, boxWidth: 8, boxHeight: 8 } } }
  };
  function drawn(canvas, chart, values) {
    var sum = values.reduce(function (a, b) { return a + b; }, 0);
    canvas.setAttribute("data-points", String(values.length));
    canvas.setAttribute("data-total", String(sum));
    return chart;
  }

  // One time series at a time, chosen with the number cards above it (one y-axis: 12 leads
  // are never drawn as tall as 93 clicks).
  var METRICS = {
    clicks: { label: "Clicks", color: COLORS.clicks, none: "No clicks in this period." },
    leads: { label: "Leads", color: COLORS.leads, none: "No leads in this period." },
    sales: { label: "Sales", color: COLORS.sales, none: "No sales in this period." },
    saleAmount: { label: "Revenue", color: COLORS.revenue, none: "No revenue in this period." }
  };
  var STEPS = { hour: "by hour", day: "by day", month: "by month" };
  var metric = METRICS[params.get("metric")] ? params.get("metric") : "clicks";  // kept in the URL
  var shown = null;
  var seriesChart = null;
  var funnelChart = null;
  function paintMetrics() {
    METRICS.clicks.color = COLORS.clicks; METRICS.leads.color = COLORS.leads;
    METRICS.sales.color = COLORS.sales; METRICS.saleAmount.color = COLORS.revenue;
  }
  document.addEventListener("codeqr:theme", function () {
    readColors();
    paintMetrics();
    if (shown) { drawSeries(shown.series, shown.unit); }
    if (funnelChart) { drawFunnel(funnelChart.shownFunnel); }
  });

  function drawSeries(series, unit) {
    shown = { series: series, unit: unit };
    var spec = METRICS[metric];
    var isMoney = metric === "saleAmount";
    var scale = isMoney ? Math.pow(10, minorUnits) : 1;
    var raw = series.map(function (row) { return row[metric]; });
    var values = raw.map(function (v) { return v / scale; });  // money in whole units: integer ticks
    var empty = raw.every(function (v) { return !v; });
    document.getElementById("granularity").textContent = STEPS[unit] + " · " + zone;
    document.getElementById("over-time-title").textContent = spec.label + " over time";
    var note = document.getElementById("chart-empty");
    note.textContent = spec.none;
    note.classList.toggle("hidden", !empty);
    var canvas = document.getElementById("timeseries-chart");
    canvas.setAttribute("aria-label", spec.label + " over time, " + STEPS[unit]);
    canvas.setAttribute("data-metric", metric);
    canvas.setAttribute("data-step", unit);
    canvas.setAttribute("data-empty", empty ? "true" : "false");
    if (seriesChart) { seriesChart.destroy(); }
    var format = function (v) { return isMoney ? wholeMoney(v) : numbers.format(v); };
    seriesChart = new Chart(canvas, {
      type: "line",
      data: { labels: series.map(function (row) { return bucketLabel(row.start, unit, false); }), datasets: [{
        label: spec.label, data: values, borderColor: spec.color, backgroundColor: spec.color + "22",
        borderWidth: 2, fill: "origin", tension: 0.3, pointRadius: values.length > 40 ? 0 : 3, pointHoverRadius: 5
      }] },
      options: Object.assign({}, base, {
        plugins: { legend: { display: false }, tooltip: { callbacks: {
          title: function (items) { return items.length ? bucketLabel(series[items[0].dataIndex].start, unit, true) : ""; },
          label: function (ctx) { return spec.label + ": " + (isMoney ? money(raw[ctx.dataIndex]) : numbers.format(ctx.raw)); }
        } } },
        scales: {
          // offset: each bucket owns a slot and its point sits in the middle, so a lone
          // point is not pinned to the axis.
          x: { offset: true, grid: { display: false }, ticks: { maxTicksLimit: 8, maxRotation: 0, autoSkip: true } },
          y: { beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 6, callback: format } }
        }
      })
    });
    drawn(canvas, seriesChart, raw);
  }

  var tabs = Array.prototype.slice.call(root.querySelectorAll('[role="tab"][data-metric]'));
  function choose(tab, focus) {
    metric = tab.getAttribute("data-metric");
    tabs.forEach(function (other) {
      var on = other === tab;
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.setAttribute("tabindex", on ? "0" : "-1");
    });
    document.getElementById("over-time").setAttribute("aria-labelledby", tab.id);
    // A reload, a new period or a filter keeps the measure chosen.
    var kept = document.getElementById("metric-kept");
    if (kept) { kept.value = metric; }
    params.set("metric", metric);
    window.history.replaceState(null, "", "?" + params.toString() + window.location.hash);
    document.querySelectorAll("a.bar, [data-remove-filter]").forEach(function (link) {
      var next = new URLSearchParams((link.getAttribute("href") || "?").split("?")[1] || "");
      next.set("metric", metric);
      link.setAttribute("href", "?" + next.toString());
    });
    if (focus) { tab.focus(); }
    if (shown) { drawSeries(shown.series, shown.unit); }
  }
  tabs.forEach(function (tab, i) {
    if (tab.getAttribute("data-metric") === metric && metric !== "clicks") { choose(tab, false); }
    tab.addEventListener("click", function () { choose(tab, false); });
    tab.addEventListener("keydown", function (event) {
      var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (event.key === "Home") { step = -i; } else if (event.key === "End") { step = tabs.length - 1 - i; }
      if (step === undefined) { return; }
      event.preventDefault();
      choose(tabs[(i + step + tabs.length) % tabs.length], true);
    });
  });

  function drawFunnel(funnel) {
    var canvas = document.getElementById("funnel-chart");
    var counts = funnel.steps.map(function (step) { return step.count; });
    if (funnelChart) { funnelChart.destroy(); }
    funnelChart = drawn(canvas, new Chart(canvas, {
      type: "bar",
      data: { labels: ["Clicks", "Leads", "Sales"], datasets: [{ label: "Count", data: counts,
        backgroundColor: [COLORS.clicks, COLORS.leads, COLORS.sales], borderRadius: 4, barPercentage: 0.8 }] },
      options: Object.assign({}, base, { indexAxis: "y", plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0, maxTicksLimit: 5 } }, y: { grid: { display: false } } } })
    }), counts);
    funnelChart.shownFunnel = funnel;
    var body = document.querySelector("#funnel-table tbody");
    var headings = Array.prototype.map.call(document.querySelectorAll("#funnel-table thead th"), function (th) { return th.textContent; });
    body.textContent = "";
    funnel.steps.forEach(function (step) {
      var row = document.createElement("tr");
      var count = numbers.format(step.count) + (step.saleAmount !== null && step.saleAmount !== undefined ? " · " + money(step.saleAmount) : "");
      var cells = [step.step, count, rate(step.shareOfClicks), rate(step.conversionRate),
        step.dropOff === null ? "—" : numbers.format(step.dropOff) + " (" + rate(step.dropOffRate) + ")"];
      cells.forEach(function (text, i) {
        var cell = document.createElement("td");
        cell.textContent = text;
        cell.setAttribute("data-label", headings[i]);  // a phone shows each step as a card
        if (i > 0) { cell.className = "num"; }
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
  }

  function rowLabel(name, value, label) {
    if (name === "countries" && regions && /^[A-Z]{2}$/.test(value || "")) {
      try { return regions.of(value) + " (" + value + ")"; } catch (e) { return label; }
    }
    return label;
  }

  function drawBreakdowns(breakdowns) {
    Object.keys(breakdowns).forEach(function (name) {
      var section = document.querySelector('[data-breakdown="' + name + '"] .bars');
      if (!section) { return; }
      var found = breakdowns[name];
      section.textContent = "";
      if (!found.rows.length) {
        var none = document.createElement("li");
        none.className = "none";
        none.textContent = "No data for this period.";
        section.appendChild(none);
        return;
      }
      var top = Math.max.apply(null, found.rows.map(function (r) { return r.clicks; })) || 1;
      found.rows.forEach(function (row) {
        var item = document.createElement("li");
        var bar = document.createElement(row.value ? "a" : "div");
        bar.className = "bar";
        if (row.value) {
          var next = new URLSearchParams(params);
          next.set(found.filter, row.value);
          bar.setAttribute("href", "?" + next.toString());
          bar.setAttribute("title", "Show only " + row.label);
        }
        var fill = document.createElement("span");
        fill.className = "bar-fill";
        fill.style.width = Math.max(2, Math.round(100 * row.clicks / top)) + "%";
        var label = document.createElement("span");
        label.className = "bar-label";
        var text = rowLabel(name, row.value, row.label);
        var tail = row.key ? "/" + row.key : "";
        if (tail && text.slice(-tail.length) === tail) {
          // The host may be shortened on a narrow page; the key, which tells links apart, not.
          label.classList.add("split-label");
          var host = document.createElement("span");
          host.className = "bar-host";
          host.textContent = text.slice(0, -tail.length);
          var key = document.createElement("span");
          key.className = "bar-key";
          key.textContent = tail;
          label.appendChild(host);
          label.appendChild(key);
        } else {
          label.textContent = text;
        }
        var value = document.createElement("span");
        value.className = "bar-value";
        value.textContent = numbers.format(row.clicks);
        if (shareTotal) {
          var share = document.createElement("span");
          share.className = "bar-share";
          share.textContent = percent.format(row.clicks / shareTotal);
          value.appendChild(share);
        }
        if (row.sales || row.leads) {
          var extra = document.createElement("span");
          extra.className = "bar-extra";
          extra.textContent = numbers.format(row.leads) + (row.leads === 1 ? " lead · " : " leads · ") + money(row.saleAmount);
          value.appendChild(extra);
        }
        bar.appendChild(fill);
        bar.appendChild(label);
        bar.appendChild(value);
        item.appendChild(bar);
        section.appendChild(item);
      });
    });
  }

  // Change against the range just before, as long as this one (none for all time, or when
  // the plan does not reach that far back).
  function change(now, before) {
    if (before === null || before === undefined) { return null; }
    if (!before) { return now ? { text: "new", trend: "up", words: "none in the previous period" } : { text: "", trend: "flat", words: "" }; }
    var ratio = (now - before) / before;
    var shown = percent.format(Math.abs(ratio));
    if (Math.abs(ratio) < 0.0005) { return { text: "±0%", trend: "flat", words: "the same as the previous period" }; }
    var up = ratio > 0;
    return { text: (up ? "▲ " : "▼ ") + shown, trend: up ? "up" : "down",
      words: (up ? "up " : "down ") + shown + " on the previous period" };
  }
  var shareTotal = 0;

  function drawSummary(data) {
    setCurrency(data.currency, data.minorUnits);
    shareTotal = data.totals.clicks || 0;
    var before = data.previous ? data.previous.totals : null;
    Object.keys(data.totals).forEach(function (key) {
      var node = root.querySelector('[data-kpi="' + key + '"]');
      if (node) { node.textContent = key === "saleAmount" ? money(data.totals[key]) : numbers.format(data.totals[key]); }
      var note = root.querySelector('[data-change="' + key + '"]');
      var moved = before ? change(data.totals[key], before[key]) : null;
      if (note) {
        note.textContent = "";
        note.setAttribute("data-trend", moved ? moved.trend : "none");
        if (moved && moved.text) {
          var seen = document.createElement("span");
          seen.setAttribute("aria-hidden", "true");
          seen.textContent = moved.text;
          var said = document.createElement("span");
          said.className = "sr-only";
          said.textContent = moved.words;
          note.appendChild(seen);
          note.appendChild(said);
          note.setAttribute("title", moved.words);
        }
      }
    });
    drawSeries(data.timeseries, data.granularity);
    drawFunnel(data.funnel);
  }

  function finish(state) {
    root.classList.remove("is-loading");
    root.setAttribute("aria-busy", "false");
    root.setAttribute("data-state", state);
    window.performance && performance.mark && performance.mark("codeqr:analytics-drawn");
  }

  function fail(message) {
    var box = document.getElementById("analytics-error");
    box.textContent = message;
    box.classList.remove("hidden");
    root.querySelectorAll(".bars").forEach(function (list) { list.textContent = ""; });
    finish("error");
  }

  var query = new URLSearchParams(params);
  query.delete("metric");  // the page's, not the data's
  query.set("timezone", zone);
  if (!query.get("interval") && !query.get("start")) { query.set("interval", "30d"); }
  var FAILED = "The analytics could not be loaded. Check your connection and reload the page; if you were signed out, sign in again.";

  // The summary and each breakdown are asked for side by side: the server answers them in
  // parallel, and each part is drawn as soon as it arrives.
  function load(part) {
    var ask = new URLSearchParams(query);
    ask.set("part", part);
    return fetch(root.getAttribute("data-endpoint") + "?" + ask.toString(), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          var error = body && body.error;
          throw new Error((error && error.message) || FAILED);
        }
        return body;
      }, function () { throw new Error(FAILED); });
    });
  }
  root.querySelectorAll("[data-csv]").forEach(function (link) {
    var ask = new URLSearchParams(query);
    ask.set("part", link.getAttribute("data-csv"));
    ask.set("format", "csv");
    link.setAttribute("href", root.getAttribute("data-endpoint") + "?" + ask.toString());
  });
  var summary = load("summary");
  var parts = Array.prototype.map.call(document.querySelectorAll("[data-breakdown]"), function (node) {
    var part = load(node.getAttribute("data-breakdown"));
    part.catch(function () { return null; });  // reported once, by the chain below
    return part;
  });
  summary.then(function (data) {
    drawSummary(data);
    return Promise.all(parts.map(function (part) { return part.then(function (body) { drawBreakdowns(body.breakdowns); }); }));
  }).then(function () {
    finish("ready");
  }).catch(function (error) {
    fail(error && error.message ? error.message : FAILED);
  });
})();
