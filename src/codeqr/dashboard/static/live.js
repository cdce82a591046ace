/* The live events page: follows /api/events/stream (Server-Sent Events, session cookie)
   and puts each click, lead, sale or refund at the top of the list as it arrives. */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var feed = document.getElementById("feed");
  var empty = document.getElementById("feed-empty");
  var status = document.getElementById("stream-status");
  var KEEP = 200;
  var seen = {};
  var clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

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

  function add(kind, event) {
    var id = event.lastEventId;
    if (id && seen[id]) { return; }
    if (id) { seen[id] = true; }
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    var text = describe(kind, data);
    var item = document.createElement("li");
    item.className = "event event-" + kind;
    item.setAttribute("data-kind", kind);
    if (id) { item.setAttribute("data-id", id); }
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
    time.setAttribute("datetime", isNaN(when.getTime()) ? "" : when.toISOString());
    time.textContent = isNaN(when.getTime()) ? "" : clock.format(when);
    side.appendChild(time);
    item.appendChild(badge);
    item.appendChild(main);
    item.appendChild(side);
    feed.insertBefore(item, feed.firstChild);
    empty.classList.add("hidden");
    while (feed.children.length > KEEP) { feed.removeChild(feed.lastChild); }
  }

  var source = new EventSource(live.getAttribute("data-stream"));
  source.addEventListener("open", function () { setState("live"); });
  source.addEventListener("error", function () {
    setState(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
  });
  ["click", "lead", "sale", "refund"].forEach(function (kind) {
    source.addEventListener(kind, function (event) { add(kind, event); });
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
