// Service worker: makes the site installable and keeps one page for when the network is gone.
// Evidence pages are private and always come fresh from the server; only the offline page (which
// names nobody and shows no evidence) and the static CSS/JS it needs are kept, so a page reloaded
// without network still lists the recordings waiting on this phone and sends them when it returns.
// POSTs — uploads, and the share target's files — pass straight through.
// Pages with a form of the offline outbox (<form data-outbox>: log forms, visit details, complaint,
// reply, notice sent; static/js/outbox.js) are the exception: the last copy seen of each is kept in
// PAGES, so reloading one without network shows the form again rather than a dead end. Those copies
// go when the person logs in or out or changes language (the page says so, "refresh-offline-page").
var CACHE = "offline-v2";
var PAGES = "pages-v1";
var PAGES_KEPT = 30;
var OFFLINE = "/offline/";
var refreshedAt = 0;

// A form page just fetched: kept (marked as a copy, so outbox.js gives its forms fresh one-time
// tokens) with the CSS/JS it names. Never a page the server asked not to store.
function keepPage(url, response) {
  if (!response.ok || response.redirected) return Promise.resolve();
  if (/no-store/.test(response.headers.get("Cache-Control") || "")) return Promise.resolve();
  if ((response.headers.get("Content-Type") || "").indexOf("text/html") !== 0) return Promise.resolve();
  return response.text().then(function (html) {
    if (html.indexOf(" data-outbox") === -1) return null;
    var assets = [];
    html.replace(/(?:href|src)="(\/static\/[^"]+\.(?:css|js))"/g, function (_all, asset) { assets.push(asset); });
    var copy = html.replace(/<html\b/, "<html data-offline-copy");
    return caches.open(PAGES).then(function (cache) {
      return cache.put(url, new Response(copy, { headers: { "Content-Type": "text/html; charset=utf-8" } }))
        .then(function () { return cache.addAll(assets).catch(function () { /* next time */ }); })
        .then(function () { return cache.keys(); })
        .then(function (keys) {
          // The oldest copies go first: a phone keeps the forms used lately, not every page ever seen.
          return Promise.all(keys.slice(0, Math.max(keys.length - PAGES_KEPT, 0)).map(function (k) { return cache.delete(k); }));
        });
    });
  }).catch(function () { /* kept next time */ });
}

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
    return Promise.all(names.filter(function (n) { return n !== CACHE && n !== PAGES; }).map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});
// A page says when the kept offline page no longer fits (logged in or out, another language).
self.addEventListener("message", function (event) {
  if (event.data === "refresh-offline-page") {
    event.waitUntil(caches.delete(PAGES).then(keepOfflinePage));
  }
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
      event.waitUntil(keepPage(request.url.split("#")[0], response.clone()));
      return response;
    }, function () {
      // The last copy of this very page when it is a form page, else the offline page.
      return caches.open(PAGES).then(function (cache) { return cache.match(request.url.split("#")[0]); })
        .then(function (copy) { return copy || caches.match(OFFLINE, { cacheName: CACHE }); })
        .then(function (page) { return page || Response.error(); });
    }));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(request, { ignoreSearch: true }).then(function (hit) { return hit || Response.error(); });
    }));
  }
});
// Reminders by Web Push (accounts/push.py): the payload is {"title", "body", "url", "tag"}; a tap
// opens the case it is about (or focuses a tab already showing it).
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (_e) { data = { body: event.data ? event.data.text() : "" }; }
  event.waitUntil(self.registration.showNotification(data.title || "", {
    body: data.body || "",
    tag: data.tag || undefined,
    data: { url: data.url || "/" },
    icon: data.icon || "/static/icons/icon-192.png",  // the notepad in discreet mode
    badge: "/static/icons/favicon-32.png"
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    for (var i = 0; i < windows.length; i++) {
      if (windows[i].url === target && "focus" in windows[i]) return windows[i].focus();
    }
    return self.clients.openWindow(target);
  }));
});
