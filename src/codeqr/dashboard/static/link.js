/* A link's page: the QR code's preview follows the colours, size and logo chosen, and the
   download buttons (a plain GET form, which works without this script) use the same. */
(function () {
  "use strict";
  var form = document.getElementById("qr-style");
  var preview = document.getElementById("qr-preview");
  if (!form || !preview) { return; }
  function chosen(size) {
    var ask = new URLSearchParams();
    ask.set("size", size);
    ask.set("fg", form.elements.fg.value);
    ask.set("bg", form.elements.bg.value);
    if (form.elements.logo.checked) { ask.set("logo", "true"); }
    return ask;
  }
  function redraw() {
    preview.src = preview.getAttribute("data-base") + ".png?" + chosen("400").toString();
  }
  form.addEventListener("input", redraw);
  form.addEventListener("change", redraw);
})();
