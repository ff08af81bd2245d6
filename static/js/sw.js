// Service worker: makes the site installable. It caches nothing: evidence pages are private and
// must always come fresh from the server.
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", function () { /* network only */ });
