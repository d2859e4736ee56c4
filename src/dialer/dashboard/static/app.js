// No inline scripts anywhere (the Content-Security-Policy forbids them): behaviour lives here.
document.addEventListener("DOMContentLoaded", function () {
  if (window.htmx) {
    // Let htmx swap 4xx/5xx answers: the server sends them as toasts (HX-Retarget #toasts).
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true },
    ];
  }
  cardTables(document);
  if (window.htmx) htmx.onLoad(cardTables);
  // Phone layout: the navigation folds behind a button.
  var toggle = document.getElementById("nav-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", open ? "false" : "true");
      document.body.classList.toggle("nav-open", !open);
    });
  }
});
// The upload's file field names the chosen file beside our button.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.classList.contains("file-input")) return;
  var label = document.getElementById(input.getAttribute("aria-describedby") || "");
  if (label) {
    label.textContent = input.files && input.files.length ? input.files[0].name : label.getAttribute("data-empty");
  }
});
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.classList.contains("toast-close")) {
    var toast = target.closest(".toast");
    if (toast) toast.remove();
  }
  // Buttons that ask before acting: <button data-confirm="...">.
  if (target instanceof Element) {
    var asking = target.closest("[data-confirm]");
    if (asking && !window.confirm(asking.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopPropagation();
    }
  }
}, true);

// Phone layout: every data table can turn its rows into cards; each cell is labelled
// with its column's header (cells that name their own label keep it).
function cardTables(root) {
  var scope = root && root.querySelectorAll ? root : document;
  var tables = scope.matches && scope.matches("table") ? [scope] : scope.querySelectorAll("main table");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.querySelectorAll("thead th");
    // Two short columns read better as a table on a phone too: <table class="keep-table">.
    if (!heads.length || table.classList.contains("keep-table")) return;
    var labels = Array.prototype.map.call(heads, function (th) { return th.textContent.replace(/[▲▼]/g, "").trim(); });
    table.classList.add("rows-as-cards");
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      Array.prototype.forEach.call(tr.children, function (td, i) {
        if (!td.hasAttribute("data-label") && labels[i] && !td.hasAttribute("colspan")) {
          td.setAttribute("data-label", labels[i]);
        }
        // Long text (an error message, a payload) takes the card's whole width.
        if (td.textContent.trim().length > 28 || td.querySelector("form, textarea")) {
          td.classList.add("wide");
        }
      });
    });
  });
}

// Live blocks fed by a stream (<div sse-connect ... data-fallback="url">): while the
// stream is down (the server restarted, the network dropped) the block is fetched from
// data-fallback every 10 s; once the stream is open again, the polling stops.
(function () {
  var timers = new Map();
  document.addEventListener("htmx:sseError", function (event) {
    var el = event.target;
    if (!(el instanceof Element) || !el.hasAttribute("data-fallback") || timers.has(el)) return;
    el.setAttribute("data-stream", "down");
    timers.set(el, window.setInterval(function () {
      if (!document.body.contains(el)) {
        window.clearInterval(timers.get(el));
        timers.delete(el);
        return;
      }
      htmx.ajax("GET", el.getAttribute("data-fallback"), { target: el, swap: "innerHTML" });
    }, 10000));
  });
  document.addEventListener("htmx:sseOpen", function (event) {
    var el = event.target;
    if (!(el instanceof Element)) return;
    el.setAttribute("data-stream", "open");
    if (timers.has(el)) {
      window.clearInterval(timers.get(el));
      timers.delete(el);
    }
  });
})();
