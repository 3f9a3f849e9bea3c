// The student page's only script: KaTeX rendering and the live preview. No build step.
(function () {
  "use strict";
  var OPTIONS = { throwOnError: false, output: "htmlAndMathml" };

  function renderTex(root) {
    root.querySelectorAll("[data-tex]").forEach(function (el) {
      var tex = el.getAttribute("data-tex");
      katex.render(tex, el, {
        throwOnError: false,
        output: "htmlAndMathml",
        displayMode: el.classList.contains("display"),
      });
    });
  }

  function renderProse(root) {
    if (!window.renderMathInElement) return;
    root.querySelectorAll(".prose").forEach(function (el) {
      window.renderMathInElement(el, Object.assign({
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "$", right: "$", display: false },
        ],
      }, OPTIONS));
    });
  }

  function setupPreview(box, csrf) {
    var out = document.getElementById(box.getAttribute("data-preview"));
    var timer = null;
    var seq = 0;
    function show(data) {
      out.className = "preview";
      out.textContent = "";
      if (data.empty) return;
      if (data.ok) {
        var label = document.createElement("span");
        label.className = "meta";
        label.textContent = "Read as ";
        var math = document.createElement("span");
        katex.render(data.latex, math, Object.assign({ displayMode: false }, OPTIONS));
        out.appendChild(label);
        out.appendChild(math);
        out.classList.add("ok");
      } else {
        out.textContent = data.error;
        out.classList.add("bad");
      }
    }
    function run() {
      var mine = ++seq;
      fetch("/api/preview", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({
          set: box.getAttribute("data-set"),
          problem: box.getAttribute("data-problem"),
          key: box.getAttribute("data-key"),
          text: box.value,
        }),
      })
        .then(function (r) { return r.json(); })
        .then(function (data) { if (mine === seq) show(data); })
        .catch(function () { if (mine === seq) show({ ok: false, error: "The preview is not available right now." }); });
    }
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    });
    if (box.value) run();
  }

  document.addEventListener("DOMContentLoaded", function () {
    renderTex(document);
    renderProse(document);
    var meta = document.querySelector("meta[name=csrf]");
    var csrf = meta ? meta.getAttribute("content") : "";
    document.querySelectorAll("[data-preview]").forEach(function (box) { setupPreview(box, csrf); });
    if (location.hash === "#results") {
      var results = document.getElementById("results");
      if (results) results.focus();
    }
  });
})();
