// Forms that adapt to what is chosen (issue 22); wired by data- attributes, no inline script.
//
// <div data-show-when="kind=issue write_off; item.tracking!=serial"> is shown only while
// every condition (separated by ";") holds for the form's controls:
//   name=a b     the control named `name` has one of the values a, b
//   name!=a b    it has none of them
//   name.attr=a  the chosen option of the select `name` has data-attr="a" (also with !=)
// Hidden fields stay in the form (the server ignores what the choice does not use), so
// switching back shows what was typed. Without JavaScript every field stays visible.
//
// <select data-options-follow="item"> offers only the options whose data-item is the
// value chosen in the control named item (options without data-item always stay), e.g.
// the lots of the chosen item; a choice that no longer fits falls back to the first option.
"use strict";

(function () {
  function parse(spec) {
    return spec.split(";").map(function (part) {
      var m = part.trim().match(/^([\w-]+)(?:\.([\w-]+))?(!?=)(.*)$/);
      if (!m) return null;
      return { name: m[1], attr: m[2], negate: m[3] === "!=", values: m[4].trim().split(/\s+/) };
    }).filter(Boolean);
  }

  function currentValue(form, cond) {
    var control = form.elements.namedItem(cond.name);
    if (!control) return "";
    if (!cond.attr) return control.value || "";
    var option = control.options ? control.options[control.selectedIndex] : null;
    return (option && option.getAttribute("data-" + cond.attr)) || "";
  }

  function holds(form, cond) {
    var found = cond.values.indexOf(currentValue(form, cond)) !== -1;
    return cond.negate ? !found : found;
  }

  function follow(form, select) {
    var name = select.getAttribute("data-options-follow");
    var control = form.elements.namedItem(name);
    var chosen = control ? control.value : "";
    Array.prototype.forEach.call(select.options, function (option) {
      var owner = option.getAttribute("data-" + name);
      option.hidden = Boolean(chosen && owner && owner !== chosen);
    });
    var current = select.options[select.selectedIndex];
    if (current && current.hidden) select.selectedIndex = 0;
  }

  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (el) {
      var conds = parse(el.getAttribute("data-show-when"));
      el.hidden = !conds.every(function (c) { return holds(form, c); });
    });
    form.querySelectorAll("select[data-options-follow]").forEach(function (select) {
      follow(form, select);
    });
  }

  function init() {
    var forms = new Set();
    document.querySelectorAll("[data-show-when], select[data-options-follow]").forEach(function (el) {
      var form = el.closest("form");
      if (form) forms.add(form);
    });
    forms.forEach(function (form) {
      update(form);
      form.addEventListener("change", function () { update(form); });
      form.addEventListener("input", function () { update(form); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
