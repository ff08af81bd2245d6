// Page behaviour without inline script (the CSP forbids it). Everything here is an enhancement:
// without JavaScript the forms still post and the server answers.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  // --- Keeping evidence on the phone until the server has it -------------------------------------
  // A recording (and a large upload) lives in IndexedDB from its first second until the server's
  // answer carries the SHA-256 of exactly those bytes. Going offline, a reload, a closed tab or a
  // refused request never discards it; it is sent again by itself (back-off, `online`, the next
  // visit to any page) and listed in the "Kept on this phone" panel of every page (base.html).

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return hex(bytes);
  }
  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  // SHA-256 computed here, to compare with the one the server reports for what it stored.
  function sha256Hex(blob) {
    if (!(window.crypto && window.crypto.subtle && blob.arrayBuffer)) return Promise.resolve(null);
    return blob.arrayBuffer()
      .then(function (buffer) { return window.crypto.subtle.digest("SHA-256", buffer); })
      .then(function (digest) { return hex(new Uint8Array(digest)); })
      .catch(function () { return null; });
  }
  // Waits `ms`, or less when the network comes back.
  function pause(ms) {
    return new Promise(function (resolve) {
      var timer = window.setTimeout(done, ms);
      function done() {
        window.clearTimeout(timer);
        window.removeEventListener("online", done);
        resolve();
      }
      window.addEventListener("online", done);
    });
  }
  function backoff(attempt) { return Math.min(15000, 1000 * Math.pow(2, Math.min(attempt || 0, 4))); }

  // IndexedDB: "items" (one per recording or upload) and "chunks" (a recording's pieces, in order).
  // Without IndexedDB (some private modes) the same calls keep things in memory while the page lives.
  var Store = (function () {
    var opened = null;
    var memory = { items: {}, chunks: [] };
    function open() {
      if (!opened) {
        opened = new Promise(function (resolve) {
          if (!window.indexedDB) { resolve(null); return; }
          var request;
          try { request = window.indexedDB.open("evidence-keeper", 1); } catch (e) { resolve(null); return; }
          request.onupgradeneeded = function () {
            var db = request.result;
            db.createObjectStore("items", { keyPath: "id" });
            db.createObjectStore("chunks", { autoIncrement: true }).createIndex("item", "item");
          };
          request.onsuccess = function () { resolve(request.result); };
          request.onerror = function () { resolve(null); };
        });
      }
      return opened;
    }
    function run(stores, mode, work, fallback) {
      return open().then(function (db) {
        if (!db) return fallback();
        return new Promise(function (resolve, reject) {
          var tx = db.transaction(stores, mode);
          var result;
          tx.oncomplete = function () { resolve(result); };
          tx.onerror = tx.onabort = function () { reject(tx.error); };
          work(tx, function (value) { result = value; });
        });
      });
    }
    function copy(item) { var out = {}; Object.keys(item).forEach(function (k) { out[k] = item[k]; }); return out; }
    return {
      put: function (item) {
        return run(["items"], "readwrite", function (tx) { tx.objectStore("items").put(item); },
          function () { memory.items[item.id] = copy(item); });
      },
      get: function (id) {
        return run(["items"], "readonly", function (tx, set) {
          var r = tx.objectStore("items").get(id);
          r.onsuccess = function () { set(r.result); };
        }, function () { return memory.items[id] ? copy(memory.items[id]) : undefined; });
      },
      all: function () {
        return run(["items"], "readonly", function (tx, set) {
          var r = tx.objectStore("items").getAll();
          r.onsuccess = function () { set(r.result || []); };
        }, function () { return Object.keys(memory.items).map(function (k) { return copy(memory.items[k]); }); });
      },
      update: function (id, changes) {
        return run(["items"], "readwrite", function (tx, set) {
          var items = tx.objectStore("items");
          var r = items.get(id);
          r.onsuccess = function () {
            if (!r.result) return;
            var item = r.result;
            Object.keys(changes).forEach(function (k) { item[k] = changes[k]; });
            items.put(item);
            set(item);
          };
        }, function () {
          var item = memory.items[id];
          if (!item) return undefined;
          Object.keys(changes).forEach(function (k) { item[k] = changes[k]; });
          return copy(item);
        });
      },
      addChunk: function (id, blob) {
        return run(["chunks"], "readwrite", function (tx) { tx.objectStore("chunks").add({ item: id, blob: blob }); },
          function () { memory.chunks.push({ item: id, blob: blob }); });
      },
      chunks: function (id) {
        return run(["chunks"], "readonly", function (tx, set) {
          var r = tx.objectStore("chunks").index("item").getAll(id);
          r.onsuccess = function () { set((r.result || []).map(function (c) { return c.blob; })); };
        }, function () {
          return memory.chunks.filter(function (c) { return c.item === id; }).map(function (c) { return c.blob; });
        });
      },
      remove: function (id) {
        return run(["items", "chunks"], "readwrite", function (tx) {
          tx.objectStore("items").delete(id);
          var r = tx.objectStore("chunks").index("item").openKeyCursor(window.IDBKeyRange.only(id));
          r.onsuccess = function () {
            var cursor = r.result;
            if (cursor) { tx.objectStore("chunks").delete(cursor.primaryKey); cursor.continue(); }
          };
        }, function () {
          delete memory.items[id];
          memory.chunks = memory.chunks.filter(function (c) { return c.item !== id; });
        });
      },
      dropChunks: function (id) {
        return run(["chunks"], "readwrite", function (tx) {
          var r = tx.objectStore("chunks").index("item").openKeyCursor(window.IDBKeyRange.only(id));
          r.onsuccess = function () {
            var cursor = r.result;
            if (cursor) { tx.objectStore("chunks").delete(cursor.primaryKey); cursor.continue(); }
          };
        }, function () { memory.chunks = memory.chunks.filter(function (c) { return c.item !== id; }); });
      }
    };
  })();

  var outbox = null;          // the panel in base.html, with the texts
  var watchers = [];          // called with every item that changes (the recorder's own panel)
  var sending = {};           // id → the promise sending it, in this tab
  var heldByForm = {};        // uploads this page's form is showing itself
  var retryTimers = {};

  function say(name) { return (outbox && outbox.dataset[name]) || ""; }
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function changed(item) {
    if (item) watchers.forEach(function (watch) { watch(item); });
    renderOutbox();
  }

  function schedule(item) {
    window.clearTimeout(retryTimers[item.id]);
    retryTimers[item.id] = window.setTimeout(function () { sendItem(item.id); }, backoff(item.attempts));
  }

  function sendItem(id) {
    if (sending[id]) return sending[id];
    var sent = Store.get(id)
      .then(function (item) {
        if (!item || item.state === "saved" || item.state === "recording") return item;
        return item.kind === "upload" ? sendUpload(item) : sendRecording(item);
      })
      .catch(function () { return Store.update(id, { state: "pending" }).catch(function () { return null; }); })
      .then(function (item) {
        delete sending[id];
        if (item && item.state === "pending") schedule(item);
        changed(item);
        return item;
      });
    sending[id] = sent;
    renderOutbox();
    return sent;
  }

  function sendRecording(item) {
    return Store.chunks(item.id).then(function (parts) {
      var blob = new Blob(parts, { type: item.type || "audio/webm" });
      if (!blob.size) return Store.remove(item.id).then(function () { return null; });
      return (item.sha256 ? Promise.resolve(item.sha256) : sha256Hex(blob)).then(function (local) {
        var data = new FormData();
        data.append("file", blob, item.name);
        data.append("started_at", new Date(item.startedAt).toISOString());
        data.append("elapsed_seconds", String(item.elapsed || 0));
        // The recording's own id: the visit's details form on the recorder's page carries it too,
        // so the recording and the details are one visit whichever reaches the server first.
        data.append("recording_id", item.id);
        // How long ago recording began, by this phone's clock: a recording sent hours later still
        // states when it was made.
        data.append("age_seconds", String((Date.now() - item.startedAt) / 1000));
        var retry = { state: "pending", attempts: (item.attempts || 0) + 1, sha256: local, error: "" };
        return fetch(item.url, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf(), Accept: "application/json", "Idempotency-Key": item.key || item.id }
        })
          .then(function (r) {
            return r.json().then(function (body) { return { status: r.status, body: body }; },
                                 function () { return { status: r.status, body: null }; });
          })
          .then(function (answer) {
            var body = answer.body;
            if (body && body.ok) {
              if (local && body.sha256 !== local) {
                // Not what this phone recorded: keep it and send it again as a new request.
                retry.key = uuid();
                retry.error = say("textMismatch");
                return Store.update(item.id, retry);
              }
              return Store.dropChunks(item.id).then(function () {
                return Store.update(item.id, { state: "saved", sha256: body.sha256, verified: Boolean(local),
                                               next: body.next, savedAt: Date.now(), error: "" });
              });
            }
            if (body && answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) {
              return Store.update(item.id, { state: "failed", sha256: local, error: body.message || String(answer.status) });
            }
            return Store.update(item.id, retry);
          }, function () { return Store.update(item.id, retry); });
      });
    });
  }

  function sendUpload(item) {
    return uploadResumable(item.blob, {
      createUrl: item.url, target: item.target,
      onProgress: function (fraction) { item.progress = fraction; drawProgress(item); },
      onWaiting: function () { /* the panel says so from the item's state */ }
    }).then(function (result) {
      if (result.ok) {
        return Store.update(item.id, { state: "saved", sha256: result.sha256, blob: null, savedAt: Date.now(),
                                       next: result.incident ? "/incidents/" + result.incident + "/" : "", error: "" });
      }
      return Store.update(item.id, { state: "failed", error: result.message });
    });
  }

  function drawProgress(item) {
    if (!outbox) return;
    var bar = outbox.querySelector("li[data-id='" + item.id + "'] progress");
    if (bar) bar.value = Math.round((item.progress || 0) * 100);
  }

  function savedDetails(sha, verified) {
    var details = document.createElement("details");
    details.className = "saved";
    var summary = document.createElement("summary");
    summary.textContent = say("textSaved") || "✓";
    details.appendChild(summary);
    var code = document.createElement("code");
    code.className = "sha";
    code.setAttribute("data-label", "SHA-256");
    code.textContent = sha || "";
    details.appendChild(code);
    if (verified) code.classList.add("verified");
    return details;
  }

  function keepACopy(item) {
    var made = item.kind === "upload" ? Promise.resolve(item.blob)
      : Store.chunks(item.id).then(function (parts) { return new Blob(parts, { type: item.type }); });
    made.then(function (blob) {
      if (!blob) return;
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = item.name || "recording";
      document.body.appendChild(link);
      link.click();
      window.setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 10000);
    });
  }

  // In the time zone the pages show (the person's profile), not the phone's, written as people
  // write it: 2026年12月7日 22:47:30 in Chinese (never 2026-12-07T22:47:30+08:00).
  function localTime(ms) {
    var options = { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit",
                    second: "2-digit", hourCycle: "h23" };
    try {
      return new Date(ms).toLocaleString(document.documentElement.lang, Object.assign(options, { timeZone: say("timeZone") || undefined }));
    } catch (e) {
      return new Date(ms).toLocaleString();
    }
  }

  function renderOutbox() {
    if (!outbox) return;
    Store.all().then(function (items) {
      var list = outbox.querySelector(".outbox-list");
      var shown = items.filter(function (item) { return item.state !== "recording" && !heldByForm[item.id]; })
        .sort(function (a, b) { return (a.createdAt || 0) - (b.createdAt || 0); });
      list.textContent = "";
      shown.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "state-" + item.state;
        li.setAttribute("data-id", item.id);
        var name = document.createElement("strong");
        name.className = "name";
        if (item.kind === "upload") {
          name.textContent = item.name + " (" + humanSize(item.size || 0) + ")";
        } else {
          name.textContent = say("textRecording") + " " + localTime(item.startedAt) + " · " +
            Math.round(item.elapsed || 0) + " " + say("textSeconds");
        }
        li.appendChild(name);
        if (item.interrupted) {
          var note = document.createElement("span");
          note.className = "muted small";
          note.textContent = say("textInterrupted");
          li.appendChild(note);
        }
        if (item.state === "saved") {
          li.appendChild(savedDetails(item.sha256, item.verified));
        } else {
          var state = document.createElement("span");
          state.className = "state";
          state.textContent = item.state === "failed" ? say("textFailed") + " " + (item.error || "")
            : (sending[item.id] && navigator.onLine ? say("textSending") : say("textWaiting")) +
              (item.error ? " · " + item.error : "");
          li.appendChild(state);
          if (item.kind === "upload" && item.state === "pending") {
            var bar = document.createElement("progress");
            bar.max = 100;
            bar.value = Math.round((item.progress || 0) * 100);
            li.appendChild(bar);
          }
        }
        var actions = document.createElement("span");
        actions.className = "actions";
        if (item.state === "saved" && item.next) {
          var open = document.createElement("a");
          open.className = "button";
          open.href = item.next;
          open.textContent = say("textOpen");
          actions.appendChild(open);
        }
        if (item.state !== "saved") {
          var copy = document.createElement("button");
          copy.type = "button";
          copy.textContent = say("textCopy");
          copy.addEventListener("click", function () { keepACopy(item); });
          actions.appendChild(copy);
        }
        var dismiss = document.createElement("button");
        dismiss.type = "button";
        dismiss.className = "dismiss";
        dismiss.textContent = say("textDismiss");
        dismiss.addEventListener("click", function () {
          if (item.state !== "saved" && !window.confirm(say("textConfirmForget"))) return;
          Store.remove(item.id).then(function () { renderOutbox(); });
        });
        actions.appendChild(dismiss);
        li.appendChild(actions);
        list.appendChild(li);
      });
      outbox.hidden = shown.length === 0;
    });
  }

  // Every page: finish what an earlier visit left (a recording cut off by a closed page, uploads
  // not yet confirmed), and send whatever waits, now and whenever the network comes back.
  function resumeOutbox() {
    return Store.all().then(function (items) {
      var now = Date.now();
      var work = items.map(function (item) {
        if (item.state === "recording" && now - (item.beat || item.startedAt || 0) > 10000) {
          return Store.update(item.id, { state: "pending", interrupted: true,
                                         elapsed: ((item.beat || now) - item.startedAt) / 1000 });
        }
        if (item.state === "saved" && now - (item.savedAt || 0) > 3 * 86400000) return Store.remove(item.id);
        return item;
      });
      return Promise.all(work);
    }).then(function () {
      return Store.all();
    }).then(function (items) {
      items.forEach(function (item) {
        var busyElsewhere = item.kind === "upload" && Date.now() - (item.beat || 0) < 15000;
        if (item.state === "pending" && !busyElsewhere) sendItem(item.id);
      });
      renderOutbox();
    });
  }
  window.addEventListener("online", function () {
    Store.all().then(function (items) {
      items.forEach(function (item) { if (item.state === "pending") sendItem(item.id); });
    });
  });
  window.addEventListener("offline", function () { renderOutbox(); });

  // --- The upload form ----------------------------------------------------------------------------
  // Errors stay on screen (kept in localStorage) until dismissed; success reads "Safely saved ✓"
  // with the SHA-256 one tap away. Large files go through the resumable endpoint and are kept in
  // IndexedDB until finished, so a dropped connection or a reload does not stop them.

  var ERRORS_KEY = "upload-errors";
  function storedErrors() {
    try { return JSON.parse(window.localStorage.getItem(ERRORS_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveErrors(list) {
    try { window.localStorage.setItem(ERRORS_KEY, JSON.stringify(list.slice(-50))); } catch (e) { /* private mode */ }
  }

  function setUpUpload(form) {
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector(".progress-list");
    var zone = form.querySelector(".dropzone");
    var button = form.querySelector("button[type=submit]");
    var target = form.dataset.target;
    var limit = parseInt(form.dataset.maxBytes || "0", 10);

    function row(name, size) {
      var item = document.createElement("li");
      var label = document.createElement("span");
      label.className = "name";
      label.textContent = name + (size !== undefined ? " (" + humanSize(size) + ")" : "");
      var status = document.createElement("span");
      status.className = "status";
      item.appendChild(label);
      item.appendChild(status);
      list.appendChild(item);
      return { item: item, status: status };
    }
    function showError(entry) {
      var shown = row(entry.name);
      shown.item.className = "error";
      shown.status.textContent = entry.message;
      var dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "dismiss";
      dismiss.textContent = form.dataset.dismiss || "×";
      dismiss.addEventListener("click", function () {
        saveErrors(storedErrors().filter(function (e) { return e.id !== entry.id; }));
        shown.item.remove();
      });
      shown.item.appendChild(dismiss);
    }
    function failed(file, message, shown) {
      var entry = { id: uuid(), target: target, name: file.name, message: message, at: Date.now() };
      saveErrors(storedErrors().concat([entry]));
      if (shown) shown.item.remove();
      showError(entry);
      return false;
    }
    function succeeded(shown, sha) {
      shown.item.className = "ok";
      shown.status.textContent = "";
      shown.status.appendChild(savedDetails(sha, false));
      return true;
    }
    storedErrors().filter(function (e) { return e.target === target; }).forEach(showError);

    function plain(file, shown, bar) {
      return new Promise(function (resolve) {
        var data = new FormData();
        data.append("files", file, file.name);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
        xhr.setRequestHeader("Accept", "application/json");
        xhr.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
        });
        xhr.addEventListener("load", function () {
          var result = null;
          try { result = JSON.parse(xhr.responseText).results[0]; } catch (e) { result = null; }
          if (result && result.ok) { bar.value = 100; resolve(succeeded(shown, result.sha256)); return; }
          resolve(failed(file, result ? result.message : (form.dataset.failed || "") + " (" + xhr.status + ")", shown));
        });
        xhr.addEventListener("error", function () { resolve(failed(file, form.dataset.networkError, shown)); });
        xhr.send(data);
      });
    }

    function resumable(file, shown, bar) {
      var id = uuid();
      var item = { id: id, kind: "upload", state: "pending", url: form.dataset.resumableUrl, target: target,
                   name: file.name, size: file.size, blob: file, createdAt: Date.now(), beat: Date.now() };
      heldByForm[id] = true;
      var kept = Store.put(item).catch(function () { /* no room: it still goes up while the page is open */ });
      var waiting = false;
      var run = kept.then(function () {
        return uploadResumable(file, {
          createUrl: form.dataset.resumableUrl, target: target,
          onProgress: function (fraction) {
            bar.value = Math.round(fraction * 100);
            if (waiting) { waiting = false; shown.status.textContent = ""; }
            Store.update(id, { beat: Date.now(), progress: fraction }).catch(function () { /* best effort */ });
          },
          onWaiting: function () {
            waiting = true;
            shown.status.textContent = form.dataset.waiting;
            Store.update(id, { beat: Date.now() }).catch(function () { /* best effort */ });
          }
        });
      });
      return run.then(function (result) {
        delete heldByForm[id];
        if (result.ok) {
          Store.remove(id).catch(function () { /* gone already */ });
          return succeeded(shown, result.sha256);
        }
        Store.remove(id).catch(function () { /* gone already */ });
        return failed(file, result.message || form.dataset.failed, shown);
      });
    }

    function uploadOne(file) {
      if (limit && file.size > limit) return Promise.resolve(failed(file, form.dataset.tooLarge));
      var shown = row(file.name, file.size);
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      shown.item.insertBefore(bar, shown.status);
      if (form.dataset.resumableUrl && file.size > RESUMABLE_THRESHOLD) return resumable(file, shown, bar);
      return plain(file, shown, bar);
    }

    function send(files) {
      if (!files.length) return;
      button.disabled = true;
      var pending = Array.prototype.map.call(files, uploadOne);
      Promise.all(pending).then(function (outcomes) {
        button.disabled = false;
        input.value = "";
        if (outcomes.some(Boolean) && outcomes.every(Boolean)) {
          // Reload after a moment so the list shows the stored files with players and thumbnails.
          window.setTimeout(function () { window.location.reload(); }, 1500);
        }
      });
    }

    input.addEventListener("change", function () { send(input.files); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send(input.files);
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) { send(event.dataTransfer.files); });
  }

  // Large files go through the resumable (tus) endpoint in 1 MB pieces. The upload's address is
  // kept per file (its name, size and date) in localStorage; a dropped connection, a 409 or a
  // reloaded page resumes from the offset the server reports, so nothing is sent twice. Network
  // trouble never ends it: it waits (back-off, or until `online`) and asks the server again.
  var RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
  var PIECE = 1024 * 1024;

  function b64(text) { return window.btoa(unescape(encodeURIComponent(text))); }

  function uploadResumable(file, opts) {
    var key = "tus:" + opts.target + ":" + file.name + ":" + file.size + ":" + (file.lastModified || 0);
    var attempt = 0;

    function headers(extra) {
      var all = { "Tus-Resumable": "1.0.0", "X-CSRFToken": csrf() };
      Object.keys(extra || {}).forEach(function (k) { all[k] = extra[k]; });
      return all;
    }
    function remember(url) { try { window.localStorage.setItem(key, url); } catch (e) { /* private mode */ } }
    function forget() { try { window.localStorage.removeItem(key); } catch (e) { /* private mode */ } }
    function recalled() { try { return window.localStorage.getItem(key); } catch (e) { return null; } }
    function problemOf(r) {
      return r.json().then(function (b) { return b.error ? b.error.message : String(r.status); },
                          function () { return String(r.status); })
        .then(function (message) { throw { fatal: r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429, message: message }; });
    }
    function create() {
      var target = opts.target.split(":");
      var meta = "filename " + b64(file.name) + "," + target[0] + " " + b64(target[1]);
      return fetch(opts.createUrl, { method: "POST", credentials: "same-origin",
        headers: headers({ "Upload-Length": String(file.size), "Upload-Metadata": meta }) })
        .then(function (r) {
          if (r.status !== 201) return problemOf(r);
          var url = r.headers.get("Location");
          remember(url);
          return { url: url, offset: 0 };
        });
    }
    // Where the server stands: the offset, or the finished evidence's SHA-256 (even when the last
    // answer was lost on the way).
    function where() {
      var url = recalled();
      if (!url) return create();
      return fetch(url, { method: "HEAD", credentials: "same-origin", headers: headers() }).then(function (r) {
        if (r.status === 404 || r.status === 410) { forget(); return create(); }
        if (r.status !== 200) throw { fatal: false };
        return { url: url, offset: parseInt(r.headers.get("Upload-Offset"), 10) || 0,
                 sha256: r.headers.get("Upload-Evidence-SHA256"), incident: r.headers.get("Upload-Incident-Id") };
      });
    }
    function piece(state) {
      return new Promise(function (resolve, reject) {
        var xhr = new XMLHttpRequest();
        xhr.open("PATCH", state.url);
        xhr.timeout = 120000;
        var h = headers({ "Upload-Offset": String(state.offset), "Content-Type": "application/offset+octet-stream" });
        Object.keys(h).forEach(function (k) { xhr.setRequestHeader(k, h[k]); });
        xhr.upload.addEventListener("progress", function (e) {
          opts.onProgress((state.offset + e.loaded) / file.size);
        });
        xhr.addEventListener("load", function () {
          if (xhr.status === 204) {
            resolve({ url: state.url, offset: parseInt(xhr.getResponseHeader("Upload-Offset"), 10),
                      sha256: xhr.getResponseHeader("Upload-Evidence-SHA256"),
                      incident: xhr.getResponseHeader("Upload-Incident-Id") });
            return;
          }
          var message = String(xhr.status);
          try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep the status */ }
          if (xhr.status === 404 || xhr.status === 410) forget();
          var fatal = [400, 403, 413, 415].indexOf(xhr.status) !== -1;
          reject({ fatal: fatal, message: message });
        });
        xhr.addEventListener("error", function () { reject({ fatal: false }); });
        xhr.addEventListener("timeout", function () { reject({ fatal: false }); });
        xhr.send(file.slice(state.offset, Math.min(state.offset + PIECE, file.size)));
      });
    }
    function step(state) {
      if (state.sha256) {
        forget();
        opts.onProgress(1);
        return { ok: true, sha256: state.sha256, incident: state.incident };
      }
      if (state.offset >= file.size) throw { fatal: false };  // all there, not stored yet: ask again
      return piece(state).then(function (next) {
        attempt = 0;
        return step(next);
      }, retry);
    }
    function retry(problem) {
      if (problem && problem.fatal) { forget(); return { ok: false, message: problem.message }; }
      attempt += 1;
      opts.onWaiting();
      return pause(backoff(attempt)).then(function () { return where().then(step); }).catch(retry);
    }
    return where().then(step).catch(retry);
  }
  // A dossier, export or large import being built: follow its progress, then show the finished page.
  function followDossier(section) {
    var bar = section.querySelector("progress");
    var percent = section.querySelector(".percent");
    var note = section.querySelector(".note");
    function poll() {
      fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          bar.value = data.progress;
          percent.textContent = data.progress;
          note.textContent = data.note;
          var stuck = section.querySelector("form.stuck");
          if (stuck) stuck.hidden = !data.stalled;
          if (data.status === "ready" || data.status === "done" || data.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 800);
  }

  // The offline page's heading follows the real state: "No network" only while the server cannot be
  // reached. The browser's online event is a hint; an answer from the server (or an item of the
  // outbox saved) is the proof, so the page never says "No network" beside "Safely saved ✓".
  function followNetwork(box) {
    var title = box.querySelector("h1"), text = box.querySelector("p");
    var offline = { title: title.textContent, text: text.textContent, page: document.title };
    function show(online) {
      title.textContent = online ? box.dataset.onlineTitle : offline.title;
      text.textContent = online ? box.dataset.onlineText : offline.text;
      document.title = online ? document.title.replace(offline.title, box.dataset.onlineTitle) : offline.page;
      box.classList.toggle("online", online);
    }
    function probe() {
      if (!navigator.onLine) { show(false); return; }
      fetch(box.dataset.probeUrl, { cache: "no-store", credentials: "same-origin" })
        .then(function () { show(true); }, function () { show(false); });
    }
    window.addEventListener("online", probe);
    window.addEventListener("offline", function () { show(false); });
    watchers.push(function (item) { if (item.state === "saved") show(true); });
    probe();
  }

  // Recording a home visit in the page: MediaRecorder (webm/opus in Chrome, mp4/aac in Safari) and
  // an on-screen timer. Every second of audio goes into IndexedDB as it is recorded; "stop" hands
  // the recording to the outbox, which sends it with its own Idempotency-Key until the server
  // answers with the SHA-256 this phone computed. A lost answer or a retry never stores it twice.
  function setUpRecorder(section) {
    var button = section.querySelector(".record-toggle");
    var timer = section.querySelector(".timer");
    var status = section.querySelector(".status");
    var recorder = null, startedAt = null, tick = null, current = null;
    var level = section.querySelector("meter.level"), listening = null;

    // The level meter: an analyser on the same microphone stream, read on every timer tick. Nothing
    // of it is recorded; without Web Audio the meter simply stays hidden.
    function listen(stream) {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!level || !Context) return null;
      try {
        var context = new Context();
        var analyser = context.createAnalyser();
        // 2048 samples (about 43 ms) read every 40 ms: no sound falls between two readings, and the
        // bar falls back slowly, so a short sound stays visible for a moment.
        analyser.fftSize = 2048;
        context.createMediaStreamSource(stream).connect(analyser);
        var samples = new Float32Array(analyser.fftSize);
        level.hidden = false;
        var sample = function () {
          analyser.getFloatTimeDomainData(samples);
          var sum = 0;
          for (var i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
          // RMS, scaled so ordinary speech fills most of the bar.
          level.value = Math.max(Math.min(1, Math.sqrt(sum / samples.length) * 4), level.value * 0.85);
        };
        var timer = setInterval(sample, 40);
        return {
          read: function () {},
          stop: function () { clearInterval(timer); level.value = 0; level.hidden = true; context.close(); }
        };
      } catch (e) { return null; }
    }

    function pick() {
      var types = ["audio/webm;codecs=opus", "audio/webm", "audio/mp4", "audio/aac"];
      for (var i = 0; i < types.length; i++) {
        if (window.MediaRecorder && MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
      }
      return "";
    }
    function show() {
      if (listening) listening.read();
      var seconds = Math.floor((Date.now() - startedAt) / 1000);
      var m = Math.floor(seconds / 60), s = seconds % 60;
      timer.textContent = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    }
    function idle(message) {
      button.disabled = false;
      button.textContent = section.dataset.textStart;
      section.classList.remove("recording");
      status.textContent = message;
    }
    watchers.push(function (item) {
      if (!current || item.id !== current.id) return;
      if (item.state === "saved") {
        status.textContent = "";
        status.appendChild(savedDetails(item.sha256, item.verified));
        // Straight on to the details when the first try worked; later, the person may be busy.
        if (current.first && item.next) window.location.href = item.next;
      } else if (item.state === "failed") {
        current.first = false;
        status.textContent = section.dataset.textFailed + " " + (item.error || "") + " " + (section.dataset.textKept || "");
      } else if (item.state === "pending") {
        current.first = false;
        status.textContent = say("textWaiting") || section.dataset.textWaiting;
      }
    });

    button.addEventListener("click", function () {
      if (recorder && recorder.state === "recording") {
        button.disabled = true;
        recorder.stop();
        return;
      }
      if (!navigator.mediaDevices || !window.MediaRecorder) { status.textContent = section.dataset.textDenied; return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var type = pick();
        recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
        startedAt = Date.now();
        var mime = recorder.mimeType || type || "audio/webm";
        var extension = mime.indexOf("mp4") !== -1 || mime.indexOf("aac") !== -1 ? "m4a" : "webm";
        var stamp = new Date(startedAt).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
        var id = uuid();
        current = { id: id, first: true };
        var visitField = document.getElementById("visit-recording-id");
        if (visitField) visitField.value = id;
        var writes = Store.put({
          id: id, kind: "visit", state: "recording", url: section.dataset.uploadUrl, type: mime,
          name: "visit-" + stamp + "." + extension, startedAt: startedAt, beat: startedAt, elapsed: 0, createdAt: startedAt
        });
        recorder.addEventListener("dataavailable", function (e) {
          if (!e.data || !e.data.size) return;
          var piece = e.data;
          var beat = Date.now();
          // In order, each piece after the one before; the heartbeat tells other tabs it is alive.
          writes = writes.catch(function () { /* one failed write must not stop the next */ })
            .then(function () { return Store.addChunk(id, piece); })
            .then(function () { return Store.update(id, { beat: beat, elapsed: (beat - startedAt) / 1000 }); });
        });
        recorder.addEventListener("stop", function () {
          window.clearInterval(tick);
          if (listening) { listening.stop(); listening = null; }
          stream.getTracks().forEach(function (t) { t.stop(); });
          var elapsed = (Date.now() - startedAt) / 1000;
          idle(section.dataset.textSaving);
          writes.catch(function () { /* sent from what was kept */ })
            .then(function () { return Store.update(id, { state: "pending", elapsed: elapsed, beat: Date.now() }); })
            .then(function () { return sendItem(id); });
        });
        recorder.start(1000);
        listening = listen(stream);
        tick = window.setInterval(show, 250);
        status.textContent = "";
        button.textContent = section.dataset.textStop;
        section.classList.add("recording");
      }).catch(function () { status.textContent = section.dataset.textDenied; });
    });
  }

  if ("serviceWorker" in navigator && document.documentElement.dataset.sw) {
    navigator.serviceWorker.register(document.documentElement.dataset.sw).catch(function () { /* optional */ });
    // The service worker keeps a page for when the network is gone; it must match this visitor
    // (logged in, with the list of what waits on the phone) and language.
    document.addEventListener("DOMContentLoaded", function () {
      var state = (document.getElementById("outbox") ? "in:" : "out:") + document.documentElement.lang;
      var known = null;
      try { known = window.localStorage.getItem("offline-page-for"); } catch (e) { known = null; }
      if (known === state || !navigator.onLine) return;
      navigator.serviceWorker.ready.then(function (registration) {
        if (!registration.active) return;
        registration.active.postMessage("refresh-offline-page");
        try { window.localStorage.setItem("offline-page-for", state); } catch (e) { /* private mode */ }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    outbox = document.getElementById("outbox");
    if (outbox) resumeOutbox();
    var recorderSection = document.getElementById("visit-recorder");
    if (recorderSection) setUpRecorder(recorderSection);
    var building = document.getElementById("dossier-progress");
    if (building && window.fetch) followDossier(building);
    var network = document.getElementById("network-state");
    if (network && window.fetch) followNetwork(network);

    var form = document.getElementById("upload-form");
    if (form && window.FormData && window.XMLHttpRequest) setUpUpload(form);

    document.querySelectorAll("form.confirm").forEach(function (f) {
      f.addEventListener("submit", function (event) {
        if (!window.confirm(f.dataset.confirm)) event.preventDefault();
      });
    });
    document.querySelectorAll("button.copy").forEach(function (b) {
      b.addEventListener("click", function () {
        var target = document.querySelector(b.dataset.copy);
        if (!target || !navigator.clipboard) return;
        // Says "Copied" on the button itself (announced by screen readers) once the clipboard has it.
        var label = b.dataset.label || b.textContent;
        b.dataset.label = label;
        b.setAttribute("aria-live", "polite");
        navigator.clipboard.writeText(target.value !== undefined ? target.value.trim() : target.textContent.trim())
          .then(function () {
            b.textContent = b.dataset.copied || label;
            window.clearTimeout(b.copiedTimer);
            b.copiedTimer = window.setTimeout(function () { b.textContent = label; }, 3000);
          })
          .catch(function () { target.select && target.select(); });
      });
    });
  });

  // The dossier builder: offer the requests that fit the chosen recipient, the earlier-complaint
  // fields for a regulator, the full-ID choice where it is allowed, and the recipient's scope warning.
  function builderChoices(form) {
    var chosen = form.querySelector("input[name=addressee]:checked");
    if (!chosen) return;
    var kind = chosen.getAttribute("data-kind") || "other";
    form.querySelectorAll("input[name=requests]").forEach(function (box) {
      var fits = (box.getAttribute("data-for") || "").split(" ").indexOf(kind) >= 0;
      var label = box.closest("label") || box.parentNode;
      label.hidden = !fits;
      if (!fits) box.checked = false;
      else if (form.dataset.kind !== kind && form.dataset.kind !== undefined) {
        box.checked = (box.getAttribute("data-default") || "").split(" ").indexOf(kind) >= 0;
      }
    });
    form.dataset.kind = kind;
    form.querySelectorAll("[data-show-for]").forEach(function (part) {
      part.hidden = part.getAttribute("data-show-for") !== kind;
    });
    form.querySelectorAll("[data-show-for-full-id]").forEach(function (part) {
      part.hidden = !chosen.getAttribute("data-full-id");
      if (part.hidden) part.querySelectorAll("input").forEach(function (box) { box.checked = false; });
    });
    document.querySelectorAll("[data-for-addressee]").forEach(function (warning) {
      warning.hidden = warning.getAttribute("data-for-addressee") !== chosen.value;
    });
  }
  document.querySelectorAll("form.builder").forEach(function (form) {
    builderChoices(form);
    form.addEventListener("change", function (event) {
      if (event.target.name === "addressee") builderChoices(form);
    });
  });

  // The log form: a recording or screenshot chosen in it offers the time its name (or an image's
  // EXIF) states, as a button that fills "When"; the server reads it with the same code that files
  // uploads. Nothing is saved until the form is.
  function offerFileTime(form) {
    var input = form.querySelector("input[type=file][data-time-url]");
    var when = form.querySelector("input[name=occurred_at]");
    if (!input || !when) return;
    var box = document.createElement("p");
    box.className = "file-time small";
    box.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", box);
    input.addEventListener("change", function () {
      box.textContent = "";
      var file = input.files && input.files[0];
      if (!file) return;
      var limit = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
      if (limit && file.size > limit) {
        box.textContent = input.getAttribute("data-too-large") || "";
        input.value = "";
        return;
      }
      var data = new FormData();
      data.append("time_from_file", "1");
      data.append("name", file.name);
      if (/^image\//.test(file.type) || /\.(jpe?g|png|webp|heic|heif)$/i.test(file.name)) {
        data.append("head", file.slice(0, 256 * 1024), file.name);
      }
      fetch(input.getAttribute("data-time-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form), Accept: "application/json" }
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || !input.files || input.files[0] !== file) return;
          if (!answer.time) { box.textContent = answer.message || ""; return; }
          var use = document.createElement("button");
          use.type = "button";
          use.className = "use-file-time";
          use.textContent = answer.label;
          use.addEventListener("click", function () {
            when.value = answer.time;
            when.dispatchEvent(new Event("change", { bubbles: true }));
            box.textContent = "";
            when.focus();
          });
          box.appendChild(use);
        })
        .catch(function () { /* no offer; the time can still be typed */ });
    });
  }
  document.querySelectorAll("form.incident-form").forEach(offerFileTime);

  // A long list (time zones) gets a search box: typing keeps only the entries that contain it.
  function searchableSelect(select) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "tz-search";
    box.placeholder = select.getAttribute("data-search");
    box.setAttribute("aria-label", select.getAttribute("data-search"));
    select.parentNode.insertBefore(box, select);
    var groups = Array.prototype.map.call(select.querySelectorAll("optgroup"), function (g) {
      return { label: g.label, options: Array.prototype.map.call(g.querySelectorAll("option"), function (o) {
        return { value: o.value, text: o.textContent };
      }) };
    });
    box.addEventListener("input", function () {
      var words = box.value.trim().toLowerCase();
      var current = select.value;
      select.textContent = "";
      groups.forEach(function (g) {
        var group = document.createElement("optgroup");
        group.label = g.label;
        g.options.forEach(function (o) {
          if (words && o.text.toLowerCase().indexOf(words) === -1 && o.value.toLowerCase().indexOf(words) === -1 &&
              o.value !== current) return;
          var option = document.createElement("option");
          option.value = o.value;
          option.textContent = o.text;
          option.selected = o.value === current;
          group.appendChild(option);
        });
        if (group.children.length) select.appendChild(group);
      });
    });
  }
  document.querySelectorAll("select[data-search]").forEach(searchableSelect);
})();
