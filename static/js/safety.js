// Reminders on this phone (issue 29): the profile's "Get reminders on this phone" button subscribes
// this browser to Web Push with the server's VAPID key and hands the subscription to the server.
// Shown only where the browser can do it; the in-app list works everywhere.
(function () {
  "use strict";

  function keyBytes(base64url) {
    var padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "====".slice(base64url.length % 4 || 4);
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function setUpPush(button) {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
    button.hidden = false;
    function done(text) { button.textContent = text; button.disabled = true; }
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (existing) {
      if (existing && Notification.permission === "granted") done(button.getAttribute("data-text-on"));
    }).catch(function () { /* no service worker yet: the button stays */ });
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") { done(button.getAttribute("data-text-denied")); return null; }
        return fetch(button.getAttribute("data-key-url"), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (key) {
            return navigator.serviceWorker.ready.then(function (registration) {
              return registration.pushManager.subscribe({
                userVisibleOnly: true, applicationServerKey: keyBytes(key.public_key)
              });
            });
          })
          .then(function (subscription) {
            return fetch(button.getAttribute("data-subscribe-url"), {
              method: "POST",
              credentials: "same-origin",
              headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
              body: JSON.stringify(subscription.toJSON())
            });
          })
          .then(function (response) {
            if (response && response.ok) done(button.getAttribute("data-text-on"));
          });
      }).catch(function () { done(button.getAttribute("data-text-denied")); });
    });
  }

  // 快速离开: replace this page (and its history entry) with a neutral one, in one tap.
  function setUpQuickExit(link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      try { document.title = ""; document.body.textContent = ""; } catch (_e) { /* leave anyway */ }
      window.location.replace(link.getAttribute("data-exit-url"));
    });
  }

  // The PIN lock: after `minutes` with the app in the background (or closed), the page is covered
  // until the server says the PIN matches. The times live in localStorage so that closing and
  // reopening the app does not skip the lock; the server counts wrong PINs (5, then a wait).
  var HIDDEN_AT = "app-lock-hidden-at";
  var LOCKED = "app-lock-locked";

  function setUpLock(lock) {
    var minutes = parseInt(lock.getAttribute("data-minutes"), 10) || 5;
    var form = document.getElementById("app-lock-form");
    var input = document.getElementById("app-lock-pin");
    var error = document.getElementById("app-lock-error");

    function show() {
      localStorage.setItem(LOCKED, "1");
      document.documentElement.classList.add("locked");
      lock.hidden = false;
      input.focus();
    }
    function hide() {
      localStorage.removeItem(LOCKED);
      localStorage.removeItem(HIDDEN_AT);
      document.documentElement.classList.remove("locked");
      lock.hidden = true;
      error.textContent = "";
    }
    function check() {
      var hiddenAt = parseInt(localStorage.getItem(HIDDEN_AT) || "0", 10);
      if (localStorage.getItem(LOCKED) === "1" || (hiddenAt && Date.now() - hiddenAt >= minutes * 60000)) show();
      else localStorage.removeItem(HIDDEN_AT);
    }
    function away() { if (!localStorage.getItem(HIDDEN_AT)) localStorage.setItem(HIDDEN_AT, String(Date.now())); }

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") away(); else check();
    });
    window.addEventListener("pagehide", away);
    window.addEventListener("pageshow", check);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(lock.getAttribute("data-check-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ pin: input.value })
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        input.value = "";
        if (answer.ok) hide();
        else error.textContent = (answer.body.error && answer.body.error.message) || lock.getAttribute("data-text-wrong");
      }).catch(function () { error.textContent = lock.getAttribute("data-text-wrong"); });
    });
    check();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("push-subscribe");
    if (button) setUpPush(button);
    var exit = document.getElementById("quick-exit");
    if (exit) setUpQuickExit(exit);
    var lock = document.getElementById("app-lock");
    if (lock) setUpLock(lock);
  });
})();
