// The sandbox's hosted card fields: check the card with the gateway, hand only the token to the parent page.
(function () {
  "use strict";
  var form = document.getElementById("card-fields");
  var button = form.querySelector("button[type=submit]");
  var status = document.getElementById("card-status");
  // The input each gateway error code is shown next to.
  var INPUT_FOR = { number: "number", brand: "number", expiry: "expiry", expiry_format: "expiry", cvc: "cvc" };

  function handOver(card) {
    window.parent.postMessage(
      { type: "sandbox-card-token", token: card.token, brand: card.brand, last_four: card.last_four },
      window.location.origin
    );
  }

  function clearErrors() {
    form.querySelectorAll(".is-invalid").forEach(function (input) { input.classList.remove("is-invalid"); });
    form.querySelectorAll("[data-error-for]").forEach(function (box) { box.textContent = ""; });
    status.textContent = "";
  }

  function showError(code, message) {
    var name = INPUT_FOR[code] || "number";
    form.elements[name].classList.add("is-invalid");
    form.querySelector("[data-error-for=" + name + "]").textContent = message;
    form.elements[name].focus();
  }

  function accepted(card) {
    form.reset();
    status.textContent = form.dataset.accepted + " " + card.brand.toUpperCase() + " \u2022\u2022\u2022\u2022 " + card.last_four;
    handOver(card);
  }

  function submit(event) {
    event.preventDefault();
    clearErrors();
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
      body: new URLSearchParams(new FormData(form)),
    })
      .then(function (response) {
        return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
      })
      .then(function (result) {
        if (result.ok) { accepted(result.answer); } else { showError(result.answer.field, result.answer.error); }
      })
      .catch(function () { showError("number", form.dataset.failed); })
      .finally(function () { button.disabled = false; });
  }

  // Group the number in fours as it is typed; the gateway keeps only the digits.
  form.elements.number.addEventListener("input", function (event) {
    var digits = event.target.value.replace(/\D/g, "").slice(0, 19);
    event.target.value = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  form.addEventListener("submit", submit);

  // A form posted without this script came back with its token: hand it over now.
  var result = document.getElementById("sandbox-card-result");
  if (result) {
    handOver({ token: result.dataset.token, brand: result.dataset.brand, last_four: result.dataset.lastFour });
  }
})();
