// The drill's clock as both screens show it (one implementation, two screens):
//   new ScenarioClock()            the story's clock; feed it fromSnapshot(ctx.clock) and
//                                  onEvent(e) for every event (start, pause, resume,
//                                  set_speed, jump and end re-anchor it at once).
//     .now()                       scenario seconds since the story's start (frozen
//                                  while paused).
//     .realSecondsUntil(t)         REAL seconds until scenario time t at the current
//                                  speed: frozen (not null) while paused, so a paused
//                                  countdown still shows what is left; null before the
//                                  start and after the end.
//     .label(t)                    the story's wall clock at t: "Thu 24 Dec 22:50".
//   tplus(t)                       T+HH:MM, as the timeline and the report write it.
//   formatCountdown(realSeconds)   0:42, 12:05, 1:02:03.
//   span(seconds)                  45 min, 1 h 05 min (a length read at a glance).
//   new Countdown(node, clock, deadline, announce, what)
//     .update()                    call on every tick: writes "1:43 left" and "due
//                                  T+01:30 · Thu 24 Dec 23:10" into node, toggles the
//                                  classes warn (60 s), urgent (15 s) and paused, and
//                                  calls announce(text) once per threshold (aria-live).
//     .stop()                      once the decision is answered or closed.
//   pauseBanner(el, clock)         shows el while the clock is paused, hides it after.
import { el } from "./dom.js";

/** The scenario clock: current seconds since the scenario's start. */
export class ScenarioClock {
  constructor() {
    this.status = "new";
    this.speed = 1;
    this.anchorWall = 0;
    this.anchorScenario = 0;
    this.start = null;
  }

  fromSnapshot(clock) {
    this.status = clock.status;
    this.speed = clock.speed;
    this.anchorWall = clock.anchor_wall;
    this.anchorScenario = clock.anchor_scenario;
    // A naive local time of the story; do arithmetic in UTC and show it as written.
    this.start = Date.parse(clock.start + (clock.start.endsWith("Z") ? "" : "Z"));
    this.timezone = clock.timezone;
  }

  onEvent(e) {
    const reanchor = () => {
      this.anchorWall = e.at;
      this.anchorScenario = e.scenario_time;
    };
    switch (e.type) {
      case "clock_started": reanchor(); this.status = "running"; break;
      case "clock_paused": reanchor(); this.status = "paused"; break;
      case "clock_resumed": reanchor(); this.status = "running"; break;
      case "clock_speed_changed": reanchor(); this.speed = e.data.speed; break;
      case "clock_jumped": this.anchorWall = e.at; this.anchorScenario = e.data.to; break;
      case "drill_ended": reanchor(); this.status = "ended"; break;
      default: break;
    }
  }

  now() {
    if (this.status !== "running") return this.anchorScenario;
    return this.anchorScenario + (Date.now() / 1000 - this.anchorWall) * this.speed;
  }

  /** Real seconds until scenario time `t` at the current speed; frozen while paused,
   *  null before the start and after the end. */
  realSecondsUntil(t) {
    if (this.status !== "running" && this.status !== "paused") return null;
    return (t - this.now()) / this.speed;
  }

  label(seconds) {
    if (this.start === null) return "—";
    const d = new Date(this.start + seconds * 1000);
    // The story's wall clock as the scenario writes it: "Thu 24 Dec 22:50".
    return d.toLocaleString("en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).replace(",", "");
  }
}

/** A scenario offset as T+HH:MM, the one way the console, the play page, the timeline
 *  and the report write it (app/engine/durations.format_clock). */
export function tplus(seconds) {
  const total = Math.round(seconds);
  const a = Math.abs(total);
  const pad = (n) => String(n).padStart(2, "0");
  return `T${total < 0 ? "-" : "+"}${pad(Math.floor(a / 3600))}:${pad(Math.floor((a % 3600) / 60))}`;
}

/** A length people read at a glance: 45 min, 1 h 05 min, 83 h (app/web/briefing.span). */
export function span(seconds) {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${String(m).padStart(2, "0")} min` : `${h} h`;
}

const WARN_SECONDS = 60;
const URGENT_SECONDS = 15;

/** A decision's countdown in REAL time at the current speed ("1:43 left"), with its
 *  deadline in scenario time beside it; warns at 60 s and 15 s (a style, and one
 *  announcement each to screen readers through `announce`), frozen while paused. */
export class Countdown {
  constructor(node, clock, deadline, announce, what) {
    this.node = node;
    this.clock = clock;
    this.deadline = deadline;
    this.announce = announce;
    this.what = what;
    this.warned = new Set();
    this.left = node.appendChild(el("span", "countdown-left"));
    this.due = node.appendChild(el("span", "countdown-due"));
  }

  update() {
    const real = this.clock.realSecondsUntil(this.deadline);
    const due = `due ${tplus(this.deadline)} · ${this.clock.label(this.deadline)}`;
    this.due.textContent = due;
    if (real === null) {
      this.left.textContent = "";
      return;
    }
    const paused = this.clock.status === "paused";
    this.left.textContent = real > 0 ? `${formatCountdown(real)} left${paused ? " (paused)" : ""}` : "time is up";
    this.node.classList.toggle("warn", real <= WARN_SECONDS && real > URGENT_SECONDS);
    this.node.classList.toggle("urgent", real <= URGENT_SECONDS);
    this.node.classList.toggle("paused", paused);
    // One announcement per threshold crossed: only the tightest when a decision opens
    // (or the speed rises) past both at once, and again if a slower speed lifted the
    // countdown back above a threshold it then crosses a second time.
    let crossed = null;
    for (const limit of [WARN_SECONDS, URGENT_SECONDS]) {
      if (real > limit) this.warned.delete(limit);
      else if (real > 0 && !paused && !this.warned.has(limit)) {
        this.warned.add(limit);
        crossed = limit;
      }
    }
    if (crossed !== null) {
      this.announce(`${crossed === WARN_SECONDS ? "1 minute" : "15 seconds"} left: ${this.what}`);
    }
  }

  stop() {
    this.left.textContent = "";
    this.node.classList.remove("warn", "urgent", "paused");
  }
}

/** Show `banner` while the clock is paused. */
export function pauseBanner(banner, clock) {
  banner.hidden = clock.status !== "paused";
}

/** Real seconds as a countdown reads: 0:42, 12:05, 1:02:03. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}
