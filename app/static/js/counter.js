/* The shop counter: scan the household's card with the camera (jsQR) or type its
   number, fill the cart, confirm once, then open the printable receipt.

   The confirmation posts to the API with an Idempotency-Key made once per confirmation:
   a double tap, or a retry after a dropped connection, repeats the same key and the
   server answers with the first redemption instead of charging twice. */
(function () {
  "use strict";

  var root = document.getElementById("counter");
  if (!root) return;

  var text = JSON.parse(document.getElementById("counter-text").textContent);
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var shopId = Number(root.dataset.shopId);
  var yuanPerPoint = Number(root.dataset.yuanPerPoint) || 0;

  var $ = function (id) { return document.getElementById(id); };
  var scanStart = $("scan-start"), scanStop = $("scan-stop"), scanner = $("scanner");
  var video = $("scan-video"), scanStatus = $("scan-status");
  var lookupForm = $("lookup-form"), cardInput = lookupForm.querySelector("input[name=card]");
  var stepCart = $("step-cart"), cartForm = $("cart-form"), stepConfirm = $("step-confirm");
  var rows = Array.prototype.slice.call(root.querySelectorAll("tr[data-item-id]"));
  var confirmGo = $("confirm-go"), confirmError = $("confirm-error");

  var state = { household: JSON.parse($("counter-household").textContent), key: null, busy: false };

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }

  function say(el, message, bad) {
    el.textContent = message || "";
    el.classList.toggle("bad", !!bad);
    if (el !== scanStatus) el.hidden = !message;
  }

  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes); // randomUUID needs https; this does not
    return "counter-" + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function postJSON(url, body, headers) {
    var h = { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf };
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, { method: "POST", headers: h, body: JSON.stringify(body), credentials: "same-origin" })
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1 || r.redirected) {
          // A login page or a CSRF error page: the session or the page has expired.
          return { ok: false, status: r.status, data: { error: { message: text.relogin } } };
        }
        return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
      });
  }

  /* --- step 1: the card ------------------------------------------------------------ */

  var canvas = document.createElement("canvas");
  var ctx = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null, scanning = false, timer = null;

  function startScan() {
    if (!window.isSecureContext) { say(scanStatus, text.insecure, true); cardInput.focus(); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.jsQR) {
      say(scanStatus, text.noCamera, true); cardInput.focus(); return;
    }
    say(scanStatus, text.starting);
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        scanner.hidden = false; scanStart.hidden = true; scanStop.hidden = false;
        return video.play();
      })
      .then(function () {
        scanning = true;
        say(scanStatus, text.aim);
        tick();
      })
      .catch(function (err) {
        stopScan();
        say(scanStatus, err && err.name === "NotAllowedError" ? text.cameraDenied : text.noCamera, true);
        cardInput.focus();
      });
  }

  function stopScan() {
    scanning = false;
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.srcObject = null;
    scanner.hidden = true; scanStart.hidden = false; scanStop.hidden = true;
  }

  function tick() {
    if (!scanning) return;
    if (video.readyState >= 2 && video.videoWidth) {
      // Decode a copy at most 640 px wide: enough for a card held near the lens.
      var scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (code && code.data) {
        stopScan();
        if (navigator.vibrate) navigator.vibrate(60);
        say(scanStatus, text.found);
        lookup(code.data);
        return;
      }
    }
    timer = setTimeout(tick, 150);
  }

  function lookup(card) {
    card = (card || "").trim();
    if (!card) { cardInput.focus(); return; }
    say(scanStatus, text.looking);
    postJSON(root.dataset.lookupUrl, { shop_id: shopId, card: card }).then(function (res) {
      if (!res.ok) {
        var err = (res.data && res.data.error) || {};
        say(scanStatus, err.message || text.failed, true);
        showHousehold(null);
        return;
      }
      say(scanStatus, "");
      if (res.data.candidates) { showCandidates(res.data.candidates); showHousehold(null); return; }
      cardInput.value = "";
      showCandidates([]);
      showHousehold(res.data);
    }, function () { say(scanStatus, text.relogin, true); });
  }

  /* The households a name, a phone or part of a number may mean: the clerk picks one. */
  var candidateBox = $("candidates"), candidateList = $("candidate-list");

  function showCandidates(list) {
    candidateList.textContent = "";
    list.forEach(function (c) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary candidate";
      button.setAttribute("data-number", c.number);
      var head = document.createElement("b");
      head.textContent = c.number + " " + c.head_name;
      button.appendChild(head);
      if (c.members && c.members.length) {
        var members = document.createElement("small");
        members.textContent = text.members + "：" + c.members.join("、");
        button.appendChild(members);
      }
      if (c.phone_tail) {
        var phone = document.createElement("small");
        phone.textContent = text.phoneTail + " " + c.phone_tail;
        button.appendChild(phone);
      }
      var li = document.createElement("li");
      li.appendChild(button);
      candidateList.appendChild(li);
    });
    candidateBox.hidden = !list.length;
  }

  candidateBox.addEventListener("click", function (e) {
    var pick = e.target.closest("[data-number]");
    if (!pick) return;
    e.preventDefault();
    lookup(pick.getAttribute("data-number"));
  });

  /* --- step 2: the cart ------------------------------------------------------------- */

  function showHousehold(h) {
    state.household = h;
    rows.forEach(function (row) { row.querySelector("input.qty").value = 0; });
    var cartError = $("cart-error");
    if (cartError) cartError.remove();
    stepConfirm.hidden = true;
    state.key = null;
    stepCart.hidden = !h;
    if (h) {
      $("who-name").textContent = h.head_name;
      $("who-number").textContent = h.number;
      $("who-balance").textContent = h.balance;
      $("who-redeemable").textContent = h.redeemable;
      cartForm.querySelector("input[name=card]").value = h.qr_token || h.number;
      stepCart.scrollIntoView({ behavior: "smooth", block: "start" });
    }
    update();
  }

  function quantity(row) {
    var v = parseInt(row.querySelector("input.qty").value, 10);
    return isNaN(v) || v < 0 ? 0 : v;
  }

  function setQuantity(row, v) {
    var stock = Number(row.dataset.stock);
    row.querySelector("input.qty").value = Math.max(0, Math.min(v, stock, 100));
    cartChanged();
  }

  function cartChanged() {
    state.key = null; // a different cart is a different confirmation: a new key
    stepConfirm.hidden = true;
    update();
  }

  function cart() {
    return rows.filter(function (row) { return quantity(row) > 0; }).map(function (row) {
      var q = quantity(row), price = Number(row.dataset.price);
      return { row: row, item_id: Number(row.dataset.itemId), quantity: q, points: q * price,
               name: row.dataset.name, unit: row.dataset.unit, stock: Number(row.dataset.stock) };
    });
  }

  function update() {
    var lines = cart();
    var total = lines.reduce(function (s, l) { return s + l.points; }, 0);
    var redeemable = state.household ? state.household.redeemable : 0;
    var remain = redeemable - total;
    $("cart-total").textContent = total;
    $("cart-remain").textContent = Math.max(0, remain);
    $("cart-remain-line").hidden = remain < 0;  // over the limit: only what is missing
    var problem = "";
    if (remain < 0) problem = fill(text.short, { short: -remain });
    lines.forEach(function (l) {
      if (l.quantity > l.stock) problem = fill(text.overStock, { name: l.name, stock: l.stock });
    });
    var shortEl = $("cart-short");
    shortEl.textContent = problem;
    shortEl.hidden = !problem;
    rows.forEach(function (row) {
      var q = quantity(row), stock = Number(row.dataset.stock);
      row.classList.toggle("picked", q > 0);
      row.querySelector(".plus").disabled = stock <= 0 || q >= stock;
      row.querySelector(".minus").disabled = q <= 0;
    });
    $("cart-next").disabled = !state.household || total === 0 || !!problem;
    return { lines: lines, total: total };
  }

  rows.forEach(function (row) {
    row.querySelector(".plus").addEventListener("click", function () { setQuantity(row, quantity(row) + 1); });
    row.querySelector(".minus").addEventListener("click", function () { setQuantity(row, quantity(row) - 1); });
    row.querySelector("input.qty").addEventListener("input", cartChanged);
  });

  /* --- step 3: confirm ------------------------------------------------------------------ */

  function showConfirm(c) {
    var h = state.household;
    $("confirm-who").textContent = h.number + " " + h.head_name;
    var list = $("confirm-lines");
    list.textContent = "";
    c.lines.forEach(function (l) {
      var li = document.createElement("li");
      li.textContent = fill(text.line, { name: l.name, quantity: l.quantity, unit: l.unit, points: l.points });
      list.appendChild(li);
    });
    $("confirm-total").textContent = c.total;
    $("confirm-yuan").textContent = (c.total * yuanPerPoint).toFixed(2);
    $("confirm-balance").textContent = h.balance - c.total;
    say(confirmError, "");
    stepConfirm.hidden = false;
    confirmGo.disabled = false;
    confirmGo.textContent = text.confirm;
    stepConfirm.scrollIntoView({ behavior: "smooth", block: "start" });
    confirmGo.focus();
  }

  function redeem() {
    if (state.busy) return;
    var c = update();
    if (!c.lines.length) return;
    state.key = state.key || newKey();
    state.busy = true;
    confirmGo.disabled = true;
    confirmGo.textContent = text.working;
    var body = { shop_id: shopId, lines: c.lines.map(function (l) { return { item_id: l.item_id, quantity: l.quantity }; }) };
    if (state.household.qr_token) body.qr_token = state.household.qr_token;
    else body.household_id = state.household.household_id;
    postJSON(root.dataset.redeemUrl, body, { "Idempotency-Key": state.key }).then(function (res) {
      if (res.ok) {
        window.location.assign(root.dataset.receiptUrl.replace(/\/0\/receipt$/, "/" + res.data.id + "/receipt"));
        return;
      }
      var err = (res.data && res.data.error) || {};
      var d = err.details || {};
      if (err.code === "out_of_stock" && d.item_id !== undefined) {
        rows.forEach(function (row) {
          if (Number(row.dataset.itemId) === d.item_id) {
            row.dataset.stock = d.stock;
            row.querySelector(".stock").textContent = d.stock;
          }
        });
      }
      if (err.code === "insufficient_points" && d.redeemable !== undefined) {
        state.household.redeemable = d.redeemable;
        $("who-redeemable").textContent = d.redeemable;
      }
      finish(err.message || text.failed);
    }, function () {
      finish(text.network); // the answer may be lost, not the request: a retry reuses the key
    });
  }

  function finish(message) {
    update();
    state.busy = false;
    confirmGo.disabled = false;
    confirmGo.textContent = text.confirm;
    say(confirmError, message, true);
  }

  /* --- wiring ------------------------------------------------------------------------------ */

  scanStart.addEventListener("click", startScan);
  scanStop.addEventListener("click", function () { stopScan(); say(scanStatus, ""); });
  lookupForm.addEventListener("submit", function (e) { e.preventDefault(); lookup(cardInput.value); });
  cartForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var c = update();
    if (!$("cart-next").disabled) showConfirm(c);
  });
  $("cart-reset").addEventListener("click", function () {
    showHousehold(null);
    say(scanStatus, "");
    window.scrollTo(0, 0);
    cardInput.focus();
  });
  $("confirm-back").addEventListener("click", function () {
    stepConfirm.hidden = true;
    stepCart.scrollIntoView({ behavior: "smooth", block: "start" });
  });
  confirmGo.addEventListener("click", redeem);
  window.addEventListener("pagehide", stopScan);

  if (state.household) {
    state.household.redeemable = Number(state.household.redeemable);
  }
  update();
})();
