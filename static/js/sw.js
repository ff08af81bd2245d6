// Service worker: makes the site installable and keeps one page for when the network is gone.
// Evidence pages are private and always come fresh from the server; only the offline page (which
// names nobody and shows no evidence) and the static CSS/JS it needs are kept, so a page reloaded
// without network still lists the recordings waiting on this phone and sends them when it returns.
// POSTs — uploads, and the share target's files — pass straight through.
var CACHE = "offline-v2";
var OFFLINE = "/offline/";
var refreshedAt = 0;

function keepOfflinePage() {
  refreshedAt = Date.now();
  return caches.open(CACHE).then(function (cache) {
    return fetch(OFFLINE, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) return null;
      return response.clone().text().then(function (html) {
        var assets = [];
        html.replace(/(?:href|src)="(\/static\/[^"]+\.(?:css|js))"/g, function (_all, url) { assets.push(url); });
        return cache.put(OFFLINE, response).then(function () { return cache.addAll(assets); });
      });
    });
  }).catch(function () { /* offline now: try again on a later page */ });
}

self.addEventListener("install", function (event) {
  event.waitUntil(keepOfflinePage().then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});
// A page says when the kept offline page no longer fits (logged in or out, another language).
self.addEventListener("message", function (event) {
  if (event.data === "refresh-offline-page") event.waitUntil(keepOfflinePage());
});
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      // The offline page follows the person's language and login; refreshed every few minutes.
      if (Date.now() - refreshedAt > 5 * 60 * 1000) event.waitUntil(keepOfflinePage());
      return response;
    }, function () {
      return caches.match(OFFLINE).then(function (page) { return page || Response.error(); });
    }));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(request, { ignoreSearch: true }).then(function (hit) { return hit || Response.error(); });
    }));
  }
});
