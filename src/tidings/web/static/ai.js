// AI features panel: fetch results from the JSON API and show them in place, with
// footnotes that highlight the cited sentence. Without JavaScript the same links and
// forms open a result page instead.
(function () {
  "use strict";
  var panel = document.querySelector(".ai-panel");
  if (!panel || !window.fetch) return;
  var target = panel.getAttribute("data-ai-target");
  var id = panel.getAttribute("data-ai-id");
  var base = panel.getAttribute("data-ai-base");
  var output = panel.querySelector(".ai-output");
  // The page's language: the panel carries its translated words (English as a fallback).
  var text = JSON.parse(panel.getAttribute("data-ai-text") || "{}");
  function t(key, english) { return text[key] || english; }
  var kinds = { agreed: t("agreed", "Agreed"), only: t("only", "Only one outlet"), differ: t("differ", "Accounts differ") };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function hrefFor(cid) {
    var m = /^a(\d+)(s\d+)$/.exec(cid);
    if (m) return (target === "article" && m[1] === id ? "" : "/articles/" + m[1]) + "#" + m[2];
    return "#" + cid;
  }

  function highlight(cid) {
    var m = /^a(\d+)(s\d+)$/.exec(cid);
    var local = m ? (target === "article" && m[1] === id ? m[2] : null) : cid;
    document.querySelectorAll(".sentence.cited").forEach(function (n) { n.classList.remove("cited"); });
    var node = local && document.getElementById(local);
    if (node) { node.classList.add("cited"); node.scrollIntoView({ block: "center" }); return true; }
    return false;
  }

  function render(result) {
    output.textContent = "";
    if (result.note) output.appendChild(el("p", "ai-note", result.note));
    var numbers = {}, order = [];
    var list = el("ul", "ai-items");
    if (result.language) list.lang = result.language;
    (result.items || []).forEach(function (item) {
      var li = el("li", "ai-item" + (item.kind ? " ai-" + item.kind : "") + (item.supported ? "" : " unsupported"));
      if (kinds[item.kind]) {
        li.appendChild(el("strong", "ai-kind", kinds[item.kind] + (item.outlets.length ? " (" + item.outlets.join(", ") + ")" : "") + ": "));
      }
      li.appendChild(document.createTextNode(item.text + " "));
      item.citations.forEach(function (cid) {
        if (!numbers[cid]) { order.push(cid); numbers[cid] = order.length; }
        var link = el("a", "cite", "[" + numbers[cid] + "]");
        link.href = hrefFor(cid);
        link.title = (result.sentences || {})[cid] || "";
        link.addEventListener("click", function (event) { if (highlight(cid)) event.preventDefault(); });
        var sup = el("sup"); sup.appendChild(link); li.appendChild(sup);
      });
      if (!item.supported) li.appendChild(el("span", "ai-unsupported", " (not supported by the cited text)"));
      list.appendChild(li);
    });
    if (list.childNodes.length) output.appendChild(list);
    if (order.length) {
      var notes = el("ol", "footnotes");
      order.forEach(function (cid) {
        var li = el("li"); var a = el("a", null, "“" + ((result.sentences || {})[cid] || cid) + "”");
        a.href = hrefFor(cid); li.appendChild(a); notes.appendChild(li);
      });
      output.appendChild(notes);
    }
    output.appendChild(el("p", "note ai-provenance", result.provider + " · " + result.model));
  }

  function fail(message) {
    output.textContent = "";
    output.appendChild(el("p", "flash flash-error", message));
  }

  function poll(url, tries) {
    fetch(url, { headers: { Accept: "application/json" } }).then(handle(tries)).catch(function () { fail(t("unreachable", "Tidings could not be reached.")); });
  }

  function handle(tries) {
    return function (response) {
      return response.json().then(function (body) {
        if (response.status === 202) {
          if (tries > 90) return fail(t("slow", "Still generating after three minutes; try again later."));
          output.textContent = ""; output.appendChild(el("p", "ai-pending", t("pending", "Generating…")));
          setTimeout(function () { poll(body.poll, tries + 1); }, 2000);
        } else if (response.ok) {
          render(body);
        } else {
          fail(body.detail || t("failed", "The AI feature failed."));
        }
      });
    };
  }

  function run(feature, payload) {
    output.textContent = ""; output.appendChild(el("p", "ai-pending", t("pending", "Generating…")));
    fetch("/api/v1" + base + "/ai/" + feature, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload)
    }).then(handle(0)).catch(function () { fail(t("unreachable", "Tidings could not be reached.")); });
  }

  panel.querySelectorAll("a[data-ai-feature]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      run(link.getAttribute("data-ai-feature"), {});
    });
  });
  panel.querySelectorAll("form[data-ai-feature]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      run(form.getAttribute("data-ai-feature"), {
        question: data.get("question") || null,
        language: data.get("language") || null
      });
    });
  });
})();
