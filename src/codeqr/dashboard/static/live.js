/* The live events page: shows the newest events the page came with, then follows
   /api/events/stream (Server-Sent Events, session cookie) from the newest of them and puts
   each click, lead, sale or refund at the top of the list as it arrives. Times read
   relative ("2 min ago"); the list can show one type only, and be paused. */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var feed = document.getElementById("feed");
  var empty = document.getElementById("feed-empty");
  var status = document.getElementById("stream-status");
  var KEEP = 200;
  var seen = {};
  var none = document.getElementById("feed-none");
  var held = document.getElementById("held");
  var pauseButton = document.getElementById("pause");
  var clock = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  var show = "all";
  var linkSelect = document.getElementById("feed-link");
  var onlyLink = "";
  var LINK_CHOICES = 100;
  var paused = false;
  var waiting = [];

  var STATES = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    offline: "Disconnected — reload the page to try again"
  };
  function setState(state) {
    status.setAttribute("data-state", state);
    status.querySelector(".status-text").textContent = STATES[state];
  }

  function money(minor, currency) {
    if (minor === null || minor === undefined || !currency) { return ""; }
    var code = String(currency).toUpperCase();
    try {
      var fmt = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
      var units = fmt.resolvedOptions().maximumFractionDigits;
      return fmt.format(minor / Math.pow(10, units));
    } catch (e) {
      return code + " " + minor;
    }
  }
  function shortOf(link) {
    if (!link) { return "(deleted link)"; }
    var short = link.shortLink || ((link.domain || "") + "/" + (link.key || ""));
    return short.replace(/^https?:\/\//, "");
  }
  function who(customer) {
    if (!customer) { return "A customer"; }
    return customer.name || customer.email || customer.externalId || customer.id || "A customer";
  }
  function where(click) {
    if (!click) { return ""; }
    return [click.country, click.device, click.browser, click.referer && click.referer !== "(direct)" ? "from " + click.referer : ""]
      .filter(function (part) { return part; }).join(" · ");
  }

  function describe(kind, data) {
    var link = shortOf(data.link);
    var sale = data.sale || {};
    if (kind === "click") {
      return { title: link, meta: [data.click && data.click.qr ? "QR scan" : "", where(data.click), data.link && data.link.url ? "→ " + data.link.url : ""].filter(Boolean).join(" · ") };
    }
    if (kind === "lead") {
      return { title: who(data.customer) + " — " + (data.eventName || "lead"), meta: "via " + link + (where(data.click) ? " · " + where(data.click) : "") };
    }
    var refund = data.refund || {};
    var amount = kind === "refund" ? money(refund.amount !== undefined ? refund.amount : (sale.amount !== undefined ? sale.amount : data.amount), refund.currency || sale.currency || data.currency)
      : money(sale.amount, sale.currency);
    return { title: who(data.customer) + " — " + (kind === "refund" ? "refund" : (data.eventName || "sale")), meta: "via " + link, amount: amount };
  }

  function ago(when) {
    var seconds = Math.round((when.getTime() - Date.now()) / 1000);
    if (!relative) { return clock.format(when); }
    if (seconds > -10) { return "just now"; }
    var steps = [[60, "second"], [3600, "minute"], [86400, "hour"], [Infinity, "day"]];
    var size = 1;
    for (var i = 0; i < steps.length; i++) {
      if (-seconds < steps[i][0]) { return relative.format(Math.round(seconds / size), steps[i][1]); }
      size = steps[i][0];
    }
    return clock.format(when);
  }
  function tick() {
    feed.querySelectorAll("time[datetime]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (!isNaN(when.getTime())) { node.textContent = ago(when); }
    });
  }

  function filtered() {
    var shown = 0;
    Array.prototype.forEach.call(feed.children, function (item) {
      var on = (show === "all" || item.getAttribute("data-kind") === show) &&
        (!onlyLink || item.getAttribute("data-link") === onlyLink);
      item.classList.toggle("hidden", !on);
      if (on) { shown++; }
    });
    var any = feed.children.length > 0;
    empty.classList.toggle("hidden", any);
    none.classList.toggle("hidden", !any || shown > 0);
    none.textContent = any && !shown ? "No " + (show === "all" ? "event" : show) + "s " + (onlyLink ? "of this link " : "") + "among the latest events." : "";
  }

  function add(kind, id, data, past) {
    if (id && seen[id]) { return; }
    if (id) { seen[id] = true; }
    var text = describe(kind, data);
    var item = document.createElement("li");
    item.className = "event event-" + kind + (past ? " past" : "");
    item.setAttribute("data-kind", kind);
    if (id) { item.setAttribute("data-id", id); }
    var linkId = data.link && data.link.id ? data.link.id : "";
    item.setAttribute("data-link", linkId);
    if (linkId && !linkSelect.querySelector('option[value="' + CSS.escape(linkId) + '"]') &&
        linkSelect.options.length <= LINK_CHOICES) {
      var option = document.createElement("option");
      option.value = linkId;
      option.textContent = shortOf(data.link);
      linkSelect.appendChild(option);
    }
    var badge = document.createElement("span");
    badge.className = "event-kind";
    badge.textContent = kind;
    var main = document.createElement("div");
    main.className = "event-main";
    var title = document.createElement("div");
    title.className = "event-title";
    title.textContent = text.title;
    var meta = document.createElement("div");
    meta.className = "event-meta";
    meta.textContent = text.meta;
    main.appendChild(title);
    main.appendChild(meta);
    var side = document.createElement("div");
    side.className = "event-side";
    if (text.amount) {
      var amount = document.createElement("span");
      amount.className = "event-amount";
      amount.textContent = (kind === "refund" ? "−" : "") + text.amount;
      side.appendChild(amount);
    }
    var when = new Date(data.timestamp || Date.now());
    var time = document.createElement("time");
    if (!isNaN(when.getTime())) {
      time.setAttribute("datetime", when.toISOString());
      time.setAttribute("title", clock.format(when));
      time.textContent = ago(when);
    }
    side.appendChild(time);
    item.appendChild(badge);
    item.appendChild(main);
    item.appendChild(side);
    item.classList.toggle("hidden", (show !== "all" && show !== kind) || (onlyLink !== "" && onlyLink !== linkId));
    feed.insertBefore(item, feed.firstChild);
    while (feed.children.length > KEEP) { feed.removeChild(feed.lastChild); }
  }

  function receive(kind, event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (paused) {
      waiting.push([kind, event.lastEventId, data]);
      if (waiting.length > KEEP) { waiting.shift(); }
      held.textContent = waiting.length + (waiting.length === 1 ? " new event" : " new events") + " held while paused";
      return;
    }
    add(kind, event.lastEventId, data);
    filtered();
  }

  // The events the page came with (oldest first), then the stream from the newest of them.
  var history = [];
  try { history = JSON.parse(document.getElementById("history").textContent || "[]"); } catch (e) { history = []; }
  history.forEach(function (entry) { add(entry.type, entry.id, entry.data, true); });
  filtered();
  window.setInterval(tick, 10000);

  document.querySelectorAll("[data-show]").forEach(function (button) {
    button.addEventListener("click", function () {
      show = button.getAttribute("data-show");
      document.querySelectorAll("[data-show]").forEach(function (other) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      });
      filtered();
    });
  });
  linkSelect.addEventListener("change", function () {
    onlyLink = linkSelect.value;
    filtered();
  });
  pauseButton.addEventListener("click", function () {
    paused = !paused;
    pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      waiting.forEach(function (entry) { add(entry[0], entry[1], entry[2]); });
      waiting = [];
      held.textContent = "";
      filtered();
    } else {
      held.textContent = "Paused: new events are held";
    }
  });

  var url = live.getAttribute("data-stream");
  if (history.length) { url += "&lastEventId=" + encodeURIComponent(history[history.length - 1].id); }
  var source = new EventSource(url);
  source.addEventListener("open", function () { setState("live"); });
  source.addEventListener("error", function () {
    setState(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
  });
  ["click", "lead", "sale", "refund"].forEach(function (kind) {
    source.addEventListener(kind, function (event) { receive(kind, event); });
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
