// Batch page: filter the household list, tick all shown, count the ticked.
(function () {
  "use strict";
  var roster = document.getElementById("roster");
  if (!roster) return;
  var filter = document.getElementById("roster-filter");
  var all = document.getElementById("roster-all");
  var none = document.getElementById("roster-none");
  var count = document.getElementById("roster-count");
  var labels = Array.prototype.slice.call(roster.querySelectorAll("label[data-search]"));

  function boxes(visibleOnly) {
    return labels
      .filter(function (l) { return !visibleOnly || !l.hidden; })
      .map(function (l) { return l.querySelector("input[type=checkbox]"); });
  }

  function recount() {
    var n = boxes(false).filter(function (b) { return b.checked; }).length;
    count.textContent = count.getAttribute("data-template").replace("{n}", n);
  }

  filter.addEventListener("input", function () {
    var q = filter.value.trim().toLowerCase();
    labels.forEach(function (l) {
      l.hidden = q !== "" && l.getAttribute("data-search").toLowerCase().indexOf(q) < 0;
    });
  });
  filter.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") ev.preventDefault(); // filtering, not submitting
  });
  all.addEventListener("click", function () {
    boxes(true).forEach(function (b) { b.checked = true; });
    recount();
  });
  none.addEventListener("click", function () {
    boxes(false).forEach(function (b) { b.checked = false; });
    recount();
  });
  roster.addEventListener("change", recount);
  [filter, all, none].forEach(function (el) { el.hidden = false; });
  recount();
})();
