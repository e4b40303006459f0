// The facilitator console: clock controls, the guide, open decisions and who has answered,
// the injects up next (fire now, skip), roles and roster with presence, the live feed with
// filters, and the scores.
import { SCORE_EVENTS, scorePanel } from "./scores.js";
import { Countdown, DrillSocket, ScenarioClock, el, elapsed, pauseBanner, setConn, tplus } from "./ws.js";

const root = document.getElementById("console");
const drillId = root.dataset.drillId;
const objectives = JSON.parse(root.dataset.objectives);
const clock = new ScenarioClock();
const $ = (id) => document.getElementById(id);

let roles = {};
let parties = {};
let context = { injects: {}, decisions: {}, expectations: {}, upcoming: [], required_roles: [], unfilled_required: [] };
const people = new Map(); // participant id -> {name, role}
let online = new Set();
const open = new Map(); // decision id -> {data, answers: [{role, by, option}], countdown, node}

function nameOf(actor) {
  if (actor === "facilitator") return "Facilitator";
  if (actor.startsWith("facilitator:")) return `Facilitator (${actor.slice(12)})`;
  if (actor === "system") return "Clock";
  return people.get(actor)?.name || "Someone";
}

function who(id) {
  return roles[id] || parties[id] || (id === "all" ? "Everyone" : id);
}

const prompt = (id) => context.decisions[id]?.prompt || "a decision";
const option = (decision, id) => context.decisions[decision]?.options[id] || id;
const injectTitle = (id) => context.injects[id]?.title || "an inject";
const expectation = (id) => context.expectations[id] || "an expected message";

function endedWhy(d) {
  if (d.why) return d.why;
  return /^(inject|option) \S+/.test(d.reason || "") ? "the story is over" : d.reason;
}

/** A line for the feed: [kind, headline, detail]; names and titles, never ids. */
function describe(e) {
  const d = e.data;
  switch (e.type) {
    case "drill_created": return ["system", "Drill created", ""];
    case "participant_joined": return ["people", `${d.name} joined`, d.role ? who(d.role) : "Observer"];
    case "participant_left": return ["people", `${nameOf(d.participant_id)} left`, ""];
    case "clock_started": return ["clock", "Clock started", d.unfilled_required ? `×${d.speed}, without ${d.unfilled_required.map(who).join(", ")}` : `×${d.speed}`];
    case "clock_paused": return ["clock", "Clock paused", ""];
    case "clock_resumed": return ["clock", "Clock resumed", ""];
    case "clock_speed_changed": return ["clock", `Speed ×${d.speed}`, `was ×${d.previous}`];
    case "clock_jumped": return ["clock", "Jumped ahead", `${tplus(d.from)} → ${tplus(d.to)}`];
    case "inject_delivered": {
      const how = d.manual ? "Manual inject" : d.fired_by_facilitator ? "Inject (fired now)" : "Inject";
      return ["inject", `${how}: ${d.title}`, `${d.channel} · ${d.severity} → ${d.to.map(who).join(", ")}`];
    }
    case "inject_skipped": {
      const why = { suppressed: "an earlier choice ruled it out", condition: "its condition was false", facilitator: "skipped by you" }[d.reason] || d.reason;
      return ["muted", `Skipped: ${injectTitle(d.inject_id)}`, why];
    }
    case "decision_opened": return ["decision", `Decision: ${prompt(d.decision_id)}`, `for ${d.roles.map(who).join(", ")} · due ${tplus(d.deadline)}`];
    case "decision_answered": return ["decision", `${who(d.answered_by_role)} chose “${option(d.decision_id, d.option_id)}”`, `${prompt(d.decision_id)}${d.rationale ? `\nWhy: ${d.rationale}` : ""}`];
    case "decision_timed_out": return ["warn", `Not answered: default applied (${option(d.decision_id, d.option_id)})`, prompt(d.decision_id)];
    case "decision_closed": return ["decision", `Closed: ${prompt(d.decision_id)}`, ""];
    case "role_unavailable": return ["warn", `${who(d.role)} unavailable`, d.backup ? `${who(d.backup)} acts for them` : ""];
    case "role_available": return ["people", `${who(d.role)} available again`, ""];
    case "message_sent": {
      const blanks = d.blanks?.length ? `\nSent with blanks: ${d.blanks.join(", ")}` : "";
      return ["message", `${who(d.from_role)} → ${d.to.map(who).join(", ")}${d.subject ? `: ${d.subject}` : ""}`, `${d.body}${blanks}`];
    }
    case "expectation_met": return ["score", `Met ${d.status === "on_time" ? "on time" : "late"}: ${expectation(d.expectation_id)}`, `+${d.points} points`];
    case "expectation_missed": return ["warn", `Missed: ${expectation(d.expectation_id)}`, ""];
    case "note_added": return ["note", "Note", d.text];
    case "scores_released": return ["score", "Scores released", ""];
    case "score_adjusted": {
      const signed = d.points > 0 ? `+${d.points}` : String(d.points);
      const about = d.role ? ` · ${who(d.role)}` : "";
      return ["score", `Score adjusted: ${objectives[d.objective_id] || "an objective"} ${signed}${about}`, d.reason];
    }
    case "feedback_given":
      return ["people", `${nameOf(d.participant_id)} sent their hot-wash answers`,
        `Confidence ${d.confidence} of 5\nWent well: ${d.went_well || "—"}\nImprove: ${d.improve || "—"}`];
    case "drill_ended": return ["end", "Drill ended", endedWhy(d)];
    default: return ["system", e.type.replaceAll("_", " "), ""];
  }
}

/** The roles an event concerns, for the feed's role filter. */
function rolesOf(e) {
  const d = e.data;
  const list = (value) => (Array.isArray(value) ? value : []); // clock_jumped's `to` is a time
  const found = new Set([d.role, d.from_role, d.answered_by_role, d.backup, ...list(d.to), ...list(d.recipients), ...list(d.roles)]);
  const person = people.get(e.actor);
  if (person?.role) found.add(person.role);
  return [...found].filter((r) => r && roles[r]);
}

function addToFeed(e) {
  const [kind, headline, detail] = describe(e);
  const li = el("li", `feed-item kind-${kind}`);
  li.dataset.type = e.type;
  li.dataset.roles = rolesOf(e).join(" ");
  li.dataset.channel = e.data.channel || "";
  const meta = el("div", "feed-meta");
  meta.append(el("span", "time", tplus(e.scenario_time)), el("span", "actor", nameOf(e.actor)));
  li.append(meta, el("p", "headline", headline));
  if (detail) li.append(el("p", "detail", detail));
  if (e.type === "inject_delivered" && e.data.body_html) {
    const body = el("div", "detail markdown");
    body.innerHTML = e.data.body_html; // rendered and sanitised (nh3) on the server
    li.append(body);
  }
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
  const node = el("li", "open-decision");
  node.dataset.decision = d.decision_id;
  const head = el("div", "decision-head");
  const timer = el("span", "countdown");
  head.append(el("h3", "prompt", prompt(d.decision_id)), timer);
  const answers = el("ul", "answers");
  node.append(head, answers);
  $("open-decisions").append(node);
  const countdown = new Countdown(timer, clock, d.deadline, () => {}, prompt(d.decision_id));
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
    li.append(actions);
    list.append(li);
  }
  $("upnext-empty").hidden = list.childElementCount > 0;
  $("upnext-empty").textContent = ended ? "The drill has ended." : "Nothing is scheduled: what comes next follows the team's decisions and messages.";
  tickUpNext();
}

function tickUpNext() {
  for (const span of document.querySelectorAll(".upnext-real")) {
    const real = clock.realSecondsUntil(Number(span.dataset.due));
    span.textContent = real === null ? "" : real > 0 ? ` · in ${elapsed(real)}${clock.status === "paused" ? " (paused)" : ""}` : " · due now";
  }
}

// The schedule changes with what happens: ask for a fresh snapshot (it carries it) soon after.
let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => socket.resync(), 250);
}
const RESCHEDULES = new Set(["clock_started", "clock_jumped", "inject_delivered", "inject_skipped", "decision_answered", "decision_timed_out", "decision_closed", "message_sent", "role_unavailable", "role_available", "participant_joined", "participant_left", "drill_ended"]);

// ---------------------------------------------------------------- roles and roster

function renderRoles() {
  const list = $("role-list");
  list.replaceChildren();
  const playing = new Map();
  for (const [, p] of people) if (p.role && p.present !== false) playing.set(p.role, (playing.get(p.role) || 0) + 1);
  for (const [id, title] of Object.entries(roles)) {
    const n = playing.get(id) || 0;
    const required = context.required_roles.includes(id);
    const li = el("li", n ? "filled" : "unfilled");
    li.append(el("span", "role", title));
    if (required) li.append(el("span", "tag", "required"));
    li.append(el("span", "muted small", n ? `${n} playing` : "nobody yet"));
    list.append(li);
  }
  const missing = context.unfilled_required.map(who);
  $("unfilled-note").hidden = !missing.length || clock.status !== "new" && clock.status !== "lobby";
  $("unfilled-note").textContent = missing.length ? `Nobody plays ${missing.join(", ")} yet, which this scenario needs. Ask someone to join as it, or start without and confirm.` : "";
}

function track(e) {
  const d = e.data;
  if (e.type === "participant_joined") people.set(d.participant_id, { name: d.name, role: d.role });
  if (e.type === "participant_left" && people.has(d.participant_id)) people.get(d.participant_id).present = false;
  if (SCORE_EVENTS.has(e.type)) scores.soon();
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
    li.append(el("span", "dot"), el("span", "name", p.name), el("span", "muted small", p.role ? who(p.role) : "Observer"),
      el("span", "sr-only presence", here ? "online" : "offline"));
    list.append(li);
  }
  $("roster-empty").hidden = people.size > 0;
  $("online-count").textContent = `${[...people.keys()].filter((id) => online.has(id)).length} of ${people.size} online`;
  renderRoles();
}

// The server's scorecard, fetched on load and again shortly after anything that scores.
const scores = scorePanel(drillId, () => objectives);

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

function showError(err) {
  const box = $("cmd-error");
  box.textContent = err.message;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 6000);
}

const socket = new DrillSocket(drillId, {
  status: (s, reason) => setConn($("conn"), s, reason),
  snapshot: (msg) => {
    roles = msg.drill.roles;
    parties = msg.drill.parties;
    context = { ...context, ...msg.drill };
    clock.fromSnapshot(msg.drill.clock);
    if (msg.drill.scores_released) releasedNow();
    setStatus(msg.drill.status);
    if (context.guide_html && !$("guide").childElementCount) {
      $("guide").innerHTML = context.guide_html; // the scenario's notes, sanitised on the server
      $("guide-card").hidden = false;
    }
    renderUpNext();
    renderRoles();
  },
  synced: () => tick(),
  event: (e) => {
    clock.onEvent(e);
    track(e);
    addToFeed(e);
    renderRoster();
  },
  presence: (ids) => {
    online = new Set(ids);
    renderRoster();
  },
  error: showError,
});

async function run(body) {
  try {
    await socket.send(body);
  } catch (err) {
    if (err.code === "required_roles_unfilled" && body.type === "start") {
      if (confirm(`${err.message}.\n\nStart anyway? The report will say these roles were empty.`)) {
        run({ type: "start", confirm_unfilled: true });
      }
      return;
    }
    showError(err);
  }
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

$("inject-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const data = new FormData(form);
  const to = data.getAll("to");
  if (!to.length) { showError(new Error("Choose at least one recipient for the inject.")); return; }
  try {
    await socket.send({ type: "manual_inject", title: data.get("title"), body: data.get("body"), to, channel: data.get("channel"), severity: data.get("severity") });
    form.reset();
  } catch (err) { showError(err); }
});

$("adjust-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const data = new FormData(form);
  try {
    await socket.send({
      type: "adjust_score",
      objective_id: data.get("objective_id"),
      points: Number(data.get("points")),
      reason: data.get("reason"),
      role: data.get("role") || null,
    });
    form.elements.points.value = "";
    form.elements.reason.value = "";
    scores.now();
  } catch (err) { showError(err); }
});

$("note-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const data = new FormData(form);
  try {
    await socket.send({ type: "note", text: data.get("text"), objective_id: data.get("objective_id") || null });
    form.reset();
  } catch (err) { showError(err); }
});

function tick() {
  const now = clock.now();
  $("scenario-clock").textContent = clock.label(now);
  $("scenario-elapsed").textContent = tplus(now);
  $("wall-clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  for (const dec of open.values()) dec.countdown.update();
  tickUpNext();
}
setInterval(tick, 500);
tick();
scores.now();
