// Small improvements only: every feature works without this file.
(function () {
  "use strict";
  var box = document.querySelector("input[name=q]");
  // "/" jumps to the search box, as on many search sites, unless the user is typing.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey && box) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
  // Changing the order re-runs the search at once (the Apply button does it without JS).
  var sort = document.getElementById("sort");
  if (sort && sort.form) {
    sort.addEventListener("change", function () { sort.form.submit(); });
  }
  // A thumbnail that fails to load is removed rather than shown as a broken image.
  document.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("thumb")) {
      target.remove();
    }
  }, true);
})();
