/* App cards with data-launch-probe="<launch URL>" ask the browser whether anything answers at that URL (a no-cors
   request: any HTTP answer counts, only a network failure does not). A card whose app does not answer says so, and
   its Launch buttons check again before opening the app, so a stopped app shows a sentence instead of a broken
   frame. The check runs in the browser because what matters is whether the user's browser can reach the app. */
(function () {
  "use strict";
  if (window.launchProbeLoaded) return;  // the card grid may be swapped in again with its script
  window.launchProbeLoaded = true;
  var WAIT_MS = 4000;

  function answers(url) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, WAIT_MS);
    return fetch(url, { mode: "no-cors", cache: "no-store", credentials: "omit", signal: controller.signal })
      .then(function () { return true; }, function () { return false; })
      .finally(function () { clearTimeout(timer); });
  }

  function mark(card, reachable) {
    var note = card.querySelector(".launch-unreachable");
    card.classList.toggle("app-unreachable", !reachable);
    if (note) note.hidden = reachable;
    return reachable;
  }

  function probe(card) {
    if (card.dataset.probed) return;
    card.dataset.probed = "1";
    answers(card.dataset.launchProbe).then(function (reachable) { mark(card, reachable); });
  }

  function probeAll() { document.querySelectorAll("[data-launch-probe]").forEach(probe); }

  document.addEventListener("submit", function (e) {
    var card = e.target.closest(".app-unreachable[data-launch-probe]");
    if (!card || e.target.dataset.checked) return;
    e.preventDefault();
    var form = e.target, submitter = e.submitter;
    answers(card.dataset.launchProbe).then(function (reachable) {
      if (!mark(card, reachable)) { card.querySelector(".launch-unreachable").focus(); return; }
      form.dataset.checked = "1";
      form.requestSubmit(submitter);
    });
  });
  document.addEventListener("DOMContentLoaded", probeAll);
  document.addEventListener("htmx:afterSettle", probeAll);
  if (document.readyState !== "loading") probeAll();
})();
