/* CodeQR client-side attribution (served at /_/script.js; SPEC §7).
 * Keeps the click id of the landing URL (?cq_id=…) in a first-party cookie, decorates Stripe
 * links and elements with it, and sends leads and sales with a publishable key.
 * Plain ES2017, no build step. */
(function () {
  "use strict";
  if (window.codeqrAnalytics && window.codeqrAnalytics.version) return; // included twice

  var COOKIE = "cq_id";
  var STORAGE = "cq_id";
  var PREFIX = "codeqr_id_";
  var STRIPE_HOSTS = ["buy.stripe.com", "donate.stripe.com"];
  var STRIPE_TAGS = ["STRIPE-PRICING-TABLE", "STRIPE-BUY-BUTTON"];
  // Click ids are base62; anything else is not ours and must not reach a cookie or a URL.
  var VALID_ID = /^[A-Za-z0-9_-]{1,100}$/;

  var script = document.currentScript;
  var attr = function (name) {
    return (script && script.getAttribute("data-" + name)) || null;
  };
  var json = function (name) {
    var raw = attr(name);
    if (!raw) return {};
    try {
      var value = JSON.parse(raw);
      return value && typeof value === "object" ? value : {};
    } catch (e) {
      console.warn("codeqrAnalytics: data-" + name + " is not valid JSON");
      return {};
    }
  };

  var publishableKey = attr("publishable-key");
  var ownOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var apiHost = (attr("api-host") || ownOrigin).replace(/\/+$/, "");
  var firstClick = attr("attribution-model") === "first-click";
  var cookieOptions = json("cookie-options");
  var queryParam = attr("query-param") || "cq_id";
  var outbound = (json("domains").outbound || []).map(function (d) {
    return String(d).toLowerCase();
  });
  var decorateStripe = attr("stripe") !== "false";
  var days = Number(cookieOptions.expiresInDays) > 0 ? Number(cookieOptions.expiresInDays) : 90;

  function readCookie() {
    var match = document.cookie.match(/(?:^|;\s*)cq_id=([^;]*)/);
    var value = match ? decodeURIComponent(match[1]) : null;
    return value && VALID_ID.test(value) ? value : null;
  }

  function writeCookie(id, expiresAt) {
    var cookie = COOKIE + "=" + encodeURIComponent(id) +
      "; Expires=" + new Date(expiresAt).toUTCString() +
      "; Path=" + (cookieOptions.path || "/") + "; SameSite=Lax";
    if (cookieOptions.domain) cookie += "; Domain=" + cookieOptions.domain;
    if (location.protocol === "https:") cookie += "; Secure";
    document.cookie = cookie;
  }

  // Some browsers cut script-set cookies to 7 days (Safari ITP): the copy in localStorage
  // keeps the id for the intended lifetime and puts the cookie back.
  function readStored() {
    try {
      var stored = JSON.parse(localStorage.getItem(STORAGE) || "null");
      if (stored && VALID_ID.test(stored.clickId) && stored.expiresAt > Date.now()) return stored;
      localStorage.removeItem(STORAGE);
    } catch (e) { /* storage blocked (sandboxed frame, privacy mode) */ }
    return null;
  }

  function store(id, expiresAt) {
    writeCookie(id, expiresAt);
    try {
      localStorage.setItem(STORAGE, JSON.stringify({ clickId: id, expiresAt: expiresAt }));
    } catch (e) { /* the cookie alone then */ }
  }

  var clickId = readCookie();
  if (!clickId) {
    var stored = readStored();
    if (stored) {
      clickId = stored.clickId;
      writeCookie(clickId, stored.expiresAt);
    }
  }
  var landing = new URLSearchParams(location.search).get(queryParam);
  if (landing && VALID_ID.test(landing) && !(firstClick && clickId)) {
    clickId = landing;
    store(clickId, Date.now() + days * 864e5);
  }

  function decorateAnchor(a) {
    var url;
    try {
      url = new URL(a.href);
    } catch (e) {
      return;
    }
    var host = url.hostname.toLowerCase();
    if (decorateStripe && STRIPE_HOSTS.indexOf(host) !== -1) {
      if (url.searchParams.has("client_reference_id")) return; // the site's own value wins
      url.searchParams.set("client_reference_id", PREFIX + clickId);
    } else if (outbound.some(function (d) { return host === d || host.endsWith("." + d); })) {
      if (host === location.hostname || url.searchParams.has(queryParam)) return;
      url.searchParams.set(queryParam, clickId);
    } else {
      return;
    }
    a.href = url.toString();
  }

  function decorate(node) {
    if (!clickId || node.nodeType !== 1) return;
    if (node.tagName === "A") decorateAnchor(node);
    else if (decorateStripe && STRIPE_TAGS.indexOf(node.tagName) !== -1 &&
             !node.hasAttribute("client-reference-id")) {
      node.setAttribute("client-reference-id", PREFIX + clickId);
    }
    if (node.firstElementChild) {
      var inner = node.querySelectorAll("a[href], stripe-pricing-table, stripe-buy-button");
      for (var i = 0; i < inner.length; i++) decorate(inner[i]);
    }
  }

  function start() {
    decorate(document.documentElement);
    if (!window.MutationObserver) return;
    // Elements added later (single-page apps, lazy sections) and links whose href changes.
    new MutationObserver(function (mutations) {
      mutations.forEach(function (m) {
        if (m.type === "attributes") decorate(m.target);
        else m.addedNodes.forEach(decorate);
      });
    }).observe(document.documentElement, {
      childList: true, subtree: true, attributes: true, attributeFilter: ["href"],
    });
  }

  async function send(path, body) {
    if (!publishableKey) {
      throw { error: { code: "unauthorized", message: "The script tag has no data-publishable-key." } };
    }
    var payload = Object.assign({}, body);
    if (payload.clickId == null && clickId) payload.clickId = clickId;
    var response = await fetch(apiHost + path, {
      method: "POST",
      headers: { Authorization: "Bearer " + publishableKey, "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    var data = await response.json().catch(function () { return null; });
    if (!response.ok) {
      throw data && data.error ? data :
        { error: { code: "internal_server_error", message: "HTTP " + response.status } };
    }
    return data;
  }

  window.codeqrAnalytics = {
    version: "1",
    getClickId: function () { return clickId; },
    trackLead: function (body) { return send("/api/track/lead/client", body || {}); },
    trackSale: function (body) { return send("/api/track/sale/client", body || {}); },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
