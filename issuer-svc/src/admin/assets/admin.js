// issuer-svc admin page: copy an issuer URL, run Verify, refresh the live
// tables. Plain JS, no build step. The server renders (and escapes) every
// fragment inserted here; answers that are not fragments are never inserted.
(function () {
  "use strict";

  var REFRESH_MS = 5000;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var announcer = document.getElementById("announcer");

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function isFragment(response) {
    return response.headers.get("x-admin-fragment") === "1";
  }

  function clientBanner(title, text) {
    var banner = document.createElement("div");
    banner.className = "banner banner-error";
    banner.setAttribute("role", "alert");
    banner.setAttribute("data-outcome", "failed");
    var icon = document.createElement("span");
    icon.className = "banner-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "!";
    var body = document.createElement("div");
    body.className = "banner-body";
    var heading = document.createElement("p");
    heading.className = "banner-title";
    heading.textContent = title;
    var detail = document.createElement("p");
    detail.textContent = text;
    body.appendChild(heading);
    body.appendChild(detail);
    banner.appendChild(icon);
    banner.appendChild(body);
    return banner;
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    var label = button.querySelector(".btn-label");
    if (!input || !label) return;
    function done(ok) {
      label.textContent = ok ? "Copied" : "Press Ctrl+C";
      button.classList.toggle("btn-done", ok);
      announce(ok ? "Issuer URL copied to the clipboard."
                  : "Could not copy; the URL is selected, press Ctrl+C.");
      window.setTimeout(function () {
        label.textContent = "Copy";
        button.classList.remove("btn-done");
      }, 2000);
    }
    function fallback() {
      input.focus();
      input.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  function verify(button) {
    var result = document.getElementById(button.getAttribute("data-result"));
    var label = button.querySelector(".btn-label");
    if (!result || !label) return;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    label.textContent = "Verifying…";
    result.innerHTML =
      '<div class="banner banner-pending" role="status">' +
      '<span class="spinner" aria-hidden="true"></span>' +
      '<div class="banner-body"><p class="banner-title">Verifying…</p>' +
      "<p>Fetching discovery and JWKS through the issuer URL, then one token exchange at Claude.</p>" +
      "</div></div>";
    fetch(button.getAttribute("data-verify-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": csrf, "accept": "text/html" }
    }).then(function (response) {
      return response.text().then(function (text) {
        if (isFragment(response)) {
          result.innerHTML = text;
        } else {
          result.replaceChildren(clientBanner("Verify could not run",
            "HTTP " + response.status + ": reload the page and sign in again."));
        }
      });
    }).catch(function (err) {
      result.replaceChildren(clientBanner("Verify could not run",
        "issuer-svc did not answer (" + err.message + ")."));
    }).then(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      label.textContent = "Verify";
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    var button = target ? target.closest("button") : null;
    if (!button) return;
    if (button.hasAttribute("data-copy-target")) copy(button);
    else if (button.hasAttribute("data-verify-url")) verify(button);
  });

  var live = document.getElementById("live");
  var liveError = document.getElementById("live-error");
  var refreshing = false;

  function refresh() {
    if (!live || refreshing || document.hidden) return;
    refreshing = true;
    fetch(live.getAttribute("data-status-url"), {
      credentials: "same-origin",
      headers: { "accept": "text/html" }
    }).then(function (response) {
      if (!response.ok || !isFragment(response)) throw new Error("HTTP " + response.status);
      return response.text();
    }).then(function (html) {
      live.innerHTML = html;
      if (liveError) liveError.hidden = true;
    }).catch(function (err) {
      if (liveError) {
        liveError.textContent = "Live status paused (" + err.message + "); retrying every 5 s.";
        liveError.hidden = false;
      }
    }).then(function () { refreshing = false; });
  }

  window.setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
})();
