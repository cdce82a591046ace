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
