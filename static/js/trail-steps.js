/* A trail's steps are swapped in anew every 2 s while the launch runs (the activity page and the panel beside a
   running app). Steps a person opened stay open across those swaps, in each trail on the page on its own. */
(function () {
  "use strict";
  if (window.trailStepsLoaded) return;
  window.trailStepsLoaded = true;
  var opened = new Map();  // the swapped element's parent → ids of its open steps
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || !target.classList || !target.classList.contains("trail-steps")) return;
    opened.set(target.parentElement, Array.prototype.map.call(target.querySelectorAll("details[open][id]"),
      function (d) { return d.id; }));
  });
  document.addEventListener("htmx:afterSettle", function () {
    opened.forEach(function (ids, parent) {
      var steps = parent.querySelector(".trail-steps");
      if (!steps) return;
      ids.forEach(function (id) {
        var details = steps.querySelector("details[id='" + id + "']");
        if (details) details.open = true;
      });
    });
    opened.clear();
  });
})();
