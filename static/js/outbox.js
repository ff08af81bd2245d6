// The offline outbox for forms (log forms, visit details, complaint, reply, notice sent: every
// <form data-outbox>). Sent without network, a form is kept in IndexedDB the moment it is submitted,
// listed as "Not sent yet, waiting for the network" in the panel of every page (templates/evidence/
// _form_outbox.html), and sent by itself when the network returns: at the `online` event and on the
// next page load. Each form carries its one-time token (`once`, accounts.idempotency.form_once), so a
// send repeated after a lost answer, from two tabs or after a reload is saved once.
// The recorder's own store (static/js/app.js) keeps audio; this one keeps forms, in its own database.
(function () {
  "use strict";

  var panel = null;
  var sending = {};
  var retryTimers = {};

  function say(name) { return (panel && panel.dataset[name]) || ""; }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // A fresh one-time token in the shape the server accepts (^[A-Za-z0-9_-]{16,64}$).
  function freshToken() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return window.btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function backoff(attempt) { return Math.min(30000, 1000 * Math.pow(2, Math.min(attempt || 0, 5))); }

  // IndexedDB "evidence-keeper-forms", store "forms": one entry per submitted form. Without
  // IndexedDB (some private modes) entries live in memory while the page does.
  var Store = (function () {
    var opened = null;
    var memory = {};
    function open() {
      if (!opened) {
        opened = new Promise(function (resolve) {
          if (!window.indexedDB) { resolve(null); return; }
          var request;
          try { request = window.indexedDB.open("evidence-keeper-forms", 1); } catch (e) { resolve(null); return; }
          request.onupgradeneeded = function () { request.result.createObjectStore("forms", { keyPath: "id" }); };
          request.onsuccess = function () { resolve(request.result); };
          request.onerror = function () { resolve(null); };
        });
      }
      return opened;
    }
    function run(mode, work, fallback) {
      return open().then(function (db) {
        if (!db) return fallback();
        return new Promise(function (resolve, reject) {
          var tx = db.transaction(["forms"], mode);
          var result;
          tx.oncomplete = function () { resolve(result); };
          tx.onerror = tx.onabort = function () { reject(tx.error); };
          work(tx.objectStore("forms"), function (value) { result = value; });
        });
      });
    }
    return {
      put: function (entry) {
        return run("readwrite", function (store) { store.put(entry); }, function () { memory[entry.id] = entry; });
      },
      all: function () {
        return run("readonly", function (store, set) {
          var r = store.getAll();
          r.onsuccess = function () { set(r.result || []); };
        }, function () { return Object.keys(memory).map(function (k) { return memory[k]; }); });
      },
      get: function (id) {
        return run("readonly", function (store, set) {
          var r = store.get(id);
          r.onsuccess = function () { set(r.result); };
        }, function () { return memory[id]; });
      },
      update: function (id, changes) {
        return run("readwrite", function (store, set) {
          var r = store.get(id);
          r.onsuccess = function () {
            if (!r.result) return;
            Object.keys(changes).forEach(function (k) { r.result[k] = changes[k]; });
            store.put(r.result);
            set(r.result);
          };
        }, function () {
          if (!memory[id]) return undefined;
          Object.keys(changes).forEach(function (k) { memory[id][k] = changes[k]; });
          return memory[id];
        });
      },
      remove: function (id) {
        return run("readwrite", function (store) { store.delete(id); }, function () { delete memory[id]; });
      }
    };
  })();

  function currentUser() { return panel ? panel.dataset.user : ""; }
  function csrf() {
    var input = (panel && panel.querySelector("input[name=csrfmiddlewaretoken]")) ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // What the list says about a form: the page's heading and the first words typed into it.
  function describe(form) {
    var heading = document.querySelector("main h1");
    var title = heading ? heading.textContent.trim() : document.title;
    var words = "";
    form.querySelectorAll("textarea, input[type=text], input[type=tel], input:not([type])").forEach(function (field) {
      if (!words && field.value.trim()) words = field.value.trim();
    });
    return { title: title, words: words.length > 60 ? words.slice(0, 60) + "…" : words };
  }

  // The form's fields as [name, value] pairs, files included (IndexedDB keeps File objects).
  function fieldsOf(form, submitter) {
    var data;
    try { data = submitter ? new FormData(form, submitter) : new FormData(form); } catch (e) { data = new FormData(form); }
    var pairs = [];
    data.forEach(function (value, name) {
      if (typeof value !== "string" && (!value || !value.size)) return;  // no file chosen
      pairs.push([name, value]);
    });
    return pairs;
  }

  function keep(form, submitter) {
    var about = describe(form);
    var entry = {
      id: uuid(), user: currentUser(), url: form.getAttribute("action") ? form.action : window.location.href.split("#")[0],
      fields: fieldsOf(form, submitter), title: about.title, words: about.words,
      createdAt: Date.now(), state: "pending", attempts: 0, error: ""
    };
    return Store.put(entry).then(function () { return entry; });
  }

  // After a form was kept: emptied for the next entry, with a token of its own (the kept one is
  // the one the server will see), and a note where the person is looking.
  function afterKept(form) {
    form.reset();
    renewTokens(form);
    var note = form.querySelector(".outbox-note");
    if (!note) {
      note = document.createElement("p");
      note.className = "notice outbox-note";
      note.setAttribute("role", "status");
      form.insertBefore(note, form.firstChild);
    }
    note.textContent = say("textWaiting") + " · " + say("textKept");
    render();
    if (panel) panel.scrollIntoView({ block: "start" });
  }

  function renewTokens(root) {
    root.querySelectorAll("input[name=once]").forEach(function (input) { input.value = freshToken(); });
  }

  function refusal(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var texts = [];
    doc.querySelectorAll("main .errorlist li, main #possible-duplicate strong").forEach(function (node) {
      var text = node.textContent.trim();
      if (text && texts.indexOf(text) === -1) texts.push(text);
    });
    return texts.join(" ");
  }

  function send(id) {
    if (sending[id]) return sending[id];
    var done = Store.get(id).then(function (entry) {
      if (!entry || entry.state !== "pending" || entry.user !== currentUser()) return entry;
      var body = new FormData();
      entry.fields.forEach(function (pair) {
        // The token of this page's session: the kept one may be from before a new login.
        if (pair[0] === "csrfmiddlewaretoken") return;
        if (typeof pair[1] === "string") body.append(pair[0], pair[1]);
        else body.append(pair[0], pair[1], pair[1].name || "file");
      });
      body.append("csrfmiddlewaretoken", csrf());
      var retry = { state: "pending", attempts: (entry.attempts || 0) + 1 };
      return fetch(entry.url, {
        method: "POST", body: body, credentials: "same-origin", redirect: "follow",
        headers: { "X-CSRFToken": csrf() }
      }).then(function (response) {
        var landed = new URL(response.url, window.location.href);
        var login = panel ? panel.dataset.loginUrl : "";
        if (response.redirected && response.ok && !(login && landed.pathname === login)) {
          return Store.update(id, { state: "saved", next: landed.pathname + landed.search + landed.hash, savedAt: Date.now(), error: "" });
        }
        if (response.redirected) return Store.update(id, retry);  // logged out: sent after the next login
        if (response.status === 200 || response.status === 400) {
          return response.text().then(function (html) {
            return Store.update(id, { state: "failed", error: refusal(html) || say("textRefused") });
          });
        }
        if (response.status === 403 || response.status === 404) {
          return Store.update(id, { state: "failed", error: String(response.status) });
        }
        return Store.update(id, retry);  // 5xx, 429: the server is busy; try again later
      }, function () { return Store.update(id, retry); });
    }).catch(function () { return null; }).then(function (entry) {
      delete sending[id];
      if (entry && entry.state === "pending" && entry.user === currentUser() && navigator.onLine) {
        window.clearTimeout(retryTimers[id]);
        retryTimers[id] = window.setTimeout(function () { send(id); }, backoff(entry.attempts));
      }
      render();
      return entry;
    });
    sending[id] = done;
    render();
    return done;
  }

  // One tab sends at a time (Web Locks where there are); the token makes any overlap harmless.
  function flush() {
    if (!navigator.onLine || !panel) return Promise.resolve();
    var work = function () {
      return Store.all().then(function (entries) {
        return Promise.all(entries.filter(function (e) { return e.state === "pending" && e.user === currentUser(); })
          .sort(function (a, b) { return a.createdAt - b.createdAt; })
          .map(function (e) { return send(e.id); }));
      });
    };
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("form-outbox", work).catch(function () { return null; });
    }
    return work();
  }

  function render() {
    if (!panel) return;
    Store.all().then(function (entries) {
      var list = panel.querySelector(".outbox-list");
      var now = Date.now();
      var shown = entries.filter(function (e) { return e.user === currentUser(); })
        .sort(function (a, b) { return a.createdAt - b.createdAt; });
      list.textContent = "";
      shown.forEach(function (entry) {
        var li = document.createElement("li");
        li.className = "state-" + entry.state;
        li.setAttribute("data-id", entry.id);
        var name = document.createElement("strong");
        name.className = "name";
        name.textContent = entry.title + (entry.words ? " · " + entry.words : "");
        li.appendChild(name);
        var state = document.createElement("span");
        state.className = "state";
        if (entry.state === "saved") state.textContent = say("textSaved");
        else if (entry.state === "failed") state.textContent = say("textRefused") + (entry.error ? " " + entry.error : "");
        else state.textContent = sending[entry.id] && navigator.onLine ? say("textSending") : say("textWaiting");
        li.appendChild(state);
        var actions = document.createElement("span");
        actions.className = "actions";
        if (entry.state === "saved" && entry.next) {
          var open = document.createElement("a");
          open.className = "button";
          open.href = entry.next;
          open.textContent = say("textOpen");
          actions.appendChild(open);
        }
        if (entry.state === "failed") {
          var fix = document.createElement("a");
          fix.className = "button";
          fix.href = entry.url.split("#")[0] + "#restore-form=" + entry.id;
          fix.textContent = say("textFix");
          actions.appendChild(fix);
        }
        var dismiss = document.createElement("button");
        dismiss.type = "button";
        dismiss.className = "dismiss";
        dismiss.textContent = say("textDismiss");
        dismiss.addEventListener("click", function () {
          if (entry.state !== "saved" && !window.confirm(say("textConfirmForget"))) return;
          Store.remove(entry.id).then(render);
        });
        actions.appendChild(dismiss);
        li.appendChild(actions);
        list.appendChild(li);
        // Saved a day ago: nothing more to say about it.
        if (entry.state === "saved" && now - (entry.savedAt || 0) > 86400000) Store.remove(entry.id);
      });
      panel.hidden = shown.length === 0;
    });
  }

  // "Fill in again": a form the server refused comes back into its page, as it was typed (files
  // must be chosen again); the kept copy goes once the form is sent again.
  function restore() {
    var match = /#restore-form=([\w-]+)/.exec(window.location.hash);
    if (!match) return;
    Store.get(match[1]).then(function (entry) {
      if (!entry || entry.user !== currentUser()) return;
      var form = document.querySelector("form[data-outbox]");
      if (!form) return;
      var byName = {};
      entry.fields.forEach(function (pair) {
        if (typeof pair[1] !== "string") return;
        (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]);
      });
      Object.keys(byName).forEach(function (name) {
        if (name === "csrfmiddlewaretoken" || name === "once") return;
        form.querySelectorAll("[name='" + name + "']").forEach(function (field) {
          if (field.type === "checkbox" || field.type === "radio") field.checked = byName[name].indexOf(field.value) !== -1;
          else if (field.type !== "file") field.value = byName[name][0];
        });
      });
      form.dataset.restoredFrom = entry.id;
      form.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-outbox") || event.defaultPrevented) return;
    var restoredFrom = form.dataset.restoredFrom;
    if (restoredFrom) { delete form.dataset.restoredFrom; Store.remove(restoredFrom); }
    if (navigator.onLine) return;  // online: the browser posts it as usual
    event.preventDefault();
    keep(form, event.submitter).then(function () { afterKept(form); }, function () {
      // Not even kept on the phone (no room): let the browser try, rather than lose it silently.
      form.submit();
    });
  });

  window.addEventListener("online", function () { flush(); });
  window.addEventListener("offline", function () { render(); });

  document.addEventListener("DOMContentLoaded", function () {
    panel = document.getElementById("form-outbox");
    // A page the service worker kept: its one-time tokens are used already, or soon will be.
    if (document.documentElement.hasAttribute("data-offline-copy")) {
      renewTokens(document);
      if (panel) {
        var note = document.createElement("p");
        note.className = "notice offline-copy";
        note.textContent = say("textOfflineCopy");
        var main = document.getElementById("content");
        if (main) main.insertBefore(note, main.firstChild);
      }
    }
    if (!panel) return;
    render();
    restore();
    flush();
  });
})();
