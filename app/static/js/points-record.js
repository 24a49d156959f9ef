// Record page: find a household as you type (fills the hidden household_id), and say
// when the chosen rule needs a photo. Without JavaScript the number typed is enough.
(function () {
  "use strict";
  var input = document.getElementById("household");
  var hidden = document.getElementById("household_id");
  var list = document.getElementById("household-suggestions");
  if (!input || !hidden || !list) return;
  var url = input.getAttribute("data-lookup");
  var timer = null;
  var asked = 0;
  var items = [];
  var active = -1;

  function hide() {
    list.hidden = true;
    list.innerHTML = "";
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
  }

  function choose(h) {
    hidden.value = String(h.id);
    input.value = h.number + " " + h.head_name;
    hide();
  }

  function highlight(i) {
    var buttons = list.querySelectorAll("button");
    active = Math.max(-1, Math.min(i, buttons.length - 1));
    buttons.forEach(function (b, j) {
      b.setAttribute("aria-selected", j === active ? "true" : "false");
      b.style.background = j === active ? "#f3e7e6" : "";
    });
  }

  function show(found) {
    list.innerHTML = "";
    items = found;
    active = -1;
    if (!found.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = list.getAttribute("data-empty");
      list.appendChild(empty);
    }
    found.forEach(function (h) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("role", "option");
      b.textContent = h.number + " " + h.head_name + " · " + list.getAttribute("data-balance") + " " + h.balance;
      b.addEventListener("click", function () { choose(h); input.focus(); });
      li.appendChild(b);
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function search(q) {
    var mine = ++asked;
    var sep = url.indexOf("?") < 0 ? "?" : "&";
    fetch(url + sep + "q=" + encodeURIComponent(q), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) { if (mine === asked && input.value.trim()) show(data.items || []); })
      .catch(function () { /* offline: the number typed is resolved by the server */ });
  }

  input.addEventListener("input", function () {
    hidden.value = "";
    clearTimeout(timer);
    var q = input.value.trim();
    if (!q) { hide(); return; }
    timer = setTimeout(function () { search(q); }, 200);
  });

  input.addEventListener("keydown", function (ev) {
    if (list.hidden) return;
    if (ev.key === "ArrowDown") { ev.preventDefault(); highlight(active + 1); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); highlight(active - 1); }
    else if (ev.key === "Escape") { hide(); }
    else if (ev.key === "Enter" && items.length && !hidden.value) {
      ev.preventDefault();
      choose(items[active >= 0 ? active : 0]);
    }
  });

  document.addEventListener("click", function (ev) {
    if (ev.target !== input && !list.contains(ev.target)) hide();
  });

  var rule = document.getElementById("rule_id");
  var photo = document.getElementById("evidence");
  var warning = document.getElementById("evidence-required");
  var veto = document.getElementById("veto-warning");
  function ruleChanged() {
    var opt = rule.options[rule.selectedIndex];
    var needed = !!(opt && opt.getAttribute("data-evidence"));
    if (warning) warning.hidden = !needed;
    if (photo) photo.required = needed;
    if (veto) veto.hidden = !(opt && opt.getAttribute("data-veto"));
  }
  if (rule) {
    rule.addEventListener("change", ruleChanged);
    ruleChanged();
  }
})();
