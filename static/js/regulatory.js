// The regulatory clocks panel, on the console and on the pages of the roles a scenario
// names for a regime: the server decides every duty's state (GET
// /api/drills/{id}/regulatory, refetched after anything that can start, file or re-time
// a clock); between fetches the countdowns tick with the story's clock, in story time
// and in real time at the current speed. Each duty carries its notice form: the roles
// that draft it save, sign off and file it here (commands over the drill's socket);
// once filed it shows how complete it was, and the facilitator may rate each field.
import { formatCountdown, span, tplus } from "./clock.js";
import { el, errorBox } from "./dom.js";
import { LiveJson } from "./live_json.js";

/** Events that can start a clock (an inject, a decision, a message), file a duty (a
 *  message) or move every deadline's real time (the clock's own events). */
export const CLOCK_EVENTS = new Set([
  "inject_delivered",
  "decision_answered",
  "decision_timed_out",
  "decision_closed",
  "message_sent",
  "notice_drafted",
  "notice_signed_off",
  "notice_field_rated",
  "scores_released",
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
  /** `send(body, show)`: a command over the drill's socket (DrillPage.send); without it
   *  the panel only shows the notices. */
  constructor(drillId, list, clock, showError, delay = 300, send = null) {
    this.list = list;
    this.clock = clock;
    this.send = send;
    this.running = [];
    this.forms = new Map();
    const url = `/api/drills/${encodeURIComponent(drillId)}/regulatory`;
    const show = (body) => {
      showError(null);
      this.mayRate = body.may_rate;
      this.render(body.clocks);
    };
    this.source = new LiveJson(url, "the regulatory clocks", show, showError, delay);
  }

  soon() {
    this.source.soon();
  }

  /** Parties owed a notice this viewer drafts and has not filed: party id -> its titles. */
  formParties() {
    const owed = new Map();
    for (const row of this.rows || []) {
      if (!row.party || !row.may_draft || row.notice.filed) continue;
      if (!["running", "missed", "waiting"].includes(row.state)) continue;
      owed.set(row.party, [...(owed.get(row.party) || []), row.title]);
    }
    return owed;
  }

  now() {
    return this.source.now();
  }

  render(clocks) {
    // A refresh (someone else saved, a clock moved) must not take the cursor away from
    // the field being written: the same field gets it back, selection and all.
    const active = this.list.contains(document.activeElement) ? document.activeElement : null;
    const focus = active?.id ? { id: active.id, start: active.selectionStart, end: active.selectionEnd } : null;
    this.draw(clocks);
    const again = focus && document.getElementById(focus.id);
    if (again) {
      again.focus({ preventScroll: true });
      if (focus.start !== null && focus.start !== undefined && again.setSelectionRange) again.setSelectionRange(focus.start, focus.end);
    }
  }

  draw(clocks) {
    this.rows = clocks;
    this.onDraw?.();
    const before = this.forms;
    this.forms = new Map();
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
      if (row.notice && row.state !== "not required") item.append(this.notice(row, before.get(key(row))));
      this.list.append(item);
    }
    this.tick();
  }

  /** The duty's notice: a form while it is the viewer's to draft, else what it says. */
  notice(row, previous) {
    const n = row.notice;
    const box = el("details", "notice");
    box.open = previous?.box.open ?? false;
    const summary = el("summary", "notice-summary", noticeLine(row));
    box.append(summary);
    const drafting = !n.filed && row.may_draft && this.send;
    const state = drafting ? this.draftForm(row, previous) : { form: null, dirty: new Set() };
    box.append(state.form || this.readOnly(row));
    state.box = box;
    this.forms.set(key(row), state);
    return box;
  }

  draftForm(row, previous) {
    const n = row.notice;
    const form = el("form", "notice-form");
    const id = (f) => `notice-${row.regime}-${row.duty}-${f}`;
    const state = { box: null, form, dirty: new Set(previous?.dirty || []), follow: previous?.follow };
    for (const f of n.fields) {
      const wrap = el("div", "field");
      const label = el("label", "", f.label + (f.required ? "" : " (optional)"));
      label.htmlFor = id(f.id);
      const input = f.kind === "number" ? el("input") : el("textarea");
      input.id = id(f.id);
      input.name = f.id;
      if (f.kind === "number") {
        input.type = "text";
        input.placeholder = "a number, or: not yet known";
      } else {
        input.rows = 3;
      }
      // What this person typed and has not saved survives a refresh from the server.
      const typed = previous?.form?.elements.namedItem(f.id);
      input.value = state.dirty.has(f.id) && typed ? typed.value : f.value;
      input.addEventListener("input", () => state.dirty.add(f.id));
      const meta = [f.source, f.edited_by ? `last written by ${f.edited_by}` : ""].filter(Boolean).join(" · ");
      wrap.append(label, input, el("p", "small muted", meta));
      form.append(wrap);
    }
    const follow = el("label", "check");
    const box = el("input");
    box.type = "checkbox";
    box.name = "follow_up";
    box.checked = state.follow ?? n.follow_up;
    box.addEventListener("change", () => { state.follow = box.checked; });
    follow.append(box, document.createTextNode(" We will follow up with what is not yet known"));
    form.append(follow);
    const status = el("p", "small notice-status", signOffLine(n));
    const error = el("p", "alert small", "");
    error.setAttribute("role", "alert");
    error.hidden = true;
    const show = errorBox(error);
    const buttons = el("div", "notice-actions");
    const save = el("button", "", "Save draft");
    save.type = "submit";
    buttons.append(save);
    if (row.may_sign_off) {
      const sign = el("button", "", n.signed_off ? "Signed off" : "Sign off");
      sign.type = "button";
      sign.disabled = n.signed_off && !state.dirty.size;
      sign.addEventListener("click", () => this.act(row, state, "sign_off_notice", show));
      buttons.append(sign);
    }
    const file = el("button", "primary", `File with ${row.owed_to}`);
    file.type = "button";
    file.addEventListener("click", () => this.act(row, state, "file_notice", show));
    buttons.append(file);
    form.append(status, buttons, error);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.save(row, state, show);
    });
    return state;
  }

  /** Save what this person changed (only that: others may be writing other fields). */
  async save(row, state, show) {
    show(null);
    const fields = {};
    for (const name of state.dirty) fields[name] = state.form.elements.namedItem(name).value;
    const followUp = state.form.elements.namedItem("follow_up").checked;
    if (!state.dirty.size && followUp === row.notice.follow_up) return true;
    const body = { type: "draft_notice", regime: row.regime, duty: row.duty, fields, follow_up: followUp };
    const ok = await this.send(body, show);
    if (ok) {
      state.dirty.clear();
      state.follow = undefined;
      this.soon();
    }
    return ok;
  }

  /** Sign off or file: the unsaved edits are saved first, so what is approved or
   *  filed is what is on screen. */
  async act(row, state, type, show) {
    if (!(await this.save(row, state, show))) return;
    if (await this.send({ type, regime: row.regime, duty: row.duty }, show)) this.soon();
  }

  readOnly(row) {
    const n = row.notice;
    const list = el("dl", "notice-fields");
    for (const f of n.fields) {
      if (!f.required && !f.value) continue;
      const term = el("dt", "", f.label);
      const value = el("dd", "");
      value.append(el("span", "notice-value", f.value || "—"));
      if (f.status) {
        const verdict = f.rating ? (f.rating.complete ? "complete" : "incomplete") : f.status;
        const judged = el("p", "small notice-judged");
        const mark = el("span", `chip chip-field-${f.counts ? "ok" : "bad"}`, verdict);
        const why = f.rating ? `rated by the facilitator: ${f.rating.reason}` : f.detail;
        judged.append(mark, el("span", "muted", ` ${why}`));
        if (this.mayRate && this.send) judged.append(this.rateButtons(row, f));
        value.append(judged);
      }
      list.append(term, value);
    }
    const wrap = el("div", "notice-read");
    if (n.filed_as === "message") {
      wrap.append(el("p", "small", "Filed as a free-text message, not with the form:"), el("blockquote", "small", n.filed_text));
    }
    wrap.append(list, el("p", "small notice-status", n.filed ? "" : signOffLine(n)));
    if (n.follow_up) wrap.append(el("p", "small muted", "Promises a follow-up with what is not yet known."));
    if (row.may_sign_off && !n.filed && this.send) {
      const sign = el("button", "", n.signed_off ? "Signed off" : "Sign off");
      sign.disabled = n.signed_off;
      const error = el("p", "alert small", "");
      error.hidden = true;
      const show = errorBox(error);
      sign.addEventListener("click", async () => {
        if (await this.send({ type: "sign_off_notice", regime: row.regime, duty: row.duty }, show)) this.soon();
      });
      wrap.append(sign, error);
    }
    return wrap;
  }

  /** The facilitator's override of one filed field, with the reason the report shows. */
  rateButtons(row, f) {
    const box = el("span", "rate");
    // Offer the other verdict; a rated field can also go back to the rules' verdict.
    const choices = [f.counts ? ["Rate incomplete", false] : ["Rate complete", true]];
    if (f.rating) choices.push(["Back to the rules", null]);
    for (const [label, complete] of choices) {
      const b = el("button", "link small", label);
      b.type = "button";
      b.addEventListener("click", async () => {
        const reason = window.prompt(`${label}: “${f.label}”. Why? (the report shows it)`);
        if (!reason) return;
        const body = { type: "rate_notice_field", regime: row.regime, duty: row.duty, field: f.id, complete, reason };
        if (await this.send(body, (err) => window.alert(err.message))) this.soon();
      });
      box.append(" ", b);
    }
    return box;
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

const key = (row) => `${row.regime}.${row.duty}`;

/** The notice in one line: where its form stands. */
function noticeLine(row) {
  const n = row.notice;
  if (n.filed && n.filed_as === "message") {
    const fields = n.complete === null ? "" : `, ${n.complete} of ${n.required} fields`;
    return `Notice: a free-text message by ${n.filed_by}${fields}`;
  }
  if (n.filed && n.complete === null) return `Notice filed by ${n.filed_by}`;
  if (n.filed) return `Notice filed by ${n.filed_by}: ${n.complete} of ${n.required} required fields complete`;
  const filled = n.fields.filter((f) => f.required && f.value.trim()).length;
  return `Notice form: ${filled} of ${n.required} required fields written`;
}

function signOffLine(n) {
  if (!n.sign_off) return "No sign-off needed: a drafting role files it.";
  if (n.signed_off) return `Signed off by ${n.signed_off_by}.`;
  return `Needs sign-off by ${n.sign_off_title} before it is filed.`;
}

/** "2026-11-30T01:15+00:00" as the story writes its times: "30 Nov 01:15". */
function storyTime(iso) {
  if (!iso) return "—";
  const [date, time] = iso.split("T");
  const [, month, day] = date.split("-");
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return `${Number(day)} ${months[Number(month) - 1]} ${time.slice(0, 5)}`;
}
