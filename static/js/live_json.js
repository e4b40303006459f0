// A JSON document the server keeps and the page shows live (the scorecard, the
// regulatory clocks): fetched on demand; calls within `delay` ms of each other make one
// request, and a slow stale answer never overwrites a newer one.

export class LiveJson {
  /** `what` names it in an error ("the scores could not be loaded (503)"). */
  constructor(url, what, onData, onError, delay = 300) {
    this.url = url;
    this.what = what;
    this.onData = onData;
    this.onError = onError;
    this.delay = delay;
    this.timer = null;
    this.asked = 0;
  }

  soon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.now(), this.delay);
  }

  async now() {
    clearTimeout(this.timer);
    const asked = ++this.asked;
    try {
      const response = await fetch(this.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.detail || `${this.what} could not be loaded (${response.status})`);
      if (asked === this.asked) this.onData(body);
    } catch (err) {
      if (asked === this.asked) this.onError(err);
    }
  }
}
