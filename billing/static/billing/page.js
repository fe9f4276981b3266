// Small behaviours once written as onchange="" / onclick="" attributes, which the Content-Security-Policy refuses.
(function () {
  "use strict";
  // The language menu (and any select marked so) submits its form as soon as it changes.
  document.querySelectorAll("[data-submit-on-change]").forEach(function (field) {
    field.addEventListener("change", function () { field.form.submit(); });
  });
  // The invoice proof's print button.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
