// Small DOM helpers every screen uses: making elements, finding them, the connection line,
// and an error box that shows what the server (or the page) refused.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A new element with an optional class and text (always text: never parsed as HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** The connection line in the drill bar: Connecting…, Live, Reconnecting… or why not. */
export function setConn(node, state, reason) {
  const text = { connecting: "Connecting…", online: "Live", offline: "Reconnecting…", refused: reason || "Not allowed" };
  node.textContent = text[state] || state;
  node.dataset.state = state;
}

/** A function that shows an error's message in `box` and hides the box when given null.
 *  With `hideAfterMs`, one box serves many controls: each message goes again after that
 *  long, and null leaves it to do so. */
export function errorBox(box, hideAfterMs = 0) {
  return (err) => {
    if (!err) {
      if (!hideAfterMs) box.hidden = true;
      return;
    }
    box.textContent = err.message;
    box.hidden = false;
    if (hideAfterMs) setTimeout(() => { box.hidden = true; }, hideAfterMs);
  };
}
