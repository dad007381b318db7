// Small improvements only: every feature works without this file.
(function () {
  "use strict";
  var box = document.querySelector("input[name=q]");

  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
  }
  function modified(event) {
    return event.ctrlKey || event.metaKey || event.altKey;
  }

  // "/" jumps to the search box, as on many search sites, unless the user is typing.
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && !typing(event.target) && !modified(event) && box) {
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

  // Instant results: a pause in typing fetches the page the form would load and swaps
  // its results region in, so the server renders results once, in one template.
  var form = document.getElementById("search-form");
  var region = document.getElementById("instant");
  var count = document.getElementById("result-count");
  var PAUSE_MS = 200; // short enough to feel instant, long enough to skip most keys
  var timer = null; // set while a pause is awaited
  var inFlight = null; // the AbortController of the request being answered

  function formUrl() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (value !== "") { params.append(key, value); } // empty fields: a tidier URL
    });
    return form.getAttribute("action") + "?" + params.toString();
  }

  function showResults(url) {
    if (inFlight) { inFlight.abort(); } // its answer would be stale
    var controller = inFlight = new AbortController();
    fetch(url, { signal: controller.signal })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (controller.signal.aborted) { return; } // a newer request was sent meanwhile
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("instant");
        // An error page (a bad date in "Since") shows its message in the results' place.
        var nodes = fresh ? fresh.childNodes : page.querySelectorAll(".error");
        // Anything else (a proxy's error page) leaves the results as they were.
        if (!nodes.length) { return; }
        region.replaceChildren.apply(region, Array.from(nodes));
        var said = region.querySelector("#total") || region.querySelector(".message");
        count.textContent = said ? said.textContent.replace(/\s+/g, " ").trim() : "";
        document.title = page.title;
        history.replaceState(null, "", url);
      })
      // Aborted on purpose, or the network failed: the results stay as they were, and
      // Enter still submits the form.
      .catch(function () {})
      .then(function () {
        if (inFlight === controller) { inFlight = null; }
      });
  }

  if (form && region && count && box) {
    box.addEventListener("input", function (event) {
      if (event.isComposing) { return; } // an input method is still building the word
      clearTimeout(timer);
      timer = setTimeout(function () {
        timer = null;
        showResults(formUrl());
      }, PAUSE_MS);
    });
  }

  // Up and down move between the search box and the results' titles; Enter, the
  // browser's own, opens the one focused.
  document.addEventListener("keydown", function (event) {
    if ((event.key !== "ArrowDown" && event.key !== "ArrowUp") || modified(event) || !box) {
      return;
    }
    var links = Array.from(document.querySelectorAll(".hit h2 a"));
    var at = event.target === box ? -1 : links.indexOf(event.target);
    if (at === -1 && event.target !== box) { return; }
    if (timer !== null || inFlight !== null) {
      event.preventDefault(); // these results are about to go: wait for the new ones
      return;
    }
    var next = at + (event.key === "ArrowDown" ? 1 : -1);
    if (next < -1 || next >= links.length) { return; }
    event.preventDefault();
    (next === -1 ? box : links[next]).focus();
  });

  // On an archived copy, n and N jump to the next and previous mark (without JavaScript
  // the "next match" link beside the mark jumped to does it).
  var marks = Array.from(document.querySelectorAll("mark[id^='mark-']"));
  var keys = document.querySelector(".marks .keys");
  if (marks.length && keys) {
    keys.hidden = false;
    document.addEventListener("keydown", function (event) {
      if ((event.key !== "n" && event.key !== "N") || typing(event.target) || modified(event)) {
        return;
      }
      var at = marks.indexOf(document.querySelector("mark:target"));
      var step = event.key === "n" ? 1 : -1;
      var next = at === -1 ? (step === 1 ? 0 : marks.length - 1)
        : (at + step + marks.length) % marks.length;
      location.replace("#" + marks[next].id); // a jump, not a page of history
    });
  }
})();
