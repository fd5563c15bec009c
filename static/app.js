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
})();
