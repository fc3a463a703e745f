// pail webmail: keyboard shortcuts, "select all", and confirmation before
// deleting for good. The pages work without it.
"use strict";
(function () {
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // Message list: j/k move a cursor over the rows, o or Enter opens,
  // x selects. Elsewhere a link with data-key="j" etc. is followed.
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.messages tbody tr"));
  var cursor = -1;
  function move(d) {
    if (!rows.length) return false;
    if (cursor >= 0) rows[cursor].classList.remove("cursor");
    cursor = Math.max(0, Math.min(rows.length - 1, cursor + d));
    rows[cursor].classList.add("cursor");
    rows[cursor].scrollIntoView({ block: "nearest" });
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    var k = e.key;
    if (rows.length && (k === "j" || k === "k")) {
      move(k === "j" ? 1 : -1);
      e.preventDefault();
      return;
    }
    if (rows.length && cursor >= 0 && (k === "o" || k === "Enter")) {
      location.href = rows[cursor].getAttribute("data-href");
      e.preventDefault();
      return;
    }
    if (rows.length && cursor >= 0 && k === "x") {
      var box = rows[cursor].querySelector("input[type=checkbox]");
      if (box) box.checked = !box.checked;
      e.preventDefault();
      return;
    }
    var target = document.querySelector('[data-key="' + (k === "/" ? "/" : k.toLowerCase()) + '"]');
    if (!target || k.length !== 1) return;
    e.preventDefault();
    if (target.tagName === "A") location.href = target.href;
    else target.focus();
  });

  var all = document.getElementById("selall");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="ids"][type=checkbox]').forEach(function (b) { b.checked = all.checked; });
    });
  }

  document.querySelectorAll("[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      if (!window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
})();
