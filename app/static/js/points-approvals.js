// Approval queue: one box ticks every entry of the page for "批量通过".
(function () {
  "use strict";
  var all = document.getElementById("check-all");
  var label = document.getElementById("check-all-label");
  if (!all) return;
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=entry_ids]"));
  if (!boxes.length) return;
  all.hidden = false;
  label.hidden = false;
  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
  });
})();
