// Övervakt status page: follow changes live, and show replica details on
// hover, focus and tap. The page is complete without this file.
(function () {
  "use strict";

  var body = document.body;
  var version = body.getAttribute("data-version");

  // Durations ("down since 14:02 (38 min)") count on from when the page
  // was served, in the server's words (page.Ago).
  var loaded, ages;
  function ago(m) {
    if (m < 1) { return "<1 min"; }
    if (m < 60) { return m + " min"; }
    if (m < 1440) { return Math.floor(m / 60) + " h" + (m % 60 ? " " + m % 60 + " min" : ""); }
    var h = Math.floor(m % 1440 / 60);
    return Math.floor(m / 1440) + " d" + (h ? " " + h + " h" : "");
  }
  setInterval(function () {
    var extra = Math.floor((Date.now() - loaded) / 60000);
    for (var i = 0; i < ages.length; i++) {
      ages[i].textContent = ago(+ages[i].getAttribute("data-min") + extra);
    }
  }, 20000);

  // Tooltips: the text lives in the titles of the pills and of the bars'
  // days; move it to data-tip so the browser's own tooltip does not show
  // twice.
  function prepare() {
    loaded = Date.now();
    ages = document.querySelectorAll("[data-min]");
    var titled = document.querySelectorAll(".pills button[title], .bar i[title]");
    for (var i = 0; i < titled.length; i++) {
      titled[i].setAttribute("data-tip", titled[i].title);
      titled[i].removeAttribute("title");
    }
  }
  prepare();

  // Live updates. /live tells of every change as it happens; the page
  // then fetches itself and swaps in what is below the banner, and the
  // banner's words, without a reload. The page version says whether the
  // server has rendered the change yet. Where /live cannot be reached (a
  // proxy that blocks WebSockets, a restart), /status/version is asked
  // every 15 s instead. Once a minute the page is taken in anyway, for
  // what no event tells: response times, the day's bars, maintenance
  // windows that start or end.
  var live = false, again = false, events = 0, busy = false, tries = 0, backoff = 1000;

  function swap(doc) {
    var main = document.querySelector("main"), banner = main && main.querySelector(".banner");
    var nb = doc.querySelector("main .banner"), icon = document.querySelector("link[rel=icon]");
    var ni = doc.querySelector("link[rel=icon]");
    if (!banner || !nb) { return; }
    hide();
    // The banner stays in place, so screen readers read out its new words.
    banner.className = nb.className;
    banner.replaceChildren.apply(banner, [].slice.call(nb.childNodes));
    while (banner.nextSibling) { main.removeChild(banner.nextSibling); }
    while (nb.nextSibling) { main.appendChild(nb.nextSibling); }
    document.title = doc.title;
    if (icon && ni) { icon.setAttribute("href", ni.getAttribute("href")); }
    version = doc.body.getAttribute("data-version");
    body.setAttribute("data-version", version);
    prepare();
  }

  // refresh fetches the page and swaps it in when its version moved;
  // force swaps it in anyway (the server restarted: versions start over).
  function refresh(force) {
    if (busy) { return; }
    busy = true;
    var seen = events;
    fetch("/", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var v = doc.body && doc.body.getAttribute("data-version");
        var moved = v && (force || v !== version);
        if (moved) { swap(doc); }
        return moved;
      })
      .catch(function () { return false; })
      .then(function (moved) {
        busy = false;
        if (events !== seen) {
          refresh(); // another change came meanwhile
        } else if (!moved && tries > 0) {
          tries--; // told of a change the server has not rendered yet
          setTimeout(refresh, 150);
        }
      });
  }

  function connect() {
    var ws, first = true;
    try {
      ws = new WebSocket(location.protocol.replace("http", "ws") + "//" + location.host + "/live");
    } catch (e) {
      return;
    }
    ws.onmessage = function () {
      backoff = 1000;
      live = true;
      if (first) {
        // The snapshot: catch up with what changed before it; after a
        // reconnection, with whatever the server now shows.
        first = false;
        refresh(again);
        again = true;
        return;
      }
      events++;
      tries = 6;
      refresh();
    };
    ws.onclose = function () {
      live = false;
      setTimeout(connect, backoff * (1 + Math.random() / 2));
      backoff = Math.min(backoff * 2, 60000);
    };
  }

  function poll() {
    if (live) {
      setTimeout(poll, 15000);
      return;
    }
    fetch("/status/version", { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (d && String(d.page_version) !== version) { refresh(); }
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, document.hidden ? 30000 : 15000); });
  }
  if (version && window.fetch && window.DOMParser) {
    setTimeout(poll, 15000);
    setInterval(function () {
      // Not while a tooltip is open: the swap would close it.
      if (!tip && !document.hidden) { refresh(true); }
    }, 60000);
    if (window.WebSocket) { connect(); }
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
