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

  // One request per file, so each file gets its own progress bar and its own answer.
  function uploadOne(form, file, list) {
    var item = document.createElement("li");
    var label = document.createElement("span");
    label.className = "name";
    label.textContent = file.name + " (" + humanSize(file.size) + ")";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var status = document.createElement("span");
    status.className = "status";
    item.appendChild(label);
    item.appendChild(bar);
    item.appendChild(status);
    list.appendChild(item);

    if (form.dataset.resumableUrl && file.size > RESUMABLE_THRESHOLD) {
      return uploadResumable(form, file, bar).then(function (result) {
        item.className = result.ok ? "ok" : "error";
        status.textContent = result.ok ? "SHA-256 " + result.sha256 : result.message;
        return result.ok;
      });
    }

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
        if (result && result.ok) {
          bar.value = 100;
          item.className = "ok";
          status.textContent = "SHA-256 " + result.sha256;
        } else {
          item.className = "error";
          status.textContent = result ? result.message : (form.dataset.failed || "Upload failed") + " (" + xhr.status + ")";
        }
        resolve(result && result.ok);
      });
      xhr.addEventListener("error", function () {
        item.className = "error";
        status.textContent = form.dataset.networkError || "Network error";
        resolve(false);
      });
      xhr.send(data);
    });
  }

  // Large recordings go through the resumable (tus) endpoint in 1 MB pieces. A dropped connection
  // or a reloaded page resumes from the offset the server reports, so nothing is sent twice.
  var RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
  var PIECE = 1024 * 1024;

  function b64(text) { return window.btoa(unescape(encodeURIComponent(text))); }

  function uploadResumable(form, file, bar) {
    var key = "tus:" + form.dataset.target + ":" + file.name + ":" + file.size + ":" + file.lastModified;
    var base = { "Tus-Resumable": "1.0.0", "X-CSRFToken": csrfToken(form) };
    var attempts = 0;

    function headers(extra) {
      var all = {};
      Object.keys(base).forEach(function (k) { all[k] = base[k]; });
      Object.keys(extra || {}).forEach(function (k) { all[k] = extra[k]; });
      return all;
    }
    function create() {
      var target = form.dataset.target.split(":");
      var meta = "filename " + b64(file.name) + "," + target[0] + " " + b64(target[1]);
      return fetch(form.dataset.resumableUrl, { method: "POST", credentials: "same-origin",
        headers: headers({ "Upload-Length": String(file.size), "Upload-Metadata": meta }) })
        .then(function (r) {
          if (r.status !== 201) return r.json().then(function (b) { throw new Error(b.error ? b.error.message : r.status); });
          var url = r.headers.get("Location");
          try { window.localStorage.setItem(key, url); } catch (e) { /* private mode */ }
          return { url: url, offset: 0 };
        });
    }
    function resume() {
      var url = null;
      try { url = window.localStorage.getItem(key); } catch (e) { url = null; }
      if (!url) return create();
      return fetch(url, { method: "HEAD", credentials: "same-origin", headers: headers() }).then(function (r) {
        if (r.status !== 200) return create();
        // A finished upload says so (its evidence's SHA-256), even when the last answer was lost.
        return { url: url, offset: parseInt(r.headers.get("Upload-Offset"), 10) || 0,
                 sha256: r.headers.get("Upload-Evidence-SHA256") };
      });
    }
    function piece(url, offset) {
      return new Promise(function (resolve, reject) {
        var xhr = new XMLHttpRequest();
        xhr.open("PATCH", url);
        var h = headers({ "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" });
        Object.keys(h).forEach(function (k) { xhr.setRequestHeader(k, h[k]); });
        xhr.upload.addEventListener("progress", function (e) {
          bar.value = Math.round(((offset + e.loaded) / file.size) * 100);
        });
        xhr.addEventListener("load", function () {
          if (xhr.status === 204) {
            resolve({ offset: parseInt(xhr.getResponseHeader("Upload-Offset"), 10),
                      sha256: xhr.getResponseHeader("Upload-Evidence-SHA256") });
          } else {
            var message = String(xhr.status);
            try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep status */ }
            reject({ fatal: xhr.status >= 400 && xhr.status < 500 && xhr.status !== 409, message: message });
          }
        });
        xhr.addEventListener("error", function () { reject({ fatal: false }); });
        xhr.send(file.slice(offset, Math.min(offset + PIECE, file.size)));
      });
    }
    function run(state) {
      if (state.offset >= file.size && state.sha256) {
        try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
        return { ok: true, sha256: state.sha256 };
      }
      return piece(state.url, state.offset).then(function (next) {
        attempts = 0;
        return run({ url: state.url, offset: next.offset, sha256: next.sha256 });
      }, function (problem) {
        if (problem.fatal || attempts >= 30) return { ok: false, message: problem.message || form.dataset.networkError };
        attempts += 1;
        // Weak network: wait, ask the server how far it got, and carry on from there.
        return new Promise(function (r) { window.setTimeout(r, Math.min(30000, 1000 * attempts)); })
          .then(function () { return resume(); })
          .then(function (again) { return run({ url: again.url, offset: again.offset, sha256: again.sha256 }); });
      });
    }
    return resume().then(run).catch(function (e) { return { ok: false, message: e.message || form.dataset.failed }; });
  }

  function setUpUpload(form) {
    var input = form.querySelector("input[type=file]");
    var list = form.querySelector(".progress-list");
    var zone = form.querySelector(".dropzone");
    var button = form.querySelector("button[type=submit]");

    function send(files) {
      if (!files.length) return;
      button.disabled = true;
      var pending = Array.prototype.map.call(files, function (file) { return uploadOne(form, file, list); });
      Promise.all(pending).then(function (outcomes) {
        button.disabled = false;
        input.value = "";
        if (outcomes.some(Boolean)) {
          // Reload after a moment so the list shows the stored files with players and thumbnails.
          window.setTimeout(function () { window.location.reload(); }, 1200);
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

  // A dossier being built: follow its progress, then show the finished page with its links.
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
          if (data.status === "ready" || data.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 800);
  }

  // Recording a home visit in the page: MediaRecorder (webm/opus in Chrome, mp4/aac in Safari),
  // an on-screen timer, and an upload the moment recording stops.
  function setUpRecorder(section) {
    var button = section.querySelector(".record-toggle");
    var timer = section.querySelector(".timer");
    var status = section.querySelector(".status");
    var token = section.querySelector("input[name=csrfmiddlewaretoken]").value;
    var recorder = null, chunks = [], startedAt = null, tick = null;

    function pick() {
      var types = ["audio/webm;codecs=opus", "audio/webm", "audio/mp4", "audio/aac"];
      for (var i = 0; i < types.length; i++) {
        if (window.MediaRecorder && MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
      }
      return "";
    }
    function show() {
      var seconds = Math.floor((Date.now() - startedAt) / 1000);
      var m = Math.floor(seconds / 60), s = seconds % 60;
      timer.textContent = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    }
    function upload(blob, elapsed) {
      status.textContent = section.dataset.textSaving;
      var extension = blob.type.indexOf("mp4") !== -1 || blob.type.indexOf("aac") !== -1 ? "m4a" : "webm";
      var stamp = new Date(startedAt).toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
      var data = new FormData();
      data.append("file", blob, "visit-" + stamp + "." + extension);
      data.append("started_at", new Date(startedAt).toISOString());
      data.append("elapsed_seconds", String(elapsed));
      fetch(section.dataset.uploadUrl, { method: "POST", body: data, credentials: "same-origin",
                                         headers: { "X-CSRFToken": token, Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (result) {
          if (result.ok && result.body.ok) {
            status.textContent = "SHA-256 " + result.body.sha256;
            window.location.href = result.body.next;
          } else {
            status.textContent = section.dataset.textFailed + " " + (result.body.message || "");
            button.disabled = false;
          }
        })
        .catch(function () { status.textContent = section.dataset.textFailed; button.disabled = false; });
    }
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
        chunks = [];
        recorder.addEventListener("dataavailable", function (e) { if (e.data && e.data.size) chunks.push(e.data); });
        recorder.addEventListener("stop", function () {
          window.clearInterval(tick);
          stream.getTracks().forEach(function (t) { t.stop(); });
          var elapsed = (Date.now() - startedAt) / 1000;
          upload(new Blob(chunks, { type: recorder.mimeType || type || "audio/webm" }), elapsed);
        });
        startedAt = Date.now();
        recorder.start(1000);
        tick = window.setInterval(show, 250);
        button.textContent = section.dataset.textStop;
        section.classList.add("recording");
      }).catch(function () { status.textContent = section.dataset.textDenied; });
    });
  }

  if ("serviceWorker" in navigator && document.documentElement.dataset.sw) {
    navigator.serviceWorker.register(document.documentElement.dataset.sw).catch(function () { /* optional */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var recorderSection = document.getElementById("visit-recorder");
    if (recorderSection) setUpRecorder(recorderSection);
    var building = document.getElementById("dossier-progress");
    if (building && window.fetch) followDossier(building);

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
        if (target && navigator.clipboard) navigator.clipboard.writeText(target.textContent.trim());
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
})();
