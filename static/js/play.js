// The participant screen: inbox, decisions with a countdown, composer, sent messages; after
// the end the hot-wash form and, once the facilitator releases them, the team's scores.
import { SCORE_EVENTS, scorePanel } from "./scores.js";
import { DrillSocket, ScenarioClock, el, elapsed, setConn } from "./ws.js";

const root = document.getElementById("play");
const drillId = root.dataset.drillId;
const myRole = root.dataset.role || null;
const me = root.dataset.me;
const options = JSON.parse(root.dataset.decisions);
const clock = new ScenarioClock();
const $ = (id) => document.getElementById(id);
const readKey = `tt-read-${drillId}`;
const read = new Set(JSON.parse(localStorage.getItem(readKey) || "[]"));

let roles = {};
let parties = {};
let statements = [];
let objectives = {};
let live = false; // after the first snapshot: what arrives now is news
let released = false; // scores released: participants may see them
let answered = false; // this participant's hot-wash answers are in
const decisions = new Map(); // decision id -> {deadline, node, closed}

const CHANNEL = {
  email: "email", letter: "email", ticket: "email",
  phone: "call", meeting: "call", sms: "chat", chat: "chat",
  siem: "alert", edr: "alert",
  news: "post", social: "post",
};

function who(id) {
  return roles[id] || parties[id] || (id === "all" ? "Everyone" : id);
}

function markRead(li, seq) {
  if (!li.classList.contains("unread")) return;
  li.classList.remove("unread");
  li.querySelector(".unread-label")?.remove();
  read.add(seq);
  localStorage.setItem(readKey, JSON.stringify([...read]));
  updateUnread();
}

function updateUnread() {
  const n = document.querySelectorAll("#inbox .unread").length;
  const badge = $("unread");
  badge.hidden = n === 0;
  badge.textContent = `${n} new`;
}

function announce(text) {
  $("announce").textContent = text;
}

function inboxItem(e, style, from, subject, body, severity, channel, bodyHtml = null) {
  const li = el("li", `msg msg-${style}`);
  li.dataset.seq = e.seq;
  li.tabIndex = 0;
  const head = el("div", "msg-head");
  if (style === "alert") {
    head.append(el("span", `sev sev-${severity}`, severity), el("span", "channel", channel.toUpperCase()));
  } else if (style === "call") {
    head.append(el("span", "channel", channel === "meeting" ? "Meeting" : "Phone call"));
  } else if (style === "post") {
    head.append(el("span", "channel", channel === "news" ? "News" : "Social"));
  } else {
    head.append(el("span", "channel", channel === "chat" || channel === "sms" ? "Message" : "Email"));
  }
  head.append(el("span", "time", `T+${elapsed(e.scenario_time)}`));
  li.append(head);
  if (style === "email" || style === "chat") {
    const meta = el("dl", "envelope");
    if (from) meta.append(el("dt", "", "From"), el("dd", "", from));
    meta.append(el("dt", "", "Subject"), el("dd", "", subject || "(no subject)"));
    li.append(meta);
  } else {
    if (from) li.append(el("p", "from", from));
    li.append(el("h3", "subject", subject));
  }
  if (bodyHtml !== null) {
    // Scenario Markdown, rendered and sanitised (nh3) on the server.
    const div = el("div", "body markdown");
    div.innerHTML = bodyHtml;
    li.append(div);
  } else {
    li.append(el("p", "body", body)); // people's own words: plain text, line breaks kept
  }
  if (live && !read.has(e.seq)) {
    li.classList.add("unread", "arrived");
    li.prepend(el("span", "unread-label", "New"));
    announce(`New ${style === "alert" ? "alert" : style}: ${subject}`);
  } else if (!read.has(e.seq)) {
    li.classList.add("unread");
    li.prepend(el("span", "unread-label", "New"));
  }
  li.addEventListener("click", () => markRead(li, e.seq));
  li.addEventListener("focus", () => markRead(li, e.seq));
  $("inbox").prepend(li);
  $("inbox-empty").hidden = true;
  updateUnread();
}

function onInject(e) {
  const d = e.data;
  const style = CHANNEL[d.channel] || "email";
  inboxItem(e, style, d.sender || "", d.title, d.body, d.severity, d.channel, d.body_html ?? null);
}

function onMessage(e) {
  const d = e.data;
  if (myRole && d.from_role === myRole) {
    const li = el("li", "sent-item");
    li.dataset.seq = e.seq;
    const head = el("div", "msg-head");
    head.append(el("span", "", `To ${d.to.map(who).join(", ")}`), el("span", "time", `T+${elapsed(e.scenario_time)}`));
    li.append(head);
    if (d.subject) li.append(el("p", "subject", d.subject));
    li.append(el("p", "body", d.body));
    $("sent")?.prepend(li);
    if ($("sent-empty")) $("sent-empty").hidden = true;
  } else {
    inboxItem(e, "email", who(d.from_role), d.subject, d.body, "info", "email");
  }
}

// Observers: notes by them, other observers and the facilitator, newest first.
function onNote(e) {
  const list = $("notes");
  if (!list) return;
  const d = e.data;
  const li = el("li", "sent-item note-item");
  li.dataset.seq = e.seq;
  li.dataset.type = e.type;
  const head = el("div", "msg-head");
  const author = e.actor === me ? "You" : e.actor.startsWith("facilitator") ? "Facilitator" : "Another observer";
  const about = d.objective_id ? ` · ${objectives[d.objective_id] || d.objective_id}` : "";
  head.append(el("span", "", `${author}${about}`), el("span", "time", `T+${elapsed(e.scenario_time)}`));
  li.append(head, el("p", "body", d.text));
  list.prepend(li);
  $("notes-empty").hidden = true;
}

function buildNoteForm() {
  const select = $("note-objective");
  if (!select || select.options.length > 1) return;
  for (const [id, title] of Object.entries(objectives)) {
    const o = el("option", "", title);
    o.value = id;
    select.append(o);
  }
}

function onDecisionOpened(e) {
  const d = e.data;
  const li = el("li", "decision open");
  li.dataset.decision = d.decision_id;
  const head = el("div", "decision-head");
  const countdown = el("span", "countdown", "");
  head.append(el("span", "eyebrow", "Decision"), countdown);
  li.append(head, el("h3", "prompt", d.prompt));
  const rationale = el("textarea", "rationale");
  rationale.rows = 2;
  rationale.placeholder = "Why? (optional)";
  rationale.setAttribute("aria-label", "Rationale");
  const buttons = el("div", "options");
  for (const o of options[d.decision_id] || []) {
    const b = el("button", "option", o.label);
    b.type = "button";
    b.dataset.option = o.id;
    b.addEventListener("click", () => answer(d.decision_id, o.id, rationale.value, li));
    buttons.append(b);
  }
  const status = el("p", "decision-status", "");
  status.setAttribute("role", "status");
  li.append(rationale, buttons, status);
  $("decisions").prepend(li);
  $("decisions-empty").hidden = true;
  decisions.set(d.decision_id, { deadline: d.deadline, node: li, countdown, status, closed: false });
  if (live) announce(`Decision needed: ${d.prompt}`);
}

function closeDecision(id, text) {
  const dec = decisions.get(id);
  if (!dec) return;
  dec.closed = true;
  dec.node.classList.replace("open", "closed");
  for (const b of dec.node.querySelectorAll("button, textarea")) b.disabled = true;
  dec.status.textContent = text;
  dec.countdown.textContent = "";
}

function optionLabel(decisionId, optionId) {
  return (options[decisionId] || []).find((o) => o.id === optionId)?.label || optionId;
}

async function answer(decisionId, optionId, rationale, li) {
  const dec = decisions.get(decisionId);
  try {
    await socket.send({ type: "answer", decision_id: decisionId, option_id: optionId, rationale });
  } catch (err) {
    dec.status.textContent = err.message;
    li.classList.add("error");
  }
}

function onEvent(e) {
  const d = e.data;
  clock.onEvent(e);
  switch (e.type) {
    case "inject_delivered": onInject(e); break;
    case "message_sent": onMessage(e); break;
    case "note_added": onNote(e); break;
    case "decision_opened": onDecisionOpened(e); break;
    case "decision_answered": {
      const mine = d.answered_by_role === myRole ? "You" : who(d.answered_by_role);
      closeDecision(d.decision_id, `${mine} answered: ${optionLabel(d.decision_id, d.option_id)}`);
      decisions.get(d.decision_id)?.node.querySelector(`[data-option="${CSS.escape(d.option_id)}"]`)?.classList.add("chosen");
      break;
    }
    case "decision_timed_out":
      closeDecision(d.decision_id, `Time ran out: ${optionLabel(d.decision_id, d.option_id)} was taken`);
      break;
    case "decision_closed":
      if (!decisions.get(d.decision_id)?.closed) closeDecision(d.decision_id, "Closed");
      break;
    case "drill_ended":
      $("ended").textContent = `The drill has ended: ${d.reason}`;
      $("ended").hidden = false;
      for (const b of document.querySelectorAll("#composer button, .decision button")) b.disabled = true;
      openHotWash();
      break;
    case "feedback_given":
      if (d.participant_id === me) hotWashDone();
      break;
    case "scores_released":
      released = true;
      // Objective titles come with the scores: a fresh snapshot brings them if we lack them.
      if (live && !Object.keys(objectives).length) socket.resync();
      else showScores();
      break;
    default: break;
  }
  if (SCORE_EVENTS.has(e.type) && seesScores()) scores.soon();
  if (e.type.startsWith("clock_") || e.type === "drill_ended") setStatus(clock.status);
}

// ---------------------------------------------------------------- after the drill

function openHotWash() {
  const section = $("hotwash");
  if (!section) return; // observers write notes instead
  section.hidden = false;
  if (answered) hotWashDone();
}

function hotWashDone() {
  answered = true;
  if (!$("hotwash")) return;
  $("hotwash-form").hidden = true;
  $("hotwash-thanks").hidden = false;
}

const seesScores = () => released || !myRole; // observers see every score as it happens

const scores = scorePanel(drillId, () => objectives);

function showScores() {
  if (!seesScores()) return;
  $("team-score").hidden = false;
  scores.soon();
}

function setStatus(status) {
  $("status").textContent = status;
  $("status").className = `status status-${status}`;
}

function buildComposer() {
  const box = $("recipients");
  if (!box || box.childElementCount) return;
  const add = (id, label, kind) => {
    const l = el("label", `check chip chip-${kind}`);
    const input = el("input");
    input.type = "checkbox";
    input.name = "to";
    input.value = id;
    l.append(input, document.createTextNode(` ${label}`));
    box.append(l);
  };
  for (const [id, title] of Object.entries(roles)) if (id !== myRole) add(id, title, "role");
  for (const [id, name] of Object.entries(parties)) add(id, name, "party");
  const select = $("statement");
  for (const s of statements) {
    const o = el("option", "", s.title);
    o.value = s.id;
    select.append(o);
  }
  select.addEventListener("change", () => {
    const s = statements.find((x) => x.id === select.value);
    const form = $("composer");
    form.elements.subject.value = s ? s.title : "";
    form.elements.body.value = s ? s.body : "";
    for (const c of form.querySelectorAll("input[name=to]")) c.checked = s ? s.to.includes(c.value) : false;
  });
}

const socket = new DrillSocket(drillId, {
  status: (s, reason) => setConn($("conn"), s, reason),
  snapshot: (msg) => {
    roles = msg.drill.roles;
    parties = msg.drill.parties;
    statements = msg.drill.statements;
    objectives = msg.drill.objectives || {};
    clock.fromSnapshot(msg.drill.clock);
    setStatus(msg.drill.status);
    buildComposer();
    buildNoteForm();
    released = msg.drill.scores_released;
    if (msg.drill.status === "ended") openHotWash();
    showScores();
  },
  // What the first snapshot brought is history; from here on, arrivals are news.
  synced: () => { live = true; tick(); },
  event: onEvent,
});

$("composer")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const data = new FormData(form);
  const to = data.getAll("to");
  const error = $("composer-error");
  error.hidden = true;
  if (!to.length) { error.textContent = "Choose at least one recipient."; error.hidden = false; return; }
  const statementId = $("statement").value || null;
  try {
    await socket.send({ type: "send_message", to, subject: data.get("subject") || "", body: data.get("body"), statement_id: statementId });
    form.reset();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
});

$("note-form")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const data = new FormData(form);
  const error = $("note-error");
  error.hidden = true;
  try {
    await socket.send({ type: "note", text: data.get("text"), objective_id: data.get("objective_id") || null });
    form.elements.text.value = "";
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
});

$("hotwash-form")?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const data = new FormData(form);
  const error = $("hotwash-error");
  error.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await socket.send({
      type: "feedback",
      went_well: data.get("went_well") || "",
      improve: data.get("improve") || "",
      confidence: Number(data.get("confidence")),
    });
    hotWashDone();
  } catch (err) {
    if (err.code === "feedback_given") {
      hotWashDone(); // sent already, from another tab
      return;
    }
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});

function tick() {
  const now = clock.now();
  $("scenario-clock").textContent = clock.label(now);
  $("scenario-elapsed").textContent = `T+${elapsed(now)}`;
  for (const dec of decisions.values()) {
    if (dec.closed) continue;
    const left = dec.deadline - now;
    dec.countdown.textContent = left > 0 ? `${elapsed(left)} left` : "time is up";
    dec.countdown.classList.toggle("urgent", left < 300);
  }
}
setInterval(tick, 500);
tick();
