// The join link and QR code carry the drill's code after "#": browsers never send that
// part, so the code stays out of access logs, proxies and Referer headers. Copy it into
// the form, take it out of the address bar, and send the form (a POST: the code travels
// in the body, never in a URL).
const form = document.querySelector("form[data-join-code]");
const found = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
if (form && found) {
  form.elements.namedItem("code").value = decodeURIComponent(found[1]);
  window.history.replaceState(null, "", window.location.pathname);
  form.requestSubmit();
}
