/* Behaviour every page shares, bound from data- attributes (the CSP runs no inline code):
   print buttons (<button data-print hidden>: shown only where JavaScript runs), forms
   that ask before an act that cannot be undone (<form data-confirm="…">), the error
   page's way back (<a data-back>), and a refused form's summary of its mistakes
   (<div data-error-summary>), brought into view with the first wrong field focused. */
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.scrollIntoView({ block: "start" });
    var first = document.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (first) { first.focus({ preventScroll: true }); } else { summary.focus({ preventScroll: true }); }
  }
  document.querySelectorAll("a[data-back]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      if (window.history.length > 1) { event.preventDefault(); window.history.back(); }
    });
  });
})();
