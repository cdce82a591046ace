/* The theme chosen with the sidebar's toggle, put on <html> before the first paint (this file
   is loaded in <head>, neither deferred nor async, so no page flashes in the other theme).
   No choice stored: the system's, through the CSS's prefers-color-scheme. */
(function () {
  "use strict";
  try {
    var chosen = window.localStorage.getItem("codeqr-theme");
    if (chosen === "light" || chosen === "dark") {
      document.documentElement.setAttribute("data-theme", chosen);
    }
  } catch (e) { /* storage refused: the system's theme */ }
})();
