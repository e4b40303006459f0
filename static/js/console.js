// The facilitator console: clock controls, lobby, roster with presence, live feed, scores.
import { SCORE_EVENTS, scorePanel } from "./scores.js";
import { DrillSocket, ScenarioClock, el, elapsed, setConn } from "./ws.js";

const root = document.getElementById("console");
const drillId = root.dataset.drillId;
const objectives = JSON.parse(root.dataset.objectives);
const clock = new ScenarioClock();
const $ = (id) => document.getElementById(id);

let roles = {};
let parties = {};
const people = new Map(); // participant id -> {name, role}
let online = new Set();

function nameOf(actor) {
  if (actor === "facilitator") return "Facilitator";
  if (actor.startsWith("facilitator:")) return `Facilitator (${actor.slice(12)})`;
  if (actor === "system") return "Clock";
  return people.get(actor)?.name || "Someone";
}

function who(id) {
  return roles[id] || parties[id] || (id === "all" ? "Everyone" : id);
}

/** A line for the feed: [kind, headline, detail]. */
function describe(e) {
  const d = e.data;
  switch (e.type) {
    case "drill_created": return ["system", "Drill created", ""];
    case "participant_joined": return ["people", `${d.name} joined`, d.role ? roles[d.role] || d.role : "Observer"];
    case "participant_left": return ["people", `${nameOf(d.participant_id)} left`, ""];
    case "clock_started": return ["clock", "Clock started", `×${d.speed}`];
    case "clock_paused": return ["clock", "Clock paused", ""];
    case "clock_resumed": return ["clock", "Clock resumed", ""];
    case "clock_speed_changed": return ["clock", `Speed ×${d.speed}`, `was ×${d.previous}`];
    case "clock_jumped": return ["clock", "Jumped ahead", `T+${elapsed(d.from)} → T+${elapsed(d.to)}`];
    case "inject_delivered": return ["inject", `${d.manual ? "Manual inject" : "Inject"}: ${d.title}`, `${d.channel} · ${d.severity} → ${d.to.map(who).join(", ")}\n${d.body}`];
    case "inject_skipped": return ["muted", `Skipped inject ${d.inject_id}`, d.reason];
    case "decision_opened": return ["decision", `Decision: ${d.prompt}`, `for ${d.to.map(who).join(", ")} · due T+${elapsed(d.deadline)}`];
    case "decision_answered": return ["decision", `${who(d.answered_by_role)} answered ${d.decision_id}: ${d.option_id}`, d.rationale || ""];
    case "decision_timed_out": return ["warn", `${d.decision_id} timed out`, `default: ${d.option_id}`];
    case "decision_closed": return ["decision", `${d.decision_id} closed`, ""];
    case "role_unavailable": return ["warn", `${who(d.role)} unavailable`, d.backup ? `backup: ${who(d.backup)}` : ""];
    case "role_available": return ["people", `${who(d.role)} available again`, ""];
    case "message_sent": return ["message", `${who(d.from_role)} → ${d.to.map(who).join(", ")}${d.subject ? ": " + d.subject : ""}`, d.body];
    case "expectation_met": return ["score", `Expectation met (${d.status})`, `${d.expectation_id}: +${d.points}`];
    case "expectation_missed": return ["warn", "Expectation missed", d.expectation_id];
    case "note_added": return ["note", "Note", d.text];
    case "scores_released": return ["score", "Scores released", ""];
    case "score_adjusted": {
      const signed = d.points > 0 ? `+${d.points}` : String(d.points);
      const about = d.role ? ` · ${who(d.role)}` : "";
      return ["score", `Score adjusted: ${objectives[d.objective_id] || d.objective_id} ${signed}${about}`, d.reason];
    }
    case "feedback_given":
      return ["people", `${nameOf(d.participant_id)} sent their hot-wash answers`,
        `Confidence ${d.confidence} of 5\nWent well: ${d.went_well || "—"}\nImprove: ${d.improve || "—"}`];
    case "drill_ended": return ["end", "Drill ended", d.reason];
    default: return ["system", e.type, ""];
  }
}

function addToFeed(e) {
  const [kind, headline, detail] = describe(e);
  const li = el("li", `feed-item kind-${kind}`);
  li.dataset.type = e.type;
  const meta = el("div", "feed-meta");
  meta.append(el("span", "time", `T+${elapsed(e.scenario_time)}`), el("span", "actor", nameOf(e.actor)));
  li.append(meta, el("p", "headline", headline));
  if (detail) li.append(el("p", "detail", detail));
  $("feed").prepend(li);
}

function track(e) {
  const d = e.data;
  if (e.type === "participant_joined") people.set(d.participant_id, { name: d.name, role: d.role });
  if (SCORE_EVENTS.has(e.type)) scores.soon();
  if (e.type === "scores_released") releasedNow();
  if (e.type.startsWith("clock_") || e.type === "drill_ended") setStatus(clock.status);
}

function renderRoster() {
  const list = $("roster");
  list.replaceChildren();
  for (const [id, p] of people) {
    const here = online.has(id);
    const li = el("li", here ? "online" : "offline");
    li.dataset.participant = id;
    li.append(el("span", "dot"), el("span", "name", p.name), el("span", "muted small", p.role ? roles[p.role] || p.role : "Observer"),
      el("span", "sr-only presence", here ? "online" : "offline"));
    list.append(li);
  }
  $("roster-empty").hidden = people.size > 0;
  $("online-count").textContent = `${[...people.keys()].filter((id) => online.has(id)).length} of ${people.size} online`;
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
    clock.fromSnapshot(msg.drill.clock);
    if (msg.drill.scores_released) releasedNow();
    setStatus(msg.drill.status);
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
  $("scenario-elapsed").textContent = `T+${elapsed(now)}`;
  $("wall-clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
setInterval(tick, 500);
tick();
scores.now();
