// The redeem page (/gift-cards/redeem/): a gift card e-mail's "Redeem" link and the printed
// card's QR code carry the claim code in the address's fragment (#code=XXXX-XXXXXX-XXXXX),
// which a browser never sends to the server, so no access log or Referer ever holds it. Here
// the code goes into the field, and the fragment leaves the address bar and the history entry
// at once (a shared screen, a bookmark, a copied link). Without JavaScript the shopper types it.
//
// A recipient who is not signed in is sent to sign in (or up) first, and the browser keeps the
// fragment across that redirect: this script also runs there, keeps the code in this tab's
// session storage (never sent anywhere, gone when the tab closes), and the redeem page it
// lands on after signing in fills the field from it and forgets it.
(function () {
  "use strict";

  var KEY = "coinpurse.redeem-code";
  var field = document.getElementById("id_code");
  var code = null;
  var match = /^#code=([A-Za-z0-9%\- ]{1,96})$/.exec(window.location.hash);
  if (match) {
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    try {
      code = decodeURIComponent(match[1]).toUpperCase();
    } catch (malformed) {
      return; // a mangled link: the shopper types the code from the e-mail
    }
  }
  var storage = null;
  try {
    storage = window.sessionStorage;
  } catch (blocked) {
    storage = null; // storage switched off: the shopper types the code after signing in
  }
  if (!field) {
    // Signing in or up on the way to the redeem page: keep the code for it.
    if (code && storage) {
      storage.setItem(KEY, code);
    }
    return;
  }
  if (!code && storage) {
    code = storage.getItem(KEY);
  }
  if (storage) {
    storage.removeItem(KEY);
  }
  if (code && !field.value) {
    field.value = code;
  }
})();
