// The regulatory clocks panel, on the console and on the pages of the roles a scenario
// names for a regime: the server decides every duty's state (GET
// /api/drills/{id}/regulatory, refetched after anything that can start, file or re-time
// a clock); between fetches the countdowns tick with the story's clock, in story time
// and in real time at the current speed.
import { formatCountdown, span, tplus } from "./clock.js";
import { el } from "./dom.js";
import { LiveJson } from "./live_json.js";

/** Events that can start a clock (an inject, a decision, a message), file a duty (a
 *  message) or move every deadline's real time (the clock's own events). */
export const CLOCK_EVENTS = new Set([
  "inject_delivered",
  "decision_answered",
  "decision_timed_out",
  "decision_closed",
  "message_sent",
  "clock_started",
  "clock_paused",
  "clock_resumed",
  "clock_speed_changed",
  "clock_jumped",
  "drill_ended",
]);

const SHOWN = {
  waiting: "Not started",
  running: "Running",
  filed: "Filed on time",
  late: "Filed late",
  missed: "Overdue",
  "not required": "Not required",
};

export class RegulatoryPanel {
  constructor(drillId, list, clock, showError, delay = 300) {
    this.list = list;
    this.clock = clock;
    this.running = [];
    const url = `/api/drills/${encodeURIComponent(drillId)}/regulatory`;
    const show = (body) => {
      showError(null);
      this.render(body.clocks);
    };
    this.source = new LiveJson(url, "the regulatory clocks", show, showError, delay);
  }

  soon() {
    this.source.soon();
  }

  now() {
    return this.source.now();
  }

  render(clocks) {
    this.list.replaceChildren();
    this.running = [];
    for (const row of clocks) {
      const item = el("li", `duty duty-${row.state.replace(" ", "-")}`);
      const head = el("p", "duty-head");
      const chip = el("span", `chip chip-${row.state.replace(" ", "-")}`, SHOWN[row.state] || row.state);
      head.append(el("strong", "", row.title), chip);
      item.append(head, el("p", "small muted", `To ${row.owed_to} · ${row.source}`));
      const when = el("p", "small duty-when");
      if (row.state === "filed" || row.state === "late") {
        when.textContent = `Filed ${storyTime(row.filed)}; due ${storyTime(row.due)}`;
      } else if (row.due_scenario_time === null || row.due_scenario_time === undefined) {
        when.textContent = row.state === "running" ? "Without undue delay (no deadline set)" : "";
      } else {
        this.running.push({ row, node: when, item, chip });
      }
      item.append(when);
      this.list.append(item);
    }
    this.tick();
  }

  /** Every running or overdue countdown, from the story's clock now. */
  tick() {
    const now = this.clock.now();
    for (const { row, node, item, chip } of this.running) {
      const due = row.due_scenario_time;
      const left = due - now;
      const real = this.clock.realSecondsUntil(due);
      const at = `due ${tplus(due)} · ${this.clock.label(due)}`;
      if (left > 0 && row.state !== "missed") {
        const realText = real === null ? "" : ` (${formatCountdown(real)} real)`;
        node.textContent = `${span(left)} left${realText}, ${at}`;
      } else {
        // Past its deadline on this screen's clock before the server has said so: the
        // chip and the line agree (the next fetch confirms it).
        node.textContent = `Overdue by ${span(-left)}, was ${at}`;
        item.classList.add("duty-missed");
        chip.textContent = SHOWN.missed;
        chip.className = "chip chip-missed";
      }
    }
  }
}

/** "2026-11-30T01:15+00:00" as the story writes its times: "30 Nov 01:15". */
function storyTime(iso) {
  if (!iso) return "—";
  const [date, time] = iso.split("T");
  const [, month, day] = date.split("-");
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return `${Number(day)} ${months[Number(month) - 1]} ${time.slice(0, 5)}`;
}
