// The conversation page's live log: every few seconds the log is fetched again and replaces the one shown.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !window.fetch) { return; }
  var url = log.getAttribute("data-refresh");
  var every = 3000;
  function refresh() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (answer.redirected) { window.location.reload(); return null; } // signed out: the page says so
        return answer.ok ? answer.text() : null;
      })
      .then(function (fresh) {
        if (fresh !== null && fresh.trim() !== log.innerHTML.trim()) { log.innerHTML = fresh; }
      })
      .catch(function () { /* offline for a moment: the next round tries again */ })
      .then(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
