/* CodeQR dashboard: behaviour shared by every page (no inline handlers: CSP-safe). */
(function () {
  "use strict";

  // The menu of narrow screens.
  var toggle = document.querySelector(".menu-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = document.body.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // The theme toggle: light, dark or the system's; kept in localStorage and put on <html>
  // (theme.js does it again before the first paint of the next page). Charts listen for
  // "codeqr:theme" to take the new colours.
  var root = document.documentElement;
  var choices = document.querySelectorAll("[data-theme-choice]");
  function stored() {
    try { return window.localStorage.getItem("codeqr-theme") || "system"; } catch (e) { return "system"; }
  }
  function showChoice(choice) {
    choices.forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-theme-choice") === choice ? "true" : "false");
    });
  }
  function themeChanged() { document.dispatchEvent(new CustomEvent("codeqr:theme")); }
  showChoice(stored());
  choices.forEach(function (button) {
    button.addEventListener("click", function () {
      var choice = button.getAttribute("data-theme-choice");
      try {
        if (choice === "system") { window.localStorage.removeItem("codeqr-theme"); }
        else { window.localStorage.setItem("codeqr-theme", choice); }
      } catch (e) { /* not kept, but applied to this page */ }
      if (choice === "system") { root.removeAttribute("data-theme"); }
      else { root.setAttribute("data-theme", choice); }
      showChoice(choice);
      themeChanged();
    });
  });
  if (window.matchMedia) {
    var system = window.matchMedia("(prefers-color-scheme: dark)");
    if (system.addEventListener) { system.addEventListener("change", themeChanged); }
  }

  // A table too wide for its box scrolls sideways in its .table-wrap: while it does, the
  // keyboard can reach the box (tabindex 0) and a screen reader hears it as a region named
  // after its table or heading. Boxes given these in the template are left alone.
  function nameOf(wrap) {
    var table = wrap.querySelector("table");
    var holder = wrap.closest("section, .card");
    var heading = holder && holder.querySelector("h2");
    if (!heading) { heading = document.querySelector("main h1"); }
    return (table && table.getAttribute("aria-label")) || (heading ? heading.textContent.trim() : "Table");
  }
  function reachScrolledTables() {
    document.querySelectorAll(".table-wrap:not([tabindex]), .table-wrap[data-reach=auto]").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        wrap.setAttribute("data-reach", "auto");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", nameOf(wrap));
      } else if (wrap.getAttribute("data-reach") === "auto") {
        ["data-reach", "tabindex", "role", "aria-label"].forEach(function (name) { wrap.removeAttribute(name); });
      }
    });
  }
  reachScrolledTables();
  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(reachScrolledTables, 100);
  });

  // Copy buttons: <button data-copy="text">.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "sr-only";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var label = button.textContent;
    copyText(button.getAttribute("data-copy")).then(function () {
      button.textContent = "Copied";
    }, function () {
      button.textContent = "Select and copy";
    });
    window.setTimeout(function () { button.textContent = label; }, 1600);
  });

  // Forms that ask first: <form data-confirm="Question?">.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });

  // Times are rendered in UTC by the server; show them in the reader's own time.
  var format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var when = new Date(node.getAttribute("datetime"));
    if (!isNaN(when.getTime())) {
      node.title = node.textContent;
      node.textContent = format.format(when);
    }
  });
})();

/* Bulk selection of the links list (s26-links-settings). */
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = document.querySelector("[data-bulk-all]");
  var count = form.querySelector("[data-bulk-count]");
  var idle = count ? count.textContent : "";
  function picks() { return document.querySelectorAll("[data-bulk-pick]"); }
  function update() {
    var n = 0;
    picks().forEach(function (box) { if (box.checked) { n += 1; } });
    if (count) { count.textContent = n ? n + " selected" : idle; }
    if (all) { all.checked = n > 0 && n === picks().length; }
  }
  if (all) {
    all.addEventListener("change", function () {
      picks().forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  picks().forEach(function (box) { box.addEventListener("change", update); });
  form.addEventListener("submit", function (event) {
    var action = form.querySelector("[name=action]");
    if (action && action.value === "delete" && !window.confirm(form.getAttribute("data-confirm-delete"))) {
      event.preventDefault();
    }
  });
})();
