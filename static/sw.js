// The scan page's service worker, served at /sw.js (scope: the whole site). It keeps the scan
// page and its files on the phone so that /scan opens without network; what was scanned is
// looked up in the offline pack and actions wait in the outbox (both kept by static/scan.js).
// Nothing else is cached: other pages and every JSON answer always come from the server.
"use strict";

var CACHE = "readiness-scan-v2";
var ROOT = self.registration.scope; // e.g. https://host/ (or the app's prefix)
var PAGE = new URL("scan", ROOT).href;
var FILES = [
  "static/app.css",
  "static/app.js",
  "static/forms.css",
  "static/forms.js",
  "static/picker.js",
  "static/scan.css",
  "static/scan.js",
  "static/favicon.svg",
  "static/vendor/barcode-detector/ponyfill.js",
  "static/vendor/zxing-wasm/zxing_reader.wasm",
  "static/icons/icon-192.png",
  "static/icons/icon-512.png",
  "manifest.webmanifest"
].map(function (path) { return new URL(path, ROOT).href; });

function keepPage(cache, response, key) {
  // only the page itself: not the sign-in page a lost session redirects to
  if (response && response.ok && !response.redirected && response.type === "basic") {
    return cache.put(key || PAGE, response);
  }
  return Promise.resolve();
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      return cache.addAll(FILES).then(function () {
        return fetch(PAGE, { credentials: "same-origin" }).then(function (r) {
          return keepPage(cache, r);
        }, function () {});
      });
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf("readiness-scan-") === 0 && n !== CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var path = url.href.split(/[?#]/)[0];

  if (request.mode === "navigate") {
    var isScan = path === PAGE;
    var isLabel = path.indexOf(new URL("l/", ROOT).href) === 0;
    if (!isScan && !isLabel) return;
    // the network first (fresh stock, a fresh form token); the kept page without network,
    // also for /l/<code> opened by the phone's own camera: the page resolves the code itself
    var keptPage = function () {
      return caches.match(isScan ? url.href : PAGE).then(function (kept) {
        return kept || caches.match(PAGE);
      });
    };
    var fresh = fetch(request).then(function (response) {
      // /scan and /scan?count=<id> (a stocktake session), not /scan?code=… (a redirect)
      if (isScan && !url.searchParams.has("code")) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return keepPage(cache, copy, url.href); });
      }
      return response;
    });
    // a weak signal that has not answered in 6 seconds gets the kept page (if there is one)
    var late = new Promise(function (resolve) { setTimeout(resolve, 6000); }).then(function () {
      return keptPage().then(function (kept) { return kept || fresh; });
    });
    event.respondWith(
      Promise.race([fresh, late]).catch(function () {
        return keptPage().then(function (kept) { return kept || Response.error(); });
      })
    );
    return;
  }

  if (FILES.indexOf(path) >= 0) {
    // the network first, so a new release is never hidden behind an old copy; the kept copy
    // when there is no network, or when a weak signal has not answered within 4 seconds
    event.respondWith(
      caches.open(CACHE).then(function (cache) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) cache.put(path, response.clone());
          return response;
        });
        var late = new Promise(function (resolve) { setTimeout(resolve, 4000); });
        var kept = function () {
          return cache.match(path).then(function (copy) { return copy || fresh; });
        };
        return Promise.race([fresh, late.then(kept)]).then(function (response) {
          return response || kept();
        }, kept);
      })
    );
  }
});
