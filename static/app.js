// Page behaviour, wired by data- attributes: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  // <select data-floor-target="ID">: the chosen option's data-floor is shown as the
  // placeholder of field ID (a shelter level's capacity floor on the capacity field).
  document.querySelectorAll("select[data-floor-target]").forEach(function (select) {
    var target = document.getElementById(select.dataset.floorTarget);
    if (!target) return;
    function hint() {
      target.placeholder = "≥ " + select.options[select.selectedIndex].dataset.floor;
    }
    select.addEventListener("change", hint);
    hint();
  });

  // [data-filter-by="ID"]: of its [data-filter-value] children only those matching the value
  // of select ID are shown (only the chosen town's villages; the server refuses others anyway).
  document.querySelectorAll("[data-filter-by]").forEach(function (box) {
    var select = document.getElementById(box.dataset.filterBy);
    if (!select) return;
    function show() {
      box.querySelectorAll("[data-filter-value]").forEach(function (g) {
        g.hidden = select.value !== "" && g.dataset.filterValue !== select.value;
      });
    }
    select.addEventListener("change", show);
    show();
  });

  // <select data-skip-target="ID">: the chosen option's data-per (labels on one sheet) bounds
  // the skip field ID (0 to per - 1; a one-label thermal page allows none).
  document.querySelectorAll("select[data-skip-target]").forEach(function (select) {
    var target = document.getElementById(select.dataset.skipTarget);
    if (!target) return;
    function bound() {
      var per = parseInt(select.options[select.selectedIndex].dataset.per || "1", 10);
      target.max = String(per - 1);
      target.disabled = per <= 1;
      if (parseInt(target.value || "0", 10) > per - 1) target.value = "0";
    }
    select.addEventListener("change", bound);
    bound();
  });

  // <select data-fills="ID ID2">: a chosen option's data-layout / data-output preset the
  // selects named (a printer profile brings the stock and the language it is loaded with).
  document.querySelectorAll("select[data-fills]").forEach(function (select) {
    select.addEventListener("change", function () {
      var chosen = select.options[select.selectedIndex].dataset;
      select.dataset.fills.split(" ").forEach(function (id) {
        var target = document.getElementById(id);
        if (!target || !chosen[id]) return;
        target.value = chosen[id];
        target.dispatchEvent(new Event("change"));
      });
    });
  });

  // One short word — a date, a code, a lot number, a unit's name — is never broken over
  // lines (td.cell-word): a squeezed column gives way in its longer texts instead.
  function isWord(text) {
    return !/\s/.test(text) && (text.length <= 8 || (text.length <= 24 && /^[\x21-\x7e]+$/.test(text)));
  }

  // Every table is marked .cards and, where it has a header row, each cell carries its
  // column's header as data-label: on a phone (app.css, under 600 px) each row shows as a
  // card of "header  value" lines instead of a table wider than the screen. Without
  // JavaScript a table stays a table that scrolls inside its frame.
  document.querySelectorAll("table").forEach(function (table) {
    var headRow = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : table.rows[0];
    if (headRow && headRow.querySelector("td")) headRow = null; // row headers only: no labels
    var labels = [];
    Array.prototype.forEach.call(headRow ? headRow.cells : [], function (th) {
      // the header's words, without what is only drawn (a sort arrow)
      var words = th.cloneNode(true);
      words.querySelectorAll("[aria-hidden=true]").forEach(function (e) { e.remove(); });
      var label = th.colSpan === 1 ? words.textContent.replace(/\s+/g, " ").trim() : "";
      for (var i = 0; i < th.colSpan; i++) labels.push(label);
    });
    Array.prototype.forEach.call(table.rows, function (row) {
      if (row.parentElement === table.tHead || row === headRow) return;
      var column = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        var label = cell.colSpan === 1 ? labels[column] : "";
        if (label && !cell.hasAttribute("data-label")) cell.dataset.label = label;
        var text = cell.textContent.trim();
        if (!text && !cell.querySelector("input, select, button, img, svg")) {
          cell.classList.add("cell-empty");
        } else if (isWord(text)) {
          cell.classList.add("cell-word");
        }
        column += cell.colSpan;
      });
    });
    table.classList.add("cards");
  });
})();
