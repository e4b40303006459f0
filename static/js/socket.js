// The drill websocket: reconnects with exponential backoff, resumes with ?since=<last
// seq seen>, hands each event to the page exactly once, and turns commands into promises.

// The close codes are the server's (app/realtime/codes.py), rendered into the page by
// app/web/client.py: the page keeps no copy of the numbers.
const CLOSE = JSON.parse(document.getElementById("tabletop-client").textContent).close;
const REFUSED = new Set(["unauthorized", "forbidden_origin", "drill_not_found", "not_drill_facilitator", "invalid_since"].map((name) => {
  if (!(name in CLOSE)) throw new Error(`the page lacks the close code ${name}`);
  return CLOSE[name];
}));

const MAX_BACKOFF_MS = 15000;
// A ping while the page is open: it keeps a facilitator's session from ending idle while
// the console is on screen, and keeps proxies from closing a quiet socket (nginx's
// default is 60 s).
const KEEPALIVE_MS = 45000;

export class DrillSocket {
  constructor(drillId, handlers) {
    this.drillId = drillId;
    this.handlers = handlers; // {status, snapshot, synced, event, presence, error}
    this.lastSeq = 0;
    this.pending = new Map();
    this.backoff = 500;
    this.sock = null;
    this.closedForGood = false;
    this.connect();
    setInterval(() => {
      if (this.sock && this.sock.readyState === WebSocket.OPEN) {
        this.sock.send(JSON.stringify({ type: "ping" }));
      }
    }, KEEPALIVE_MS);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/drills/${encodeURIComponent(this.drillId)}?since=${this.lastSeq}`;
  }

  connect() {
    this.handlers.status?.("connecting");
    const sock = new WebSocket(this.url());
    this.sock = sock;
    sock.addEventListener("open", () => {
      this.backoff = 500;
      this.handlers.status?.("online");
    });
    sock.addEventListener("message", (m) => this.receive(JSON.parse(m.data)));
    sock.addEventListener("close", (e) => {
      for (const [, p] of this.pending) p.reject(new Error("connection lost; send it again"));
      this.pending.clear();
      // Codes that mean "you may not be here" are final; anything else, try again.
      if (REFUSED.has(e.code)) {
        this.closedForGood = true;
        this.handlers.status?.("refused", e.reason);
        return;
      }
      this.handlers.status?.("offline");
      const wait = this.backoff * (0.75 + Math.random() * 0.5);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      setTimeout(() => this.connect(), wait);
    });
  }

  receive(msg) {
    switch (msg.type) {
      case "snapshot": {
        const fresh = msg.events.filter((e) => e.seq > this.lastSeq);
        this.handlers.snapshot?.(msg, fresh);
        for (const e of fresh) this.deliver(e, msg.descriptions?.[e.seq]);
        this.lastSeq = Math.max(this.lastSeq, msg.last_seq);
        this.handlers.synced?.();
        break;
      }
      case "event":
        this.deliver(msg.event, msg.description);
        break;
      case "ack":
      case "error": {
        const p = this.pending.get(msg.id);
        if (p) {
          this.pending.delete(msg.id);
          if (msg.type === "ack") p.resolve(msg);
          else p.reject(Object.assign(new Error(msg.message), { code: msg.code }));
        } else if (msg.type === "error") {
          this.handlers.error?.(msg);
        }
        break;
      }
      case "presence":
        this.handlers.presence?.(msg.connected);
        break;
      default:
        break;
    }
  }

  /** Ask for a fresh snapshot (the drill's context) and whatever came after our last seq. */
  resync() {
    if (this.sock && this.sock.readyState === WebSocket.OPEN) {
      this.sock.send(JSON.stringify({ type: "sync", since: this.lastSeq }));
    }
  }

  /** `description`: the server's words for the event, sent to those who see everything. */
  deliver(event, description) {
    // Dedupe by seq: a replay after reconnect may overlap what already arrived.
    if (event.seq <= this.lastSeq) return;
    this.lastSeq = event.seq;
    this.handlers.event?.(event, description);
  }

  send(body) {
    const id = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
    return new Promise((resolve, reject) => {
      if (!this.sock || this.sock.readyState !== WebSocket.OPEN) {
        reject(new Error("not connected; wait a moment and try again"));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.sock.send(JSON.stringify({ ...body, id }));
    });
  }
}
