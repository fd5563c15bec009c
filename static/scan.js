// The phone's scan page (/scan): the camera reads QR codes, each code shows its position with
// the action chosen for the session, and actions go through an on-device outbox so that a
// tap made without network is sent, once, when the network returns. Wired by ids and data-
// attributes; the words come from the page (#scan-strings), so the page's language is used.
(function () {
  "use strict";

  var app = document.getElementById("scan-app");
  if (!app) return;
  var T = JSON.parse(document.getElementById("scan-strings").textContent);
  var cfg = app.dataset;
  var countId = cfg.count ? parseInt(cfg.count, 10) : null;
  var $ = function (id) { return document.getElementById(id); };

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function clockTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return iso || "";
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  // The phone's clock at the tap, with its offset (the server stores when it happened).
  function deviceNow() {
    var d = new Date();
    var off = -d.getTimezoneOffset();
    var p = function (n, w) { n = String(Math.abs(n)); while (n.length < (w || 2)) n = "0" + n; return n; };
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" +
      p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3) +
      (off >= 0 ? "+" : "-") + p(Math.floor(Math.abs(off) / 60)) + ":" + p(Math.abs(off) % 60);
  }
  // Made once at the tap and kept with the entry: a resend is recognised, never doubled.
  function requestKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }
  // As the server reads a typed code: the URL's last part, no spaces or hyphens, upper case,
  // O for 0 and I/L for 1 (Crockford base32).
  function normalizeCode(raw) {
    var text = String(raw || "").trim();
    var m = text.match(/\/l\/([^/?#\s]+)/);
    if (m) text = decodeURIComponent(m[1]);
    return text.replace(/[\s-]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
  }
  function show(el, on) { if (el) el.hidden = !on; }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function node(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  // ------------------------------------------------------------ storage (IndexedDB)

  var dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error("no IndexedDB")); return; }
        var req = indexedDB.open("readiness-scan", 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore("outbox", { keyPath: "request_key" });
          req.result.createObjectStore("packs", { keyPath: "unit" });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function store(name, mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var result;
        var req = work(tx.objectStore(name));
        if (req) req.onsuccess = function () { result = req.result; };
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }
  // Where IndexedDB cannot be opened (some private modes), localStorage keeps the same records.
  function local(name) {
    var key = "readiness-scan:" + name;
    var read = function () { try { return JSON.parse(localStorage.getItem(key) || "{}"); } catch (e) { return {}; } };
    return {
      all: function () { var m = read(); return Object.keys(m).map(function (k) { return m[k]; }); },
      put: function (id, value) { var m = read(); m[id] = value; localStorage.setItem(key, JSON.stringify(m)); },
      remove: function (id) { var m = read(); delete m[id]; localStorage.setItem(key, JSON.stringify(m)); }
    };
  }
  function either(idb, fallback) {
    return openDb().then(idb, function () { return fallback(); });
  }
  var outboxAll = function () {
    return either(function () { return store("outbox", "readonly", function (s) { return s.getAll(); }); },
      function () { return local("outbox").all(); });
  };
  var outboxPut = function (e) {
    return either(function () { return store("outbox", "readwrite", function (s) { return s.put(e); }); },
      function () { local("outbox").put(e.request_key, e); });
  };
  var outboxDelete = function (k) {
    return either(function () { return store("outbox", "readwrite", function (s) { return s.delete(k); }); },
      function () { local("outbox").remove(k); });
  };
  var packsAll = function () {
    return either(function () { return store("packs", "readonly", function (s) { return s.getAll(); }); },
      function () { return local("packs").all(); });
  };
  var packPut = function (p) {
    return either(function () { return store("packs", "readwrite", function (s) { return s.put(p); }); },
      function () { local("packs").put(p.unit, p); });
  };

  // ------------------------------------------------------------ talking to the server

  // A refusal (4xx in the error shape) is final; a network failure, a 5xx, an expired page
  // token or a lost sign-in is not: the entry stays in the outbox and is sent again.
  function Retry(message) { this.message = message; }
  function Refused(message, status) { this.message = message; this.status = status; }

  function refreshToken() {
    return fetch(cfg.boxUrl, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (r.redirected || !r.ok) throw new Retry(T.relogin);
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var fresh = doc.getElementById("scan-app");
      if (!fresh) throw new Retry(T.relogin);
      cfg.csrf = fresh.dataset.csrf;
      document.querySelectorAll("input[name=csrf_token]").forEach(function (i) { i.value = fresh.dataset.csrf; });
    });
  }

  function call(url, body, retried) {
    var options = {
      method: body ? "POST" : "GET",
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" }
    };
    if (body) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = cfg.csrf;
      options.body = JSON.stringify(body);
    }
    // a warehouse's weak signal can hang a request: give up and keep the entry for later
    // (sent again with the same key, it is recorded once)
    var timer = null;
    if (window.AbortController) {
      var abort = new AbortController();
      options.signal = abort.signal;
      timer = setTimeout(function () { abort.abort(); }, body ? 15000 : 6000);
    }
    return fetch(url, options).catch(function () {
      throw new Retry(T.network_error);
    }).then(function (r) {
      clearTimeout(timer);
      var type = r.headers.get("Content-Type") || "";
      if (r.redirected || type.indexOf("json") < 0) {
        // the sign-in page, or an HTML error page
        if (r.status >= 500) throw new Retry(fmt(T.server_error, { status: r.status }));
        if (r.redirected) throw new Retry(T.relogin);
        if (r.status >= 400) throw new Refused(fmt(T.server_error, { status: r.status }), r.status);
        throw new Retry(fmt(T.server_error, { status: r.status }));
      }
      return r.json().then(function (data) {
        if (r.ok) return { data: data, date: r.headers.get("Date") };
        var err = data && data.error ? data.error : {};
        if (r.status >= 500) throw new Retry(err.message || fmt(T.server_error, { status: r.status }));
        if (err.code === "csrf_error" && !retried) {
          return refreshToken().then(function () { return call(url, body, true); });
        }
        if (err.code === "csrf_error") throw new Retry(err.message);
        throw new Refused(err.message || fmt(T.server_error, { status: r.status }), r.status);
      });
    });
  }

  // ------------------------------------------------------------ the session's action

  var chooser = $("scan-action");
  function sessionAction() {
    if (!chooser) return "view";
    var checked = chooser.querySelector("input:checked");
    return checked ? checked.value : "view";
  }
  if (chooser) {
    var saved = sessionStorage.getItem("scan-action:" + (countId || ""));
    var radio = saved && chooser.querySelector("input[value=" + saved + "]");
    if (radio) radio.checked = true;
    // the chosen box is marked by a class, not :has(), which older phone browsers lack
    var mark = function () {
      chooser.querySelectorAll("label").forEach(function (l) {
        l.classList.toggle("is-checked", l.querySelector("input").checked);
      });
    };
    mark();
    chooser.addEventListener("change", function () {
      mark();
      sessionStorage.setItem("scan-action:" + (countId || ""), sessionAction());
      if (current) showCard(current.found, current.offline);
    });
  }

  // ------------------------------------------------------------ looking a code up

  var current = null; // {found, offline}
  var busy = false;

  function lookup(code, shown) {
    var url = cfg.lookupUrl.replace("CODE", encodeURIComponent(code));
    return call(url).then(function (answer) {
      return { found: answer.data, offline: null };
    }, function (err) {
      if (err instanceof Refused) {
        throw err.status === 404 ? new Refused(fmt(T.unknown_code, { code: shown }), 404) : err;
      }
      // not in the offline copy either: say why the server could not be asked
      var notFound = new Refused(
        err.message === T.network_error ? fmt(T.not_in_pack, { code: shown })
          : err.message === T.relogin ? T.signed_out
            : fmt(T.lookup_failed, { reason: err.message }));
      return packsAll().then(function (packs) {
        for (var i = 0; i < packs.length; i++) {
          var hit = packs[i].data.labels[code];
          if (hit) return { found: hit, offline: packs[i] };
        }
        throw notFound;
      }, function () {
        throw notFound;
      });
    });
  }

  function handleCode(raw) {
    var code = normalizeCode(raw);
    if (!code || busy) return;
    busy = true;
    pauseScanning();
    setStatus(fmt(T.looking_up, { code: code }));
    var shown = String(raw).trim().split("/").pop().slice(0, 40);
    lookup(code, shown).then(function (hit) {
      setStatus("");
      showCard(hit.found, hit.offline);
    }, function (err) {
      setStatus("");
      say(err.message || String(err), "error");
      resumeScanning();
    }).then(function () { busy = false; });
  }

  function fact(dl, term, value, cls) {
    dl.appendChild(node("dt", null, term));
    var dd = node("dd", cls || null, value);
    dl.appendChild(dd);
    return dd;
  }

  var QTY_ACTIONS = { count: 1, issue: 1, receipt: 1 };
  // What the session's action means for a serial piece.
  var ASSET_ACTION = { count: "seen", issue: "issue" };

  function showCard(found, offline) {
    current = { found: found, offline: offline };
    var card = $("scan-card");
    $("scan-card-unit").textContent = found.unit ? found.unit.name : T.no_unit;
    $("scan-card-item").textContent = found.item.name + " ";
    $("scan-card-item").appendChild(node("code", null, found.item.code));
    var note = $("scan-card-note");
    note.textContent = offline ? fmt(T.from_pack, { time: clockTime(offline.saved_at) }) : "";
    show(note, !!offline);
    var dl = $("scan-card-facts");
    clear(dl);
    if (found.serial) {
      fact(dl, T.serial, found.serial);
      if (found.status_label) fact(dl, T.status, found.status_label);
    }
    if (found.lot) {
      fact(dl, T.lot, found.lot.code);
      fact(dl, T.expires, (found.lot.expires_on || "—") + (found.lot.expired ? " · " + T.expired : ""),
        found.lot.expired ? "expired-text" : null);
    }
    if (found.kind === "position") {
      if (found.book !== null && found.book !== undefined) {
        fact(dl, T.book, found.book + " " + found.item.uom, "scan-qty");
      } else if (sessionAction() === "count") {
        fact(dl, T.book, T.blind, "muted");
      }
    }
    fact(dl, T.code, found.printed || found.code);
    var page = $("scan-card-page");
    // the item's page comes back to this scanning session
    page.href = found.page + (countId ? "?back=" + encodeURIComponent(cfg.boxUrl + "?count=" + countId) : "");
    show(page, !offline);

    var action = sessionAction();
    var allowed = found.actions || [];
    var form = $("scan-form");
    var assetBox = $("scan-asset-actions");
    var error = $("scan-form-error");
    show(error, false);
    show(form, false);
    show(assetBox, false);
    clear(assetBox);
    var reason = null;
    if (found.kind === "position") {
      if (action in QTY_ACTIONS && allowed.indexOf(action) >= 0) {
        var qty = $("scan-qty");
        var confirm = $("scan-confirm");
        $("scan-qty-label").textContent = action === "count" ? T.qty_count : T.qty_move + "（" + found.item.uom + "）";
        // a count starts empty: nothing is "confirmed" without being counted
        qty.value = action === "count" ? "" : "1";
        qty.min = action === "count" ? "0" : "1";
        confirm.textContent = T["confirm_" + action];
        confirm.dataset.action = action;
        form.classList.toggle("is-issue", action === "issue");
        form.classList.toggle("is-receipt", action === "receipt");
        show(form, true);
      } else {
        reason = action === "view" ? T.view_only : T.read_only;
      }
    } else {
      allowed.forEach(function (a) {
        var b = node("button", "button scan-button" + (a === "issue" ? " is-issue" : ""), T["action_" + a] || a);
        b.type = "button";
        b.dataset.action = a;
        if (ASSET_ACTION[action] === a) b.classList.add("primary");
        b.addEventListener("click", function () { submitAction(a, null); });
        assetBox.appendChild(b);
      });
      show(assetBox, allowed.length > 0);
      if (!allowed.length) reason = T.read_only;
    }
    if (reason) { note.textContent = (offline ? note.textContent + " · " : "") + reason; show(note, true); }
    show(card, true);
    if (!form.hidden) {
      $("scan-qty").focus();
      $("scan-qty").select();
    }
    card.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  function nextScan() {
    current = null;
    show($("scan-card"), false);
    resumeScanning();
    if (!cameraOn) $("code").focus();
  }
  $("scan-next").addEventListener("click", nextScan);

  // ------------------------------------------------------------ acting, the log and the outbox

  var log = loadLog();
  function loadLog() {
    try { return JSON.parse(sessionStorage.getItem("scan-log:" + (countId || "")) || "[]"); } catch (e) { return []; }
  }
  function saveLog() {
    try { sessionStorage.setItem("scan-log:" + (countId || ""), JSON.stringify(log.slice(-200))); } catch (e) { /* full: the list on screen stays */ }
  }

  // without network, the usual words; kept for another reason (a lost sign-in, a server
  // error), that reason
  function queuedText(e) {
    return !e.reason || e.reason === T.network_error ? T.queued : fmt(T.waiting, { reason: e.reason });
  }

  var STATE_TEXT = {
    sending: function () { return T.sending; },
    queued: function (e) { return queuedText(e); },
    recorded: function () { return T.recorded; },
    already: function () { return T.already; },
    refused: function (e) { return fmt(T.refused, { reason: e.reason || "" }); },
    undone: function () { return T.undone; }
  };

  function describeEntry(e) {
    var what = T["action_" + e.action] || e.action;
    var qty = e.action in QTY_ACTIONS ? " " + e.qty + " " + (e.uom || "") : "";
    return e.item + (e.lot ? " · " + e.lot : "") + " — " + what + qty;
  }

  function entryRow(e, withDismiss) {
    var li = node("li", "scan-entry");
    li.dataset.key = e.request_key;
    li.dataset.state = e.state;
    li.dataset.action = e.action;
    li.appendChild(node("span", "scan-entry-what", describeEntry(e)));
    li.appendChild(node("span", "scan-entry-time muted", fmt(T.outbox_tapped, { time: clockTime(e.device_at) })));
    li.appendChild(node("span", "scan-entry-result", STATE_TEXT[e.state](e) + (e.message && e.state !== "refused" ? " · " + e.message : "")));
    if (withDismiss && e.state !== "queued" && e.state !== "sending") {
      var b = node("button", "button scan-dismiss", T.dismiss);
      b.type = "button";
      b.addEventListener("click", function () { outboxDelete(e.request_key).then(renderOutbox); });
      li.appendChild(b);
    }
    return li;
  }

  function renderLog() {
    var ol = $("scan-log");
    clear(ol);
    log.slice().reverse().forEach(function (e) { ol.appendChild(entryRow(e, false)); });
    show($("scan-log-empty"), log.length === 0);
  }

  function logUpdate(entry) {
    for (var i = 0; i < log.length; i++) {
      if (log[i].request_key === entry.request_key) { log[i] = entry; saveLog(); renderLog(); return; }
    }
  }

  function renderOutbox() {
    return outboxAll().then(function (entries) {
      entries.sort(function (a, b) { return a.tapped_at - b.tapped_at; });
      var ul = $("outbox-list");
      clear(ul);
      entries.forEach(function (e) { ul.appendChild(entryRow(e, true)); });
      var waiting = entries.filter(function (e) { return e.state === "queued" || e.state === "sending"; }).length;
      $("outbox-count").textContent = fmt(T.outbox_count, { n: waiting });
      $("outbox").dataset.waiting = String(waiting);
      if (!entries.length) ul.appendChild(node("li", "muted", T.outbox_empty));
      return entries;
    }, function () { return []; });
  }

  function say(text, kind) {
    var box = $("scan-message");
    box.dataset.kind = kind || "info";
    $("scan-message-text").textContent = text;
    show($("undo"), false);
    show(box, true);
  }

  var undoTimer = null;
  function offerUndo(entry, answer) {
    var button = $("undo");
    clearTimeout(undoTimer);
    if (!answer.data.undo_until) return;
    // how long is left, by the server's clock, so a phone's wrong clock does not matter
    var now = answer.date ? Date.parse(answer.date) : Date.now();
    var left = Math.min(Date.parse(answer.data.undo_until) - now, 60000);
    if (!(left > 0)) return;
    button.dataset.key = entry.request_key;
    show(button, true);
    undoTimer = setTimeout(function () { show(button, false); }, left);
  }

  $("undo").addEventListener("click", function () {
    var button = $("undo");
    var key = button.dataset.key;
    button.disabled = true;
    call(cfg.undoUrl, { request_key: key }).then(function (answer) {
      say(answer.data.message, "ok");
      log.forEach(function (e) { if (e.request_key === key) { e.state = "undone"; e.message = answer.data.message; } });
      saveLog();
      renderLog();
    }, function (err) {
      say(err instanceof Retry ? T.undo_offline : err.message, "error");
    }).then(function () { button.disabled = false; refreshProgress(); });
  });

  function submitAction(action, qty) {
    var found = current.found;
    var entry = {
      request_key: requestKey(),
      device_at: deviceNow(),
      tapped_at: Date.now(),
      code: found.code,
      action: action,
      qty: qty,
      count: countId,
      item: found.item.name,
      lot: found.lot ? found.lot.code : (found.serial || null),
      uom: found.item.uom,
      state: "queued"
    };
    log.push(entry);
    saveLog();
    renderLog();
    // kept on the phone before it is sent: a page closed mid-way loses nothing
    outboxPut(entry).catch(function () {}).then(function () {
      return send(entry, true);
    });
    nextScan();
  }

  // Send one entry. Live (just tapped) the answer goes to the message; later, to the outbox list.
  var inflight = {};
  function send(entry, live) {
    if (inflight[entry.request_key]) return Promise.resolve();
    inflight[entry.request_key] = true;
    entry.state = "sending";
    logUpdate(entry);
    if (live) say(describeEntry(entry) + " · " + T.sending, "info");
    var body = {
      code: entry.code, action: entry.action, qty: entry.qty,
      request_key: entry.request_key, device_at: entry.device_at, count: entry.count
    };
    return call(cfg.actUrl, body).then(function (answer) {
      entry.state = answer.data.result === "already" ? "already" : "recorded";
      entry.message = answer.data.message;
      entry.reason = null;
      logUpdate(entry);
      if (live) {
        say(answer.data.message + (entry.state === "already" ? " · " + T.already : ""), entry.action === "issue" ? "issue" : "ok");
        offerUndo(entry, answer);
        return outboxDelete(entry.request_key);
      }
      return outboxPut(entry);
    }, function (err) {
      if (err instanceof Refused) {
        entry.state = "refused";
        entry.reason = err.message;
        logUpdate(entry);
        if (live) {
          say(fmt(T.refused, { reason: err.message }), "error");
          return outboxDelete(entry.request_key);
        }
        return outboxPut(entry); // stays until the user dismisses it
      }
      entry.state = "queued";
      entry.reason = err.message;
      logUpdate(entry);
      if (live) say(describeEntry(entry) + " · " + queuedText(entry), "queued");
      return outboxPut(entry);
    }).catch(function () {}).then(function () {
      delete inflight[entry.request_key];
      renderOutbox();
      if (entry.count) refreshProgress();
    });
  }

  var flushing = false;
  function flushOutbox() {
    if (flushing) return Promise.resolve();
    flushing = true;
    // One tab sends at a time (two open tabs both hear "online"): the server would record
    // each entry once anyway, this only spares it the race.
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("readiness-outbox", sendWaiting);
    }
    return sendWaiting();
  }

  function sendWaiting() {
    return outboxAll().then(function (entries) {
      entries.sort(function (a, b) { return a.tapped_at - b.tapped_at; });
      var waiting = entries.filter(function (e) { return e.state === "queued" || e.state === "sending"; });
      // one after another, in the order they were tapped
      return waiting.reduce(function (chain, e) {
        return chain.then(function () { return send(e, false); });
      }, Promise.resolve());
    }).catch(function () {}).then(function () { flushing = false; return renderOutbox(); });
  }

  $("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var action = $("scan-confirm").dataset.action;
    var raw = $("scan-qty").value.trim();
    var error = $("scan-form-error");
    var qty = /^\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
    if (raw === "" || isNaN(qty) || (action !== "count" && qty < 1)) {
      error.textContent = raw === "" ? T.qty_missing : T.qty_bad;
      show(error, true);
      $("scan-qty").focus();
      return;
    }
    submitAction(action, qty);
  });

  $("outbox-send").addEventListener("click", flushOutbox);
  window.addEventListener("online", flushOutbox);
  setInterval(function () {
    if (navigator.onLine !== false && $("outbox").dataset.waiting !== "0") flushOutbox();
  }, 30000);

  // ------------------------------------------------------------ the text box (handheld scanners)

  // A scanner types the code and Enter: look it up here, as the camera does, so it also works
  // without network. The form's own GET stays for a page without this script.
  $("scan-box-form").addEventListener("submit", function (event) {
    var input = $("code");
    if (!input.value.trim()) return;
    event.preventDefault();
    handleCode(input.value);
    input.value = "";
  });

  // ------------------------------------------------------------ the camera

  var video = $("scan-video");
  var stream = null;
  var detector = null;
  var cameraOn = false;
  var paused = false;
  var lastCode = "";
  var lastAt = 0;

  function setStatus(text) { $("camera-status").textContent = text; }
  function cameraMessage(text) {
    var p = $("camera-message");
    p.textContent = text;
    show(p, !!text);
  }

  function loadDetector() {
    if (detector) return Promise.resolve(detector);
    var native = "BarcodeDetector" in window
      ? window.BarcodeDetector.getSupportedFormats().then(function (f) { return f.indexOf("qr_code") >= 0; }, function () { return false; })
      : Promise.resolve(false);
    return native.then(function (ok) {
      if (ok) {
        detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        app.dataset.decoder = "native";
        return detector;
      }
      var api = window.BarcodeDetectionAPI;
      if (!api) throw new Error("barcode-detector");
      // the WebAssembly from our own server, never from a CDN
      return api.prepareZXingModule({
        overrides: {
          locateFile: function (path, prefix) {
            return path.slice(-5) === ".wasm" ? cfg.wasmUrl : prefix + path;
          }
        },
        fireImmediately: true
      }).then(function () {
        detector = new api.BarcodeDetector({ formats: ["qr_code"] });
        app.dataset.decoder = "zxing-wasm";
        return detector;
      });
    });
  }

  function startCamera() {
    if (!window.isSecureContext) { cameraMessage(T.camera_insecure); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { cameraMessage(T.camera_unsupported); return; }
    setStatus(T.camera_starting);
    navigator.mediaDevices.getUserMedia({
      // the rear camera; about 720p is plenty for a label and keeps decoding quick
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      show($("scan-camera"), true);
      return video.play().catch(function () {}).then(loadDetector).catch(function (err) {
        stopCamera();
        cameraMessage(fmt(T.decoder_failed, { reason: err && err.message ? err.message : String(err) }));
        throw null;
      });
    }, function (err) {
      var name = err && err.name;
      if (name === "NotAllowedError" || name === "SecurityError") cameraMessage(T.camera_denied);
      else if (name === "NotFoundError" || name === "OverconstrainedError") cameraMessage(T.camera_missing);
      else cameraMessage(fmt(T.camera_failed, { reason: (err && (err.message || err.name)) || "?" }));
      throw null;
    }).then(function () {
      cameraOn = true;
      cameraMessage("");
      setStatus(T.camera_running);
      toggle.textContent = T.camera_close;
      show(toggle, true);
      document.body.dataset.scanReady = "1";
      scanLoop();
    }, function () {
      setStatus("");
      toggle.textContent = T.camera_open;
      show(toggle, true);
    });
  }

  function stopCamera() {
    cameraOn = false;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.srcObject = null;
    show($("scan-camera"), false);
    setStatus("");
    delete document.body.dataset.scanReady;
    toggle.textContent = T.camera_open;
  }

  function pauseScanning() { paused = true; }
  function resumeScanning() {
    paused = false;
    lastAt = Date.now(); // the code just handled may still be in view: not read again at once
  }

  function scanLoop() {
    if (!cameraOn) return;
    var again = function () { setTimeout(scanLoop, 150); };
    if (paused || busy || video.readyState < 2 || document.hidden) { again(); return; }
    detector.detect(video).then(function (codes) {
      if (codes.length && !paused && !busy) {
        var code = normalizeCode(codes[0].rawValue);
        // the same label still in front of the camera is not read twice in a row
        if (code && (code !== lastCode || Date.now() - lastAt > 3000)) {
          lastCode = code;
          lastAt = Date.now();
          if (navigator.vibrate) navigator.vibrate(60);
          app.dataset.lastScan = code;
          handleCode(code);
        }
      }
    }, function () {}).then(again);
  }

  var toggle = $("camera-toggle");
  toggle.addEventListener("click", function () { if (cameraOn) stopCamera(); else startCamera(); });
  document.addEventListener("visibilitychange", function () {
    // a camera left running in a pocket drains the battery; it comes back with the page
    if (document.hidden && cameraOn) { stopCamera(); app.dataset.resume = "1"; }
    else if (!document.hidden && app.dataset.resume) { delete app.dataset.resume; startCamera(); }
  });

  // ------------------------------------------------------------ offline pack

  function renderPack(pack) {
    var status = $("offline-status");
    if (!status) return;
    status.textContent = pack
      ? fmt(T.offline_saved, { n: Object.keys(pack.data.labels).length, time: clockTime(pack.saved_at) })
      : T.offline_none;
  }
  var download = $("offline-download");
  if (download) {
    packsAll().then(function (packs) {
      renderPack(packs.filter(function (p) { return p.unit === cfg.unit; })[0]);
    }, function () {});
    download.addEventListener("click", function () {
      download.disabled = true;
      $("offline-status").textContent = T.offline_loading;
      call(cfg.offlineUrl + "?unit=" + encodeURIComponent(cfg.unit)).then(function (answer) {
        var pack = { unit: cfg.unit, saved_at: new Date().toISOString(), data: answer.data };
        // "saved" only once the phone can also open this page without network
        return packPut(pack).then(keepPageForOffline).then(function () { renderPack(pack); });
      }).catch(function (err) {
        $("offline-status").textContent = fmt(T.offline_failed, { reason: (err && err.message) || String(err) });
      }).then(function () { download.disabled = false; });
    });
  }

  // The service worker keeps the scan page when it installs; a phone that went offline
  // before that finished would have the labels but no page. So the download waits for the
  // worker and keeps the page itself (the same cache as static/sw.js), never a sign-in page.
  var PAGE_CACHE = "readiness-scan-v2";
  function keepPageForOffline() {
    if (!("serviceWorker" in navigator) || !window.isSecureContext || !window.caches) {
      return Promise.resolve();
    }
    var page = new URL(cfg.boxUrl, location.href).href;
    // a worker that could not install is not waited for (the labels are kept anyway)
    var waited = new Promise(function (resolve) { setTimeout(resolve, 8000, false); });
    return Promise.race([navigator.serviceWorker.ready.then(function () { return true; }), waited])
      .then(function (ready) { return ready ? caches.open(PAGE_CACHE) : null; })
      .then(function (cache) {
        if (!cache) return null;
        return cache.match(page).then(function (kept) {
          if (kept) return null;
          return fetch(page, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
            if (r.ok && !r.redirected) return cache.put(page, r);
            return null;
          });
        });
      });
  }

  // ------------------------------------------------------------ stocktake progress

  var progressAsked = 0;
  function refreshProgress() {
    if (!cfg.progressUrl) return;
    // answers may come back out of order: only the latest question's answer is shown
    var asked = ++progressAsked;
    call(cfg.progressUrl).then(function (answer) {
      if (asked !== progressAsked) return;
      var p = answer.data;
      $("count-summary").textContent = fmt(T.progress, { n: p.counted, total: p.total });
      var open = p.lines.filter(function (ln) { return ln.counted === null && !ln.not_counted_reason; });
      $("count-unscanned-title").textContent = open.length ? fmt(T.unscanned, { n: open.length }) : T.all_scanned;
      var ul = $("count-unscanned");
      clear(ul);
      open.forEach(function (ln) {
        var li = node("li", null, ln.item + (ln.lot ? " · " + ln.lot : ""));
        li.dataset.code = ln.code || "";
        if (!ln.code) li.appendChild(node("span", "muted", " " + T.never_labelled));
        ul.appendChild(li);
      });
      if (p.submit_url) $("count-submit-form").action = p.submit_url;
      show($("count-progress"), true);
    }, function () { /* offline: the page's list stays */ });
  }

  // ------------------------------------------------------------ start

  renderLog();
  // sent entries are done; refused ones stay until dismissed
  outboxAll().then(function (entries) {
    return Promise.all(entries.filter(function (e) { return e.state === "recorded" || e.state === "already"; })
      .map(function (e) { return outboxDelete(e.request_key); }));
  }).catch(function () {}).then(flushOutbox);
  refreshProgress();
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(cfg.swUrl).catch(function () {});
  }
  // opened offline at /l/<code> (the phone's own camera), the worker serves this page: resolve it
  var opened = location.pathname.match(/\/l\/([^/]+)$/);
  if (opened) handleCode(decodeURIComponent(opened[1]));
  startCamera();
})();
