// The facilitator console: clock controls, the guide, open decisions and who has answered,
// the injects up next (fire now, skip), roles and roster with presence, the live feed with
// filters, and the scores.
import { formatCountdown, pauseBanner, tplus } from "./clock.js";
import { $, el, errorBox } from "./dom.js";
import { DrillPage } from "./drill_page.js";
import { CLOCK_EVENTS, RegulatoryPanel } from "./regulatory.js";
import { SCORE_EVENTS, scorePanel } from "./scores.js";
import { attachmentsOf } from "./attachments.js";
import { PublicFeed } from "./feed.js";
import { Threads } from "./white_cell.js";

const root = document.getElementById("console");
const drillId = root.dataset.drillId;
const objectives = JSON.parse(root.dataset.objectives);
const page = new DrillPage(drillId);
const clock = page.clock;
const who = (id) => page.who(id);

let context = { injects: {}, decisions: {}, expectations: {}, upcoming: [], required_roles: [], unfilled_required: [], out_of_reach: {} };
const people = new Map(); // participant id -> {name, role}
let online = new Set();
const open = new Map(); // decision id -> {data, answers: [{role, by, option}], countdown, node}

function nameOf(actor) {
  if (actor === "facilitator") return "Facilitator";
  if (actor.startsWith("facilitator:")) return `Facilitator (${actor.slice(12)})`;
  if (actor === "system") return "Clock";
  return people.get(actor)?.name || "Someone";
}

const prompt = (id) => context.decisions[id]?.prompt || "a decision";
const option = (decision, id) => context.decisions[decision]?.options[id] || id;

// The feed's stripe for each kind of event; what it says is the server's (the description
// sent with each event, from app/engine/timeline.describe).
const KIND = {
  participant_joined: "people", participant_left: "people", role_available: "people", feedback_given: "people",
  clock_started: "clock", clock_paused: "clock", clock_resumed: "clock", clock_speed_changed: "clock", clock_jumped: "clock",
  inject_delivered: "inject", inject_skipped: "muted",
  decision_opened: "decision", decision_answered: "decision", decision_closed: "decision", decision_timed_out: "warn",
  role_unavailable: "warn", expectation_missed: "warn",
  message_sent: "message", note_added: "note", drill_ended: "end",
  party_replied: "message", reply_suggested: "muted", reply_skipped: "muted", feed_posted: "inject",
  expectation_met: "score", scores_released: "score", score_adjusted: "score",
};

/** People's own words an event carries, shown as written under the server's line. */
function wordsOf(e) {
  const d = e.data;
  switch (e.type) {
    case "message_sent": return d.body;
    case "party_replied": return d.body;
    case "feed_posted": return d.text;
    case "decision_answered": return d.rationale ? `Why: ${d.rationale}` : "";
    case "feedback_given": return `Confidence ${d.confidence} of 5\nWent well: ${d.went_well || "—"}\nImprove: ${d.improve || "—"}`;
    default: return "";
  }
}

/** The roles an event concerns, for the feed's role filter. */
function rolesOf(e) {
  const d = e.data;
  const list = (value) => (Array.isArray(value) ? value : []); // clock_jumped's `to` is a time
  const found = new Set([d.role, d.from_role, d.answered_by_role, d.backup, ...list(d.to), ...list(d.recipients), ...list(d.roles)]);
  const person = people.get(e.actor);
  if (person?.role) found.add(person.role);
  return [...found].filter((r) => r && page.roles[r]);
}

function addToFeed(e, description) {
  const li = el("li", `feed-item kind-${KIND[e.type] || "system"}`);
  li.dataset.type = e.type;
  li.dataset.roles = rolesOf(e).join(" ");
  li.dataset.channel = e.data.channel || "";
  const meta = el("div", "feed-meta");
  meta.append(el("span", "time", tplus(e.scenario_time)), el("span", "actor", nameOf(e.actor)));
  // The server tells every event but bookkeeping, which goes by its name.
  li.append(meta, el("p", "headline", description ?? e.type.replaceAll("_", " ")));
  const words = wordsOf(e);
  if (words) li.append(el("p", "detail", words));
  if (e.type === "inject_delivered" && e.data.body_html) {
    const body = el("div", "detail markdown");
    body.innerHTML = e.data.body_html; // rendered and sanitised (nh3) on the server
    li.append(body);
  }
  const files = e.type === "inject_delivered" ? attachmentsOf(drillId, e) : null;
  if (files) li.append(files);
  const guide = e.type === "inject_delivered" ? context.injects[e.data.inject_id] : null;
  if (guide && (guide.notes_html || guide.questions.length)) li.append(facilitatorNotes(guide));
  applyFilter(li);
  $("feed").prepend(li);
}

// What the scenario tells the facilitator about an inject, shown as it fires.
function facilitatorNotes(guide) {
  const box = el("div", "facilitator-note");
  box.append(el("p", "eyebrow", "For you"));
  if (guide.notes_html) {
    const notes = el("div", "markdown");
    notes.innerHTML = guide.notes_html; // sanitised on the server
    box.append(notes);
  }
  if (guide.questions.length) {
    box.append(el("p", "small", "Ask the room:"));
    const list = el("ul", "questions");
    for (const q of guide.questions) list.append(el("li", "", q));
    box.append(list);
  }
  return box;
}

function applyFilter(li) {
  const role = $("feed-role").value;
  const channel = $("feed-channel").value;
  const byRole = !role || li.dataset.roles.split(" ").includes(role);
  const byChannel = !channel || li.dataset.channel === channel;
  li.hidden = !(byRole && byChannel);
}
for (const id of ["feed-role", "feed-channel"]) {
  $(id).addEventListener("change", () => { for (const li of $("feed").children) applyFilter(li); });
}

// ---------------------------------------------------------------- open decisions

function openDecision(e) {
  const d = e.data;
  const { item: node, head, countdown } = page.decisionItem(d, "open-decision", () => {}, prompt(d.decision_id));
  head.prepend(el("h3", "prompt", prompt(d.decision_id)));
  const answers = el("ul", "answers");
  node.append(head, answers);
  $("open-decisions").append(node);
  open.set(d.decision_id, { data: d, answers: [], countdown, node, list: answers });
  renderAnswers(d.decision_id);
  countdown.update();
}

function renderAnswers(id) {
  const dec = open.get(id);
  if (!dec) return;
  dec.list.replaceChildren();
  for (const role of dec.data.roles) {
    const given = dec.answers.find((a) => a.role === role);
    const li = el("li", given ? "answered" : "waiting");
    li.append(el("span", "role", who(role)));
    li.append(el("span", "muted small", given ? `${given.by}: “${option(id, given.option)}”` : "waiting"));
    dec.list.append(li);
  }
  $("open-decisions-empty").hidden = open.size > 0;
}

function closeDecision(id) {
  const dec = open.get(id);
  if (!dec) return;
  dec.node.remove();
  open.delete(id);
  $("open-decisions-empty").hidden = open.size > 0;
}

function trackDecision(e) {
  const d = e.data;
  if (e.type === "decision_opened") openDecision(e);
  if (e.type === "decision_answered") {
    const dec = open.get(d.decision_id);
    if (!dec) return;
    dec.answers.push({ role: d.role, by: nameOf(e.actor), option: d.option_id });
    renderAnswers(d.decision_id);
    // One answer decides, unless each role answers for itself (decision_closed then ends it).
    if (!context.decisions[d.decision_id]?.per_role) closeDecision(d.decision_id);
  }
  if (e.type === "decision_timed_out" || e.type === "decision_closed") closeDecision(d.decision_id);
}

// ---------------------------------------------------------------- up next

function renderUpNext() {
  const list = $("upnext");
  list.replaceChildren();
  const ended = clock.status === "ended";
  for (const item of ended ? [] : context.upcoming) {
    const li = el("li", "upnext-item");
    li.dataset.inject = item.inject_id;
    const when = el("p", "upnext-when");
    when.append(el("span", "time", tplus(item.due)), el("span", "muted small", ` ${clock.label(item.due)}`));
    const inReal = el("span", "upnext-real muted small");
    inReal.dataset.due = item.due;
    when.append(inReal);
    li.append(when, el("p", "upnext-title", item.title));
    li.append(el("p", "muted small", `${item.channel} → ${item.to.join(", ")}${item.conditional ? " · only if its condition holds then" : ""}`));
    const actions = el("div", "upnext-actions");
    const fire = el("button", "", "Fire now");
    fire.type = "button";
    fire.addEventListener("click", () => run({ type: "fire_inject", inject_id: item.inject_id }));
    const skip = el("button", "link", "Skip");
    skip.type = "button";
    skip.addEventListener("click", () => {
      if (confirm(`Skip “${item.title}”? It will not arrive.`)) run({ type: "skip_inject", inject_id: item.inject_id });
    });
    actions.append(fire, skip);
    if (!item.before_start) li.append(actions); // before the start nothing is on the clock yet
    list.append(li);
  }
  $("upnext-empty").hidden = list.childElementCount > 0;
  $("upnext-empty").textContent = ended ? "The drill has ended." : "Nothing is scheduled: what comes next follows the team's decisions and messages.";
  $("upnext-note").hidden = !context.upcoming.some((item) => item.before_start) || ended;
  tickUpNext();
}

function tickUpNext() {
  for (const span of document.querySelectorAll(".upnext-real")) {
    const real = clock.realSecondsUntil(Number(span.dataset.due));
    span.textContent = real === null ? "" : real > 0 ? ` · in ${formatCountdown(real)}${clock.status === "paused" ? " (paused)" : ""}` : " · due now";
  }
}

// The schedule changes with what happens: ask for a fresh snapshot (it carries it) soon after.
let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => page.resync(), 250);
}
const RESCHEDULES = new Set(["clock_started", "clock_jumped", "inject_delivered", "inject_skipped", "decision_answered", "decision_timed_out", "decision_closed", "message_sent", "role_unavailable", "role_available", "participant_joined", "participant_left", "drill_ended"]);

// ---------------------------------------------------------------- roles and roster

function renderRoles() {
  const list = $("role-list");
  list.replaceChildren();
  const playing = new Map();
  for (const [, p] of people) if (p.role && p.present !== false) playing.set(p.role, (playing.get(p.role) || 0) + 1);
  for (const [id, title] of Object.entries(page.roles)) {
    const n = playing.get(id) || 0;
    const required = context.required_roles.includes(id);
    const li = el("li", n ? "filled" : "unfilled");
    li.append(el("span", "role", title));
    if (required) li.append(el("span", "tag", "required"));
    li.append(el("span", "muted small", n ? `${n} playing` : "nobody yet"));
    const actor = context.out_of_reach?.[id];
    if (actor) li.append(el("span", "away small", `out of reach in the story${actor !== id ? `: ${who(actor)} acts` : ""}`));
    list.append(li);
  }
  const missing = context.unfilled_required.map(who);
  $("unfilled-note").hidden = !missing.length || clock.status !== "new" && clock.status !== "lobby";
  $("unfilled-note").textContent = missing.length ? `Nobody plays ${missing.join(", ")} yet, which this scenario needs. Ask someone to join as it, or start without and confirm.` : "";
}

// The outside world: the facilitator may answer as any party (the snapshot names them).
let threads = null;
const feed = new PublicFeed($("public-feed"), $("pressure"), $("public-feed-empty"));
const pendingThreadEvents = [];

function outsideWorld(e) {
  feed.add(e);
  if (threads) threads.event(e);
  else pendingThreadEvents.push(e);
}

function track(e) {
  const d = e.data;
  outsideWorld(e);
  if (e.type === "participant_joined") people.set(d.participant_id, { name: d.name, role: d.role, parties: d.parties || [] });
  if (e.type === "participant_left" && people.has(d.participant_id)) people.get(d.participant_id).present = false;
  if (SCORE_EVENTS.has(e.type)) scores.soon();
  if (CLOCK_EVENTS.has(e.type)) regulatory?.soon();
  if (e.type === "scores_released") releasedNow();
  if (e.type.startsWith("clock_") || e.type === "drill_ended") setStatus(clock.status);
  trackDecision(e);
  if (RESCHEDULES.has(e.type)) refreshSoon();
}

function renderRoster() {
  const list = $("roster");
  list.replaceChildren();
  for (const [id, p] of people) {
    const here = online.has(id);
    const li = el("li", here ? "online" : "offline");
    li.dataset.participant = id;
    li.append(el("span", "dot"), el("span", "name", p.name), el("span", "muted small", p.role ? who(p.role) : p.parties?.length ? `White cell: ${p.parties.map(who).join(", ")}` : "Observer"),
      el("span", "sr-only presence", here ? "online" : "offline"));
    if (p.present !== false) li.append(removeButton(id, p.name));
    list.append(li);
  }
  $("roster-empty").hidden = people.size > 0;
  $("online-count").textContent = `${[...people.keys()].filter((id) => online.has(id)).length} of ${people.size} online`;
  renderRoles();
}

// Taking someone off the roster: their token dies and their sockets close (4001); the
// participant_left event that follows updates the roster.
function removeButton(id, name) {
  const button = el("button", "link small remove", "Remove");
  button.type = "button";
  button.setAttribute("aria-label", `Remove ${name} from the drill`);
  button.addEventListener("click", async () => {
    if (!window.confirm(`Remove ${name}? Their page closes; they may join again as someone new.`)) return;
    const response = await fetch(`/api/drills/${encodeURIComponent(drillId)}/participants/${encodeURIComponent(id)}`,
      { method: "DELETE", credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok && response.status !== 404) {
      const body = await response.json().catch(() => ({}));
      window.alert(body.detail || `Could not remove ${name} (${response.status}).`);
    }
  });
  return button;
}

// The server's scorecard, fetched on load and again shortly after anything that scores.
const scores = scorePanel(drillId, () => objectives);

// The regulatory clocks, where the scenario plays a regime this page may see.
const regulatory = $("regulatory")
  ? new RegulatoryPanel(drillId, $("regulatory"), clock, errorBox($("regulatory-error")), 300, (body, show) => page.send(body, show))
  : null;

function releasedNow() {
  $("released").hidden = false;
  document.querySelector("[data-cmd=release_scores]").hidden = true;
}

function setStatus(status) {
  const node = $("status");
  node.textContent = status;
  node.className = `status status-${status}`;
  for (const b of document.querySelectorAll("[data-cmd]")) {
    const cmd = b.dataset.cmd;
    const ended = status === "ended";
    b.disabled =
      (cmd === "start" && status !== "new" && status !== "lobby") ||
      (cmd === "pause" && status !== "running") ||
      (cmd === "resume" && status !== "paused") ||
      ((cmd === "jump" || cmd === "end") && ended);
  }
  // After the end only notes still make sense (for the debrief).
  for (const c of document.querySelectorAll("#speed-form *, #inject-form button")) c.disabled = status === "ended";
  $("speed-now").textContent = `×${clock.speed}`;
  pauseBanner($("paused"), clock);
  $("report-link").hidden = status !== "ended";
}

// One box for every control's refusal: each message goes again after a few seconds.
const showError = errorBox($("cmd-error"), 6000);

function run(body) {
  page.send(body, (err) => {
    if (err.code === "required_roles_unfilled" && body.type === "start") {
      if (confirm(`${err.message}.\n\nStart anyway? The report will say these roles were empty.`)) {
        run({ type: "start", confirm_unfilled: true });
      }
      return;
    }
    showError(err);
  });
}

for (const b of document.querySelectorAll("[data-cmd]")) {
  b.addEventListener("click", () => {
    const cmd = b.dataset.cmd;
    if (cmd === "end") {
      if (!confirm("End the drill for everyone?")) return;
      run({ type: "end", reason: "ended by the facilitator" });
    } else {
      run({ type: cmd });
    }
  });
}

$("speed-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run({ type: "set_speed", speed: Number($("speed").value) });
});

page.form($("inject-form"), {
  command: (data) => {
    const to = data.getAll("to");
    if (!to.length) throw new Error("Choose at least one recipient for the inject.");
    return { type: "manual_inject", title: data.get("title"), body: data.get("body"), to, channel: data.get("channel"), severity: data.get("severity") };
  },
  sent: (form) => form.reset(),
  show: showError,
});

page.form($("adjust-form"), {
  command: (data) => ({
    type: "adjust_score",
    objective_id: data.get("objective_id"),
    points: Number(data.get("points")),
    reason: data.get("reason"),
    role: data.get("role") || null,
  }),
  sent: (form) => {
    form.elements.points.value = "";
    form.elements.reason.value = "";
    scores.now();
  },
  show: showError,
});

page.form($("note-form"), {
  command: (data) => ({ type: "note", text: data.get("text"), objective_id: data.get("objective_id") || null }),
  sent: (form) => form.reset(),
  show: showError,
});

page.connect({
  snapshot: (drill) => {
    if (!threads && Object.keys(drill.parties).length) {
      threads = new Threads($("threads"), drill.parties, (body, show) => page.send(body, show), who);
      for (const e of pendingThreadEvents.splice(0)) threads.event(e);
    }
    context = { ...context, ...drill };
    if (drill.scores_released) releasedNow();
    setStatus(drill.status);
    if (context.guide_html && !$("guide").childElementCount) {
      $("guide").innerHTML = context.guide_html; // the scenario's notes, sanitised on the server
      $("guide-card").hidden = false;
    }
    renderUpNext();
    renderRoles();
  },
  event: (e, description) => {
    track(e);
    addToFeed(e, description);
    renderRoster();
  },
  presence: (ids) => {
    online = new Set(ids);
    renderRoster();
  },
  error: showError,
  tick: (now) => {
    $("scenario-clock").textContent = clock.label(now);
    $("scenario-elapsed").textContent = tplus(now);
    $("wall-clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    for (const dec of open.values()) dec.countdown.update();
    tickUpNext();
    regulatory?.tick();
    threads?.tick(now);
    feed.tick(now);
  },
});
scores.now();
regulatory?.now();
