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
})();
