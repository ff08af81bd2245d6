// Where a visit happened: the visit form's "Add my location" button (templates/evidence/
// incident_form.html). The phone's position is asked only when the person taps it (the browser then
// asks for consent), shown with its accuracy, and kept in the form's hidden `location` field as
// {"lat", "lon", "accuracy_m"}; it is never required, and the address can always be typed instead.
(function () {
  "use strict";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : all;
    });
  }

  function setUp(picker) {
    var form = document.querySelector("form.incident-form");
    var field = form && form.querySelector("input[name=location]");
    if (!field) return;
    var add = picker.querySelector("button.locate");
    var remove = picker.querySelector("button.unlocate");
    var status = picker.querySelector(".location-status");
    var text = picker.dataset;

    // Right under the typed address, where a person looks for it.
    var place = form.querySelector("input[name=place]");
    var anchor = place ? place.closest("div") || place : null;
    if (anchor && anchor.parentNode) anchor.insertAdjacentElement("afterend", picker);
    picker.hidden = false;

    function show() {
      var where = null;
      try { where = field.value ? JSON.parse(field.value) : null; } catch (e) { where = null; }
      if (!where || typeof where.lat !== "number" || typeof where.lon !== "number") {
        status.textContent = "";
        remove.hidden = true;
        add.textContent = text.textAdd;
        return;
      }
      var shown = fill(text.textShown, { lat: where.lat.toFixed(6), lon: where.lon.toFixed(6) });
      if (typeof where.accuracy_m === "number") {
        shown += fill(text.textAccuracy, { metres: String(Math.round(where.accuracy_m)) });
      }
      status.textContent = shown;
      remove.hidden = false;
      add.textContent = text.textAgain;
    }

    add.addEventListener("click", function () {
      if (!navigator.geolocation) { status.textContent = text.textUnavailable; return; }
      add.disabled = true;
      status.textContent = text.textAsking;
      navigator.geolocation.getCurrentPosition(function (position) {
        add.disabled = false;
        var c = position.coords;
        field.value = JSON.stringify({
          lat: Math.round(c.latitude * 1e6) / 1e6,
          lon: Math.round(c.longitude * 1e6) / 1e6,
          accuracy_m: typeof c.accuracy === "number" ? Math.round(c.accuracy * 10) / 10 : null
        });
        show();
      }, function (problem) {
        add.disabled = false;
        status.textContent = problem && problem.code === 1 ? text.textDenied : text.textUnavailable;
      }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
    });
    remove.addEventListener("click", function () {
      field.value = "";
      show();
      add.focus();
    });
    // The offline outbox empties the form after keeping it; the picker follows.
    form.addEventListener("reset", function () { window.setTimeout(show, 0); });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var picker = document.getElementById("location-picker");
    if (picker) setUp(picker);
  });
})();
