/* Progressive enhancement of the expert page.  Everything works without this file:
   it adds autosave, a slider linked to each probability, a running total with an offer
   to rescale for scenario sets, move buttons and drag and drop for rankings, a live
   character count, and a prompt for a reason when an answer leaves the panel's
   middle half.  No inline script: the Content-Security-Policy forbids it. */
(function () {
  "use strict";
  var form = document.getElementById("answers");
  if (!form) { return; }
  /* Interface texts come translated from the page (Flask-Babel), never from here. */
  var texts = {
    saving: form.dataset.textSaving, failed: form.dataset.textFailed,
    total: form.dataset.textTotal, ok: form.dataset.textOk,
    up: form.dataset.textUp, down: form.dataset.textDown,
    answered: form.dataset.textAnswered, chars: form.dataset.textChars
  };

  function number(text) {
    var cleaned = String(text || "").trim().replace(/%$/, "").trim().replace(",", ".");
    if (cleaned === "") { return null; }
    var value = Number(cleaned);
    return isFinite(value) ? value : null;
  }

  /* -- autosave, a few seconds after each change ------------------------------------ */
  var status = document.getElementById("save-status");
  var timer = null;
  var csrf = form.querySelector("input[name=csrf_token]");
  function autosave() {
    var data = new FormData(form);
    data.delete("action");
    if (status) { status.textContent = texts.saving; }
    fetch(form.dataset.autosave, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.value : "" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          /* The server says why (session ended, database busy); a busy database is
             tried again after the delay it asks for. */
          if (response.status === 503) { retryLater(body.retry_after); }
          throw { server: body.error };
        }
        if (status) { status.textContent = body.message; }
      });
    }).catch(function (error) {
      /* Only the server's own (translated) words, never the browser's. */
      if (status) { status.textContent = (error && error.server) || texts.failed; }
    });
  }
  function retryLater(seconds) {
    clearTimeout(timer);
    timer = setTimeout(autosave, 1000 * Math.min(Math.max(Number(seconds) || 30, 5), 120));
  }
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(autosave, 2500);
    updateProgress();
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);

  /* -- progress: n of N answered ---------------------------------------------------- */
  var progress = document.getElementById("progress");
  function answered(section) {
    var inputs = section.querySelectorAll(
      "fieldset > .options input, .percent-input input, .estimate-part input, .ranking select, .field > textarea:not([name^='rationale.'])");
    var kind = section.dataset.kind;
    if (kind === "likert") { return !!section.querySelector(".options input:checked"); }
    if (!inputs.length) { return false; }
    for (var i = 0; i < inputs.length; i++) {
      if (!String(inputs[i].value).trim()) { return false; }
    }
    return true;
  }
  function updateProgress() {
    if (!progress) { return; }
    var sections = form.querySelectorAll("section.item");
    var count = 0;
    sections.forEach(function (section) { if (answered(section)) { count += 1; } });
    progress.textContent = texts.answered.replace("{a}", count).replace("{t}", sections.length);
  }

  /* -- probability: a slider linked to the number input ----------------------------- */
  /* Unanswered, the slider is "unset": no thumb, a dashed track, "Not answered" beside
     it and as its spoken value, because a thumb resting at 50 % reads as an answer.
     The slider has no name: only the number input is sent, so an untouched slider
     never records anything.  Touching the track, dragging, or a key sets it. */
  form.querySelectorAll("input[data-slider-for]").forEach(function (slider) {
    var input = document.getElementById(slider.dataset.sliderFor);
    var state = document.getElementById(slider.dataset.state);
    var unanswered = state ? state.textContent : "";
    function show(value) {
      var set = value !== null && value >= 0 && value <= 100;
      if (set) { slider.value = value; }
      slider.classList.toggle("unset", !set);
      if (set) {
        slider.setAttribute("aria-valuetext", String(input.value).trim().replace(/\s*%$/, "") + " %");
      } else {
        slider.setAttribute("aria-valuetext", unanswered);
      }
      if (state) { state.hidden = set; }
    }
    function take() {
      input.value = slider.value;
      show(Number(slider.value));
      changed();
    }
    slider.hidden = false;
    slider.addEventListener("input", take);
    /* A click on the track where the (hidden) thumb already rests changes nothing, so
       no input event says that the expert chose 50: the release does. */
    slider.addEventListener("pointerup", function () {
      if (slider.classList.contains("unset")) { take(); }
    });
    input.addEventListener("input", function () { show(number(input.value)); });
    show(number(input.value));
  });

  /* -- scenario sets: running total and proportional rescaling ---------------------- */
  form.querySelectorAll("[data-scenario-set]").forEach(function (set) {
    var inputs = set.querySelectorAll("input[data-scenario]");
    var line = set.querySelector(".scenario-total");
    var output = set.querySelector("[data-total]");
    var message = set.querySelector("[data-total-message]");
    var rescale = set.querySelector("[data-rescale]");
    line.hidden = false;
    function update() {
      var total = 0, filled = 0;
      inputs.forEach(function (input) {
        var value = number(input.value);
        if (value !== null) { total += value; filled += 1; }
      });
      output.textContent = Math.round(total * 100) / 100;
      var ok = Math.abs(total - 100) < 1e-6;
      message.textContent = filled ? (ok ? "✓ " + texts.ok : "— " + texts.total) : "";
      line.classList.toggle("total-wrong", filled > 0 && !ok);
      rescale.hidden = !(filled > 0 && total > 0 && !ok);
    }
    rescale.addEventListener("click", function () {
      var total = 0;
      inputs.forEach(function (input) { total += number(input.value) || 0; });
      if (total <= 0) { return; }
      var running = 0;
      inputs.forEach(function (input, index) {
        var share = index === inputs.length - 1
          ? Math.round((100 - running) * 10) / 10
          : Math.round((number(input.value) || 0) * 1000 / total) / 10;
        running += share;
        input.value = String(share);
      });
      update();
      changed();
    });
    set.addEventListener("input", update);
    update();
  });

  /* -- rankings: move buttons (keyboard) and drag and drop -------------------------- */
  form.querySelectorAll("[data-ranking]").forEach(function (fieldset) {
    var list = fieldset.querySelector("ol.ranking");
    var items = Array.prototype.slice.call(list.children);
    function place(li) { return number(li.querySelector("select").value); }
    var allPlaced = items.every(function (li) { return place(li) !== null; });
    if (allPlaced) {
      items.sort(function (a, b) { return place(a) - place(b); });
      items.forEach(function (li) { list.appendChild(li); });
    }
    function renumber() {
      Array.prototype.forEach.call(list.children, function (li, index) {
        li.querySelector("select").value = String(index + 1);
      });
      changed();
    }
    function move(li, step, button) {
      var sibling = step < 0 ? li.previousElementSibling : li.nextElementSibling;
      if (!sibling) { return; }
      if (step < 0) { list.insertBefore(li, sibling); } else { list.insertBefore(sibling, li); }
      renumber();
      button.focus();
    }
    items.forEach(function (li) {
      var label = li.querySelector("label").textContent;
      var controls = document.createElement("span");
      controls.className = "move";
      [[-1, texts.up, "↑"], [1, texts.down, "↓"]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "secondary small";
        button.textContent = spec[2];
        button.setAttribute("aria-label", spec[1] + ": " + label);
        button.addEventListener("click", function () { move(li, spec[0], button); });
        controls.appendChild(button);
      });
      li.appendChild(controls);
      li.draggable = true;
      li.addEventListener("dragstart", function (event) {
        li.classList.add("dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", li.dataset.option);
      });
      li.addEventListener("dragend", function () { li.classList.remove("dragging"); renumber(); });
      li.addEventListener("dragover", function (event) {
        event.preventDefault();
        var dragging = list.querySelector(".dragging");
        if (!dragging || dragging === li) { return; }
        var box = li.getBoundingClientRect();
        var after = event.clientY > box.top + box.height / 2;
        list.insertBefore(dragging, after ? li.nextSibling : li);
      });
    });
    fieldset.addEventListener("change", function (event) {
      if (event.target.tagName !== "SELECT") { return; }
      var ordered = Array.prototype.slice.call(list.children);
      if (ordered.every(function (li) { return place(li) !== null; })) {
        ordered.sort(function (a, b) { return place(a) - place(b); });
        ordered.forEach(function (li) { list.appendChild(li); });
      }
    });
  });

  /* -- open text: a live character count -------------------------------------------- */
  form.querySelectorAll("[data-counter-for]").forEach(function (counter) {
    var area = document.getElementById(counter.dataset.counterFor);
    var max = counter.dataset.max;
    function update() {
      counter.textContent = texts.chars.replace("{n}", area.value.length).replace("{m}", max);
    }
    area.addEventListener("input", update);
    update();
  });

  /* -- focus the error summary so screen readers announce it ------------------------ */
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  updateProgress();
})();
