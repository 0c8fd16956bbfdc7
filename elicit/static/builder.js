/* Progressive enhancement of the study builder.  Every button works without this file:
   it moves items and sections in place (the page's list is replaced by the server's,
   focus stays on the button pressed and the move is announced), asks before an item is
   deleted, and warns before a page with unsaved typing is left.  No inline script: the
   Content-Security-Policy forbids it. */
(function () {
  "use strict";

  /* -- moves in place ----------------------------------------------------------------- */
  var announcer = document.getElementById("builder-announcer");

  function announce(text) {
    if (!announcer) { return; }
    announcer.textContent = "";
    /* A fresh text node after a tick, so that a repeated message is read again. */
    setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function focusAfterMove(key) {
    var opposite = /-up$/.test(key) ? key.replace(/-up$/, "-down") : key.replace(/-down$/, "-up");
    var target = document.querySelector('[data-focus-key="' + key + '"]') ||
      document.querySelector('[data-focus-key="' + opposite + '"]');
    if (target) {
      target.focus();
      var row = target.closest(".builder-item, .builder-section");
      if (row) {
        row.classList.add("moved");
        setTimeout(function () { row.classList.remove("moved"); }, 1500);
      }
    }
  }

  function move(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) { data.append(submitter.name, submitter.value); }
    var key = submitter ? submitter.getAttribute("data-focus-key") : null;
    return fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var fetched = new DOMParser().parseFromString(html, "text/html");
        var fresh = fetched.getElementById("structure");
        var current = document.getElementById("structure");
        if (!fresh || !current) { throw new Error("no structure"); }
        current.replaceWith(document.importNode(fresh, true));
        var notices = fetched.querySelectorAll(".notice");
        var text = Array.prototype.map.call(notices, function (n) { return n.textContent; }).join(" ");
        announce(text || (form.getAttribute("data-moved") || ""));
        if (key) { focusAfterMove(key); }
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-builder-confirm")) {
      if (!window.confirm(form.getAttribute("data-builder-confirm"))) {
        event.preventDefault();
        return;
      }
    }
    if (form.hasAttribute("data-builder-move")) {
      event.preventDefault();
      var submitter = event.submitter || null;
      move(form, submitter).catch(function () {
        /* Anything unexpected: the ordinary way, a page load. */
        form.removeAttribute("data-builder-move");
        if (submitter) { form.requestSubmit(submitter); } else { form.submit(); }
      });
      return;
    }
    if (form.hasAttribute("data-builder-form")) { dirty = false; }
  });

  /* -- missing translations, flagged as they are typed ------------------------------- */
  function flagTranslations(fieldset) {
    var rows = fieldset.querySelectorAll(".translation");
    var required = fieldset.getAttribute("data-translations") === "required";
    var written = Array.prototype.some.call(rows, function (row) {
      var control = row.querySelector("input, textarea");
      return control && control.value.trim() !== "";
    });
    Array.prototype.forEach.call(rows, function (row) {
      var control = row.querySelector("input, textarea");
      var flag = row.querySelector(".missing");
      if (!control || !flag) { return; }
      var flagged = control.value.trim() === "" && (required || written);
      row.classList.toggle("is-missing", flagged);
      flag.hidden = !flagged;
      var described = (control.getAttribute("aria-describedby") || "").split(/\s+/)
        .filter(function (id) { return id && id !== flag.id; });
      if (flagged) { described.unshift(flag.id); }
      if (described.length) { control.setAttribute("aria-describedby", described.join(" ")); }
      else { control.removeAttribute("aria-describedby"); }
    });
  }
  document.addEventListener("input", function (event) {
    var fieldset = event.target.closest && event.target.closest("fieldset[data-translations]");
    if (fieldset) { flagTranslations(fieldset); }
  });

  /* -- unsaved typing ------------------------------------------------------------------ */
  var dirty = Boolean(document.getElementById("unsaved") || document.getElementById("error-summary"));
  document.addEventListener("input", function (event) {
    if (event.target.form && event.target.form.hasAttribute("data-builder-form")) { dirty = true; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
