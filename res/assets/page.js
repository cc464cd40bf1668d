// Övervakt status page: reload when the status changes, and show replica
// details on hover, focus and tap. The page is complete without this file.
(function () {
  "use strict";

  var body = document.body;
  var version = body.getAttribute("data-version");
  var refreshed = document.getElementById("refreshed");

  // Live updates: ask for the page version; reload only when it moved.
  function poll() {
    fetch("/status/version", { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (!d) { return; }
        if (String(d.page_version) !== version) {
          // Not while someone is typing into the subscribe form.
          var f = document.activeElement;
          if (!(f && f.form)) { location.reload(); }
          return;
        }
        if (refreshed && d.refreshed) {
          refreshed.textContent = d.refreshed;
          if (d.updated) { refreshed.setAttribute("datetime", d.updated); }
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, document.hidden ? 30000 : 15000); });
  }
  if (version && window.fetch) {
    setTimeout(poll, 15000);
  }

  // Durations ("down since 14:02 (38 min)") count on from when the page
  // was served, in the server's words (page.Ago).
  var loaded = Date.now();
  var ages = document.querySelectorAll("[data-min]");
  function ago(m) {
    if (m < 1) { return "<1 min"; }
    if (m < 60) { return m + " min"; }
    if (m < 1440) { return Math.floor(m / 60) + " h" + (m % 60 ? " " + m % 60 + " min" : ""); }
    var h = Math.floor(m % 1440 / 60);
    return Math.floor(m / 1440) + " d" + (h ? " " + h + " h" : "");
  }
  if (ages.length) {
    setInterval(function () {
      var extra = Math.floor((Date.now() - loaded) / 60000);
      for (var i = 0; i < ages.length; i++) {
        ages[i].textContent = ago(+ages[i].getAttribute("data-min") + extra);
      }
    }, 20000);
  }

  // Tooltips: the text lives in the titles of the pills and of the bars'
  // days; move it to data-tip so the browser's own tooltip does not show
  // twice.
  var titled = document.querySelectorAll(".pills button[title], .bar i[title]");
  for (var i = 0; i < titled.length; i++) {
    var p = titled[i];
    p.setAttribute("data-tip", p.title);
    p.removeAttribute("title");
  }

  var tip = null;
  var owner = null;
  var pinned = false;

  function hide() {
    if (!tip) { return; }
    tip.parentNode.removeChild(tip);
    owner.removeAttribute("aria-describedby");
    tip = owner = null;
    pinned = false;
  }

  function show(el) {
    if (owner === el) { return; }
    hide();
    tip = document.createElement("div");
    tip.className = "tip";
    tip.id = "tip";
    tip.setAttribute("role", "tooltip");
    tip.textContent = el.getAttribute("data-tip");
    var row = el.tagName === "BUTTON" && el.closest(".node");
    var link = row && row.querySelector(".label a");
    if (link) {
      tip.appendChild(document.createElement("br"));
      tip.appendChild(link.cloneNode(true));
    }
    body.appendChild(tip);
    owner = el;
    el.setAttribute("aria-describedby", "tip");

    var r = el.getBoundingClientRect();
    var w = tip.offsetWidth;
    var max = document.documentElement.clientWidth - w - 8;
    var left = Math.max(8, Math.min(r.left + r.width / 2 - w / 2, max));
    var top = r.bottom + 8;
    if (top + tip.offsetHeight > window.innerHeight && r.top - tip.offsetHeight - 8 > 0) {
      top = r.top - tip.offsetHeight - 8;
    }
    tip.style.left = left + window.scrollX + "px";
    tip.style.top = top + window.scrollY + "px";
  }

  function pillOf(e) {
    return e.target.closest ? e.target.closest("[data-tip]") : null;
  }

  document.addEventListener("mouseover", function (e) {
    var p = pillOf(e);
    if (p && !pinned) { show(p); }
  });
  document.addEventListener("mouseout", function (e) {
    var p = pillOf(e);
    if (p && p === owner && !pinned && !p.contains(e.relatedTarget)) { hide(); }
  });
  document.addEventListener("focusin", function (e) {
    var p = pillOf(e);
    if (p) { show(p); }
  });
  document.addEventListener("click", function (e) {
    var p = pillOf(e);
    if (p) {
      if (pinned && owner === p) {
        hide();
      } else {
        show(p);
        pinned = true;
      }
      return;
    }
    if (tip && !tip.contains(e.target)) { hide(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { hide(); }
  });
  // A phone's address bar coming and going resizes the window too; only a
  // change of width moves the pills.
  var width = document.documentElement.clientWidth;
  window.addEventListener("resize", function () {
    var w = document.documentElement.clientWidth;
    if (w !== width) {
      width = w;
      hide();
    }
  });
})();
