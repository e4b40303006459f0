// The server's scorecard (GET /api/drills/{id}/score), shown the same way on the console and
// on the participants' page. The browser never adds points up itself: one fold, on the server.
import { el } from "./dom.js";
import { LiveJson } from "./live_json.js";

/** Events after which the scores may have changed (clock ticks never change them). */
export const SCORE_EVENTS = new Set([
  "decision_answered",
  "decision_timed_out",
  "decision_closed",
  "expectation_met",
  "expectation_missed",
  "score_adjusted",
  "drill_ended",
]);

export const DIMENSIONS = { decisions: "Decisions", communication: "Communication", regulatory: "Regulatory notifications", adjustments: "Adjustments" };

/** The scorecard (GET /api/drills/{id}/score): `onCard(card)` gets the newest,
 * `onError(err)` a failure. */
export class Scorecard extends LiveJson {
  constructor(drillId, onCard, onError, delay = 300) {
    super(`/api/drills/${encodeURIComponent(drillId)}/score`, "the scores", onCard, onError, delay);
  }
}

export function points(n) {
  return String(Math.round(n * 100) / 100);
}

/** "7 / 10"; "+2" where nothing was at stake but points were given (adjustments);
 *  "nothing at stake" where neither (a deadline not yet due is not a zero score), unless
 *  `counted` (the adjustments' row, whose 0 means none were made). */
export function amount(total, counted = false) {
  if (total.max_points > 0) return `${points(total.points)} / ${points(total.max_points)}`;
  if (total.points === 0 && !counted) return NOTHING_AT_STAKE;
  return total.points > 0 ? `+${points(total.points)}` : points(total.points);
}

export const NOTHING_AT_STAKE = "nothing at stake";

export function percent(total) {
  if (total.played === false) return "not played"; // a role nobody played has no percentage
  return total.percent === null || total.percent === undefined ? "" : `${total.percent}%`;
}

/** One list item per [label, total, counted]: the label, points of max, percent and a
 *  meter (`counted` as for `amount`). */
export function renderTotals(list, rows) {
  list.replaceChildren();
  for (const [label, total, counted] of rows) {
    const li = el("li");
    const figure = amount(total, counted);
    const idle = figure === NOTHING_AT_STAKE;
    li.classList.toggle("idle", idle); // the words go under the label: see app.css
    const muted = idle ? "muted" : total.points < 0 ? "neg" : "";
    li.append(el("span", "score-label", label), el("strong", muted, figure), el("span", "score-pct muted small", percent(total)));
    if (total.percent !== null && total.percent !== undefined) {
      const meter = el("meter");
      meter.min = 0;
      meter.max = 100;
      meter.value = total.percent;
      meter.setAttribute("aria-label", `${label}: ${total.percent}%`);
      li.append(meter);
    }
    list.append(li);
  }
}

export function overallText(total) {
  const pct = percent(total);
  return `${amount(total)}${pct ? ` · ${pct}` : ""}`;
}

/** Fills a score panel: overall into `overall`, objectives and dimensions into their lists. */
export function renderScorecard(card, titles, { overall, objectives, dimensions }) {
  overall.textContent = overallText(card.overall);
  renderTotals(objectives, Object.entries(card.objectives).map(([id, total]) => [titles[id] || id, total]));
  // A dimension nothing in this scenario scores (no regime played) is left out, not "0 / 0".
  const scored = Object.entries(card.dimensions).filter(([id, total]) => id !== "regulatory" || total.max_points > 0);
  renderTotals(dimensions, scored.map(([id, total]) => [DIMENSIONS[id] || id, total, id === "adjustments"]));
}

/** The score panel both pages share (#score-overall, #scores, #score-dimensions and
 * #score-error): a Scorecard that renders into it and shows its errors. `titles()` gives
 * the objective titles at render time (a participant learns them on release). */
export function scorePanel(drillId, titles) {
  const byId = (id) => document.getElementById(id);
  return new Scorecard(
    drillId,
    (card) => {
      byId("score-error").hidden = true;
      renderScorecard(card, titles(), { overall: byId("score-overall"), objectives: byId("scores"), dimensions: byId("score-dimensions") });
    },
    (err) => {
      byId("score-error").textContent = err.message;
      byId("score-error").hidden = false;
    },
  );
}
