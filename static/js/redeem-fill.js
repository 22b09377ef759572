// The redeem page (/gift-cards/redeem/): a gift card e-mail's "Redeem" link and the printed
// card's QR code carry the claim code in the address's fragment (#code=XXXX-XXXXXX-XXXXX),
// which a browser never sends to the server, so no access log or Referer ever holds it. Here
// the code goes into the field, and the fragment leaves the address bar and the history entry
// at once (a shared screen, a bookmark, a copied link). Without JavaScript the shopper types it.
(function () {
  "use strict";

  var match = /^#code=([A-Za-z0-9%\- ]{1,96})$/.exec(window.location.hash);
  if (!match) {
    return;
  }
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var code;
  try {
    code = decodeURIComponent(match[1]);
  } catch (malformed) {
    return; // a mangled link: the shopper types the code from the e-mail
  }
  var field = document.getElementById("id_code");
  if (field && !field.value) {
    field.value = code.toUpperCase();
  }
})();
