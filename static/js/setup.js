// The setup link carries its one-time code after "#": browsers never send that part, so
// it stays out of access logs and Referer headers. Copy it into the form, then out of the
// address bar (and the history), so the code is not left on screen.
const field = document.querySelector('input[name="token"]');
const found = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
if (field && found) {
  field.value = decodeURIComponent(found[1]);
  window.history.replaceState(null, "", window.location.pathname);
}
