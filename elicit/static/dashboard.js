/* Progressive enhancement of the study page: while a round is open, its response rate
   refreshes itself.  Every data-refresh-seconds (30 by default) the fragment at
   data-refresh-url is fetched and each of its elements marked data-refresh-part
   replaces the content of the page's element with the same id, only when it changed
   (the counts are a polite live region, so a change is read out once).  Polling stops
   when the fragment says the round closed (data-refresh-stop), when the session has
   ended (the answer is a redirect to the login page) or on any error.  Without this
   file the page is complete; a reload updates it.  No inline script: the
   Content-Security-Policy forbids it. */
(function () {
  "use strict";

  function poll(block) {
    var url = block.getAttribute("data-refresh-url");
    var seconds = parseFloat(block.getAttribute("data-refresh-seconds")) || 30;

    function update(html) {
      var fragment = document.createElement("template");
      fragment.innerHTML = html;
      var parts = fragment.content.querySelectorAll("[data-refresh-part][id]");
      var stop = false;
      Array.prototype.forEach.call(parts, function (part) {
        var target = document.getElementById(part.id);
        if (target && block.contains(target) && target.innerHTML !== part.innerHTML) {
          target.innerHTML = part.innerHTML;
        }
        if (part.hasAttribute("data-refresh-stop")) { stop = true; }
      });
      return !stop && parts.length > 0;
    }

    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error("stopped"); }
          return response.text();
        })
        .then(function (html) {
          if (update(html)) { setTimeout(tick, seconds * 1000); }
        })
        .catch(function () { /* the page stays as it is; a reload updates it */ });
    }

    setTimeout(tick, seconds * 1000);
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-refresh-url]"), poll);
})();
