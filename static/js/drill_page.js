// What the console and the play page share about a drill: the socket, the story's clock and
// the names of roles and parties, kept in step with each snapshot and every event; and
// commands sent from buttons and forms, with the server's refusal shown where the person
// is looking.
import { Countdown, ScenarioClock } from "./clock.js";
import { $, el, setConn } from "./dom.js";
import { DrillSocket } from "./socket.js";

const TICK_MS = 500;

export class DrillPage {
  constructor(drillId) {
    this.drillId = drillId;
    this.clock = new ScenarioClock();
    this.roles = {};
    this.parties = {};
    this.socket = null;
  }

  /** A role's or an outside party's name; "all" is everyone. */
  who(id) {
    return this.roles[id] || this.parties[id] || (id === "all" ? "Everyone" : id);
  }

  /** Connect, then keep the page in step. The clock and the names are taken from each
   *  snapshot before snapshot(drill) runs, and the clock sees each event before
   *  event(e, description) (the server's words for it, for those who see everything);
   *  tick(now) runs every half second and once the first snapshot's events are in, right
   *  after synced(). presence(ids) and error(msg) as they come. Call it once the page's
   *  own state is set up: the first tick runs at once. */
  connect({ snapshot, synced, event, tick, presence, error }) {
    const ticked = () => tick?.(this.clock.now());
    this.socket = new DrillSocket(this.drillId, {
      status: (state, reason) => setConn($("conn"), state, reason),
      snapshot: (msg) => {
        this.roles = msg.drill.roles;
        this.parties = msg.drill.parties;
        this.clock.fromSnapshot(msg.drill.clock);
        snapshot?.(msg.drill);
      },
      synced: () => {
        synced?.();
        ticked();
      },
      event: (e, description) => {
        this.clock.onEvent(e);
        event?.(e, description);
      },
      presence,
      error,
    });
    setInterval(ticked, TICK_MS);
    ticked();
  }

  /** A decision's list item for an opened decision's data `d`, with its head ending in
   *  the countdown to its deadline (the page puts the rest of the head before it):
   *  {item, head, timer, countdown}. announce and what as for Countdown. */
  decisionItem(d, className, announce, what) {
    const item = el("li", className);
    item.dataset.decision = d.decision_id;
    const head = el("div", "decision-head");
    const timer = head.appendChild(el("span", "countdown"));
    return { item, head, timer, countdown: new Countdown(timer, this.clock, d.deadline, announce, what) };
  }

  /** Ask for a fresh snapshot (the drill's context) and whatever came after our last seq. */
  resync() {
    this.socket.resync();
  }

  /** Send a command; a refusal, or a connection lost on the way, goes to show(err).
   *  Resolves true once the server has accepted it. */
  async send(body, show) {
    try {
      await this.socket.send(body);
      return true;
    } catch (err) {
      show(err);
      return false;
    }
  }

  /** A form that sends one command. On submit show(null) clears the last error, then
   *  command(data) builds the command from the form's FormData (throw an Error to say
   *  what is wrong and send nothing); sent(form) runs once the server has accepted it,
   *  show(err) if it refuses. With `busy` the submit button is disabled meanwhile. */
  form(form, { command, sent, show, busy = false }) {
    form?.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      show(null);
      let body;
      try {
        body = command(new FormData(form));
      } catch (err) {
        show(err);
        return;
      }
      const button = busy ? form.querySelector("button[type=submit]") : null;
      if (button) button.disabled = true;
      try {
        if (await this.send(body, show)) sent?.(form);
      } finally {
        if (button) button.disabled = false;
      }
    });
  }
}
