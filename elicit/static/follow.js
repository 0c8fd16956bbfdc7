/* Progressive enhancement of a page that waits for a job (a round's close, a prepared
   export).  The element marked data-follow-seconds asks the page's own address again,
   after 1 second, then 2, 4… up to every data-follow-seconds (a small panel's close is
   done in a moment; a large one's takes minutes), and then:
   - each element inside it marked data-follow-part (with an id) takes the answer's
     content when it changed (a polite live region says so once);
   - when the answer's data-follow-state differs, or the answer no longer waits (has no
     such element: a close that failed, every export written), the page is loaded
     again, once;
   - when the address redirects (a close that is done), the browser goes to
     data-follow-done-url.  The redirect is not followed: its answer has left that page
     its message, which loading this address again would leave a second time.
   Polling stops on any error.  Not a <meta http-equiv="refresh">: a page that reloads
   itself on a timer moves a screen reader's reading back to its top (WCAG 2.2.1).
   Without this file the page is complete; a reload updates it.  No inline script: the
   Content-Security-Policy forbids it. */
(function () {
  "use strict";

  var block = document.querySelector("[data-follow-seconds]");
  if (!block) { return; }
  var seconds = parseFloat(block.getAttribute("data-follow-seconds")) || 10;
  var delay = Math.min(1, seconds);

  function later() {
    setTimeout(tick, delay * 1000);
    delay = Math.min(delay * 2, seconds);
  }

  function update(html) {
    var fragment = document.createElement("template");
    fragment.innerHTML = html;
    var next = fragment.content.querySelector("[data-follow-seconds]");
    if (!next || next.getAttribute("data-follow-state") !== block.getAttribute("data-follow-state")) {
      window.location.reload();
      return false;
    }
    Array.prototype.forEach.call(next.querySelectorAll("[data-follow-part][id]"), function (part) {
      var target = document.getElementById(part.id);
      if (target && block.contains(target) && target.innerHTML !== part.innerHTML) {
        target.innerHTML = part.innerHTML;
      }
    });
    return true;
  }

  function tick() {
    fetch(window.location.href, {
      credentials: "same-origin",
      redirect: "manual",
      headers: { "Accept": "text/html" }
    })
      .then(function (response) {
        if (response.type === "opaqueredirect") {
          window.location.assign(block.getAttribute("data-follow-done-url") || window.location.href);
          return;
        }
        if (!response.ok) { throw new Error("stopped"); }
        return response.text().then(function (html) {
          if (update(html)) { later(); }
        });
      })
      .catch(function () { /* the page stays as it is; a reload updates it */ });
  }

  later();
})();
