// Coinpurse's own behaviour, kept out of the templates so the Content-Security-Policy can
// refuse every inline script and event handler (docs/interface.md §9). Each behaviour hangs
// on a data attribute; without JavaScript the pages still work (a <noscript> button, or a
// plain submit).
(function () {
  "use strict";

  // <input data-autosubmit>: changing it sends its form (the "use my balance" switch).
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field && field.form) {
      field.form.submit();
    }
  });

  // <div data-replace-url="/checkout/">: a refused form was rendered at the address it was
  // posted to; show the page's own address instead, so a reload asks for the page and does
  // not send the form (a code, one more guess) again.
  var replace = document.querySelector("[data-replace-url]");
  if (replace && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", replace.getAttribute("data-replace-url"));
  }

  // <form data-disable-on-submit>: its submit buttons are disabled once it is sent, so a
  // second click cannot send it twice (the server is idempotent anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-disable-on-submit]")) {
      return;
    }
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = true;
    });
  });
})();
