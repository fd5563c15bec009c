// "全选" on a list whose rows carry checkboxes of one form (issue 22): a box with
// data-select-all="FORM_ID" ticks or clears every row box of that form; it shows itself
// ticked when every row is, so that it always says what a click will do.
(function () {
  "use strict";

  function rowBoxes(formId) {
    return Array.prototype.filter.call(
      document.querySelectorAll('input[type="checkbox"]'),
      function (box) {
        return box.form && box.form.id === formId && !box.hasAttribute("data-select-all");
      }
    );
  }

  function sync(all) {
    var boxes = rowBoxes(all.getAttribute("data-select-all"));
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      var formId = all.getAttribute("data-select-all");
      all.addEventListener("change", function () {
        rowBoxes(formId).forEach(function (box) { box.checked = all.checked; });
        all.indeterminate = false;
      });
      rowBoxes(formId).forEach(function (box) {
        box.addEventListener("change", function () { sync(all); });
      });
      sync(all);
    });
  });
})();
