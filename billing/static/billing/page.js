// Small behaviours once written as onchange="" / onclick="" attributes, which the Content-Security-Policy refuses.
(function () {
  "use strict";
  // The language menu (and any select marked so) submits its form as soon as it changes.
  document.querySelectorAll("[data-submit-on-change]").forEach(function (field) {
    field.addEventListener("change", function () { field.form.submit(); });
  });
  // A form marked data-prompt-dialog="ID" first opens that <dialog> (LINE's 跳出提示); its 確認 submits the
  // form, its cancel closes it. Without JavaScript the form submits at once and the server says the same.
  document.querySelectorAll("form[data-prompt-dialog]").forEach(function (form) {
    const dialog = document.getElementById(form.dataset.promptDialog);
    if (!dialog || typeof dialog.showModal !== "function") { return; }
    form.addEventListener("submit", function (event) {
      if (form.dataset.prompted) { return; }
      event.preventDefault();
      dialog.querySelector("[data-dialog-confirm]").onclick = function () {
        form.dataset.prompted = "1";
        dialog.close();
        form.submit();
      };
      dialog.showModal();
    });
    dialog.querySelectorAll("[data-dialog-cancel]").forEach(function (button) {
      button.addEventListener("click", function () { dialog.close(); });
    });
  });
  // The invoice proof's print button.
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
