// Keyboard shortcuts, like Miniflux and Feedly: j/k move through a list, o opens,
// s saves the open article, / searches, ? shows the help. Typing in a field is left alone.
(function () {
  "use strict";
  var selected = -1;
  function items() { return Array.prototype.slice.call(document.querySelectorAll(".article-item")); }
  function select(index) {
    var list = items();
    if (!list.length) return;
    selected = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (item, i) { item.classList.toggle("kb-selected", i === selected); });
    var link = list[selected].querySelector(".headline a");
    if (link) link.focus({ preventScroll: true });
    list[selected].scrollIntoView({ block: "nearest" });
  }
  function help(show) {
    var box = document.getElementById("kb-help");
    if (box) box.hidden = show === undefined ? !box.hidden : !show;
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var key = event.key;
    if (key === "j") select(selected + 1);
    else if (key === "k") select(selected - 1);
    else if ((key === "o" || key === "Enter") && selected >= 0) {
      var link = items()[selected].querySelector(".headline a");
      if (link) window.location.href = link.href;
    } else if (key === "s") {
      var save = document.querySelector(".save-form");
      if (save) save.submit();
      else return;
    } else if (key === "/") {
      window.location.href = "/search";
    } else if (key === "?") help();
    else if (key === "Escape") help(false);
    else return;
    event.preventDefault();
  });
})();
