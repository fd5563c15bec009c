// Searchable pickers for select[data-picker] (issue 22): Tom Select (static/vendor/tom-select),
// fetched only on pages that have one. Without JavaScript the plain select still works, and
// the select stays in the form, so what is sent is the same either way.
(function () {
  "use strict";

  var selects = document.querySelectorAll("select[data-picker]");
  if (!selects.length) return;

  // The vendored files sit beside this script: /static/picker.js → /static/vendor/tom-select/.
  var here = document.currentScript ? document.currentScript.src : "/static/picker.js";
  var vendor = here.replace(/picker\.js(\?.*)?$/, "vendor/tom-select/");

  // The words of the picker in the page's language, from <script id="picker-strings">
  // (templates/_picker_strings.html); Tom Select's own words where a page has none.
  var strings = {};
  var holder = document.getElementById("picker-strings");
  if (holder) {
    try { strings = JSON.parse(holder.textContent); } catch (e) { strings = {}; }
  }

  function escapeText(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function settings(select) {
    var options = {
      // every option is offered, not Tom Select's first 50
      maxOptions: null,
      // an empty choice ("全部", "不用打印机") stays choosable
      allowEmptyOption: true,
      create: false,
      plugins: select.multiple ? { remove_button: strings.remove ? { title: strings.remove } : {} } : [],
      render: {}
    };
    if (strings.no_results) {
      options.render.no_results = function () {
        return '<div class="no-results">' + escapeText(strings.no_results) + "</div>";
      };
    }
    if (strings.search) options.placeholder = strings.search;
    return options;
  }

  function start() {
    selects.forEach(function (select) {
      new window.TomSelect(select, settings(select));
    });
  }

  // Before static/forms.css, so that the app's own look of the picker wins over the theme's.
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = vendor + "tom-select.default.min.css";
  var ours = document.querySelector('link[rel=stylesheet][href*="forms.css"]');
  document.head.insertBefore(css, ours);

  var script = document.createElement("script");
  script.src = vendor + "tom-select.complete.min.js";
  script.addEventListener("load", start);
  document.head.appendChild(script);
})();
