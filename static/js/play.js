// The participant screen: inbox, decisions with a countdown, composer, sent messages; after
// the end the hot-wash form and, once the facilitator releases them, the team's scores.
import { pauseBanner, span, tplus } from "./clock.js";
import { $, el, errorBox } from "./dom.js";
import { DrillPage } from "./drill_page.js";
import { PublicFeed, postOf } from "./feed.js";
import { attachmentsOf } from "./attachments.js";
import { CLOCK_EVENTS, RegulatoryPanel } from "./regulatory.js";
import { SCORE_EVENTS, scorePanel } from "./scores.js";

const root = document.getElementById("play");
const drillId = root.dataset.drillId;
const myRole = root.dataset.role || null;
const me = root.dataset.me;
const options = JSON.parse(root.dataset.decisions);
const page = new DrillPage(drillId);
const clock = page.clock;
const who = (id) => page.who(id);
const readKey = `tt-read-${drillId}`;
const read = new Set(JSON.parse(localStorage.getItem(readKey) || "[]"));

let statements = [];
let objectives = {};
let live = false; // after the first snapshot: what arrives now is news
let released = false; // scores released: participants may see them
let answered = false; // this participant's hot-wash answers are in
const decisions = new Map(); // decision id -> {deadline, node, countdown, status, closed}

// Template blanks left in a message: the same patterns as app/engine/blanks.py.
const BLANKS = [/\[[^\[\]\n\d]{1,80}\](?!\()/g, /\{\{[^{}\n]{0,80}\}\}/g, /_{3,}/g];

function blanksIn(text, statementBody) {
  const found = [];
  for (const pattern of BLANKS) for (const m of text.matchAll(pattern)) found.push([m.index, m[0]]);
  if (statementBody) {
    for (const m of statementBody.matchAll(/\[[^\[\]\n]{1,80}\](?!\()/g)) {
      const at = text.indexOf(m[0]);
      if (at >= 0) found.push([at, m[0]]);
    }
  }
  found.sort((a, b) => a[0] - b[0]);
  return [...new Set(found.map(([, blank]) => blank))];
}

const CHANNEL = {
  email: "email", letter: "email", ticket: "email",
  phone: "call", meeting: "call", sms: "chat", chat: "chat",
  siem: "alert", edr: "alert",
  news: "post", social: "post",
};

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

function announceUrgently(text) {
  $("urgent-announce").textContent = text;
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
  head.append(el("span", "time", tplus(e.scenario_time)));
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
  const files = e.type === "inject_delivered" ? attachmentsOf(drillId, e) : null;
  if (files) li.append(files);
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
  if (live) showNewAlert();
  return li;
}

// A phone shows a screen or two: an inject that lands out of sight says so, and one tap
// brings it into view.
function inboxInView() {
  if ($("panel-play").hidden) return false;
  const top = $("inbox-card").getBoundingClientRect().top;
  return top >= 0 && top < window.innerHeight * 0.6;
}

function showNewAlert() {
  const n = document.querySelectorAll("#inbox .unread").length;
  const alert = $("new-alert");
  alert.hidden = n === 0 || inboxInView();
  alert.textContent = `${n} new in your inbox: show`;
}

$("new-alert").addEventListener("click", () => {
  showTab("play");
  $("new-alert").hidden = true;
  $("inbox-card").scrollIntoView({ block: "start" });
  document.querySelector("#inbox .unread")?.focus({ preventScroll: true });
});
window.addEventListener("scroll", () => { if (inboxInView()) $("new-alert").hidden = true; }, { passive: true });

// ---------------------------------------------------------------- tabs: play, briefing

const TABS = ["play", "public", "briefing"];

function showTab(name) {
  for (const tab of TABS) {
    const on = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
  }
  if (name === "public") {
    unseenPosts = 0;
    showUnseenPosts();
  }
}
$("tab-play").addEventListener("click", () => showTab("play"));
$("tab-public").addEventListener("click", () => showTab("public"));
// "Skip to decisions" must land on something visible, whichever tab is showing.
document.querySelector('a.skip[href="#decisions-card"]')?.addEventListener("click", () => showTab("play"));
$("tab-briefing").addEventListener("click", () => showTab("briefing"));
for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const step = ev.key === "ArrowRight" ? 1 : TABS.length - 1;
    const next = TABS[(TABS.indexOf(tab.id.slice(4)) + step) % TABS.length];
    showTab(next);
    $(`tab-${next}`).focus();
  });
}

function showSchedule() {
  const seconds = Number($("panel-briefing").dataset.storySeconds);
  $("real-length").textContent = span(seconds / clock.speed);
  $("speed-now").textContent = `×${clock.speed}`;
}

// ---------------------------------------------------------------- the public feed

const feed = new PublicFeed($("public-feed"), $("pressure"), $("public-feed-empty"));
let unseenPosts = 0;

function showUnseenPosts() {
  const badge = $("public-new");
  badge.hidden = unseenPosts === 0;
  badge.textContent = `${unseenPosts} new`;
}

function onPost(e) {
  if (!feed.add(e)) return;
  if (live && $("panel-public").hidden) {
    unseenPosts += 1;
    showUnseenPosts();
    announce(`New in the public feed: ${postOf(e).outlet}`);
  }
}

/** An outside party's answer, in the inbox, with a button to answer it back. */
function onPartyReply(e) {
  const d = e.data;
  const li = inboxItem(e, "email", who(d.party), d.subject, d.body, "info", "email");
  const answer = el("button", "", `Reply to ${who(d.party)}`);
  answer.type = "button";
  answer.addEventListener("click", () => replyTo(d.party, d.subject));
  li?.append(answer);
}

function replyTo(party, subject) {
  const form = $("composer");
  if (!form) return;
  for (const c of form.querySelectorAll("input[name=to]")) c.checked = c.value === party;
  form.elements.subject.value = subject && !subject.startsWith("Re: ") ? `Re: ${subject}` : subject || "";
  showNoticeHint();
  form.elements.body.focus();
}

function onInject(e) {
  const d = e.data;
  if (d.post) {
    onPost(e); // a public post goes to the public feed, not the inbox
    return;
  }
  const style = CHANNEL[d.channel] || "email";
  inboxItem(e, style, d.sender || "", d.title, d.body, d.severity, d.channel, d.body_html ?? null);
}

function onMessage(e) {
  const d = e.data;
  // A notice this role drafted with the one who filed it: the team's sent mail, not its inbox.
  const teamNotice = d.notice && !(d.recipients || d.to).includes(myRole);
  if (myRole && (d.from_role === myRole || teamNotice)) {
    const li = el("li", "sent-item");
    li.dataset.seq = e.seq;
    const head = el("div", "msg-head");
    const by = d.from_role === myRole ? "" : `Filed by ${who(d.from_role)}: `;
    head.append(el("span", "", `${by}To ${d.to.map(who).join(", ")}`), el("span", "time", tplus(e.scenario_time)));
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
  head.append(el("span", "", `${author}${about}`), el("span", "time", tplus(e.scenario_time)));
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
  const { item: li, head, timer, countdown } = page.decisionItem(d, "decision open", announceUrgently, titleOf(d));
  timer.setAttribute("role", "timer");
  timer.setAttribute("aria-label", "Time left to decide");
  const summary = el("button", "decision-summary link");
  summary.type = "button";
  summary.hidden = true;
  summary.setAttribute("aria-expanded", "false");
  summary.addEventListener("click", () => {
    const open = li.classList.toggle("collapsed") === false;
    summary.setAttribute("aria-expanded", String(open));
  });
  head.prepend(el("span", "eyebrow", "Decision"), summary);
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
  decisions.set(d.decision_id, { deadline: d.deadline, node: li, title: titleOf(d), countdown, status, closed: false });
  countdown.update();
  if (live) announce(`Decision needed: ${d.prompt}`);
}

// The server's one-line title of the prompt; a drill logged before titles were sent
// shows the prompt's first line.
function titleOf(d) {
  if (d.title) return d.title;
  const line = d.prompt.trim().split("\n")[0];
  return line.length > 90 ? `${line.slice(0, 89)}…` : line;
}

// A closed decision shrinks to one line at the end of the list: what is open stays on top.
function closeDecision(id, text) {
  const dec = decisions.get(id);
  if (!dec) return;
  dec.closed = true;
  dec.node.classList.replace("open", "closed");
  dec.node.classList.add("collapsed");
  for (const b of dec.node.querySelectorAll(".options button, textarea")) b.disabled = true;
  dec.status.textContent = text;
  dec.countdown.stop();
  const summary = dec.node.querySelector(".decision-summary");
  summary.textContent = `${dec.title} · ${text}`;
  summary.hidden = false;
  $("decisions").append(dec.node);
}

function optionLabel(decisionId, optionId) {
  return (options[decisionId] || []).find((o) => o.id === optionId)?.label || optionId;
}

function answer(decisionId, optionId, rationale, li) {
  page.send({ type: "answer", decision_id: decisionId, option_id: optionId, rationale }, (err) => {
    decisions.get(decisionId).status.textContent = err.message;
    li.classList.add("error");
  });
}

function onEvent(e) {
  const d = e.data;
  switch (e.type) {
    case "inject_delivered": onInject(e); break;
    case "message_sent": onMessage(e); break;
    case "party_replied": onPartyReply(e); break;
    case "feed_posted": onPost(e); break;
    case "note_added": onNote(e); break;
    case "decision_opened": onDecisionOpened(e); break;
    case "role_unavailable":
    case "role_available": onAvailability(e); break;
    case "decision_answered": {
      const mine = d.answered_by_role === myRole ? "You" : who(d.answered_by_role);
      closeDecision(d.decision_id, `${mine} answered: ${optionLabel(d.decision_id, d.option_id)}`);
      decisions.get(d.decision_id)?.node.querySelector(`[data-option="${CSS.escape(d.option_id)}"]`)?.classList.add("chosen");
      break;
    }
    case "decision_timed_out":
      closeDecision(d.decision_id, `Not answered: default applied (${optionLabel(d.decision_id, d.option_id)})`);
      break;
    case "decision_closed":
      if (!decisions.get(d.decision_id)?.closed) closeDecision(d.decision_id, "Closed");
      break;
    case "drill_ended":
      $("ended").textContent = endedText(d);
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
      if (live && !Object.keys(objectives).length) page.resync();
      else showScores();
      break;
    default: break;
  }
  if (SCORE_EVENTS.has(e.type) && seesScores()) scores.soon();
  if (CLOCK_EVENTS.has(e.type)) regulatory?.soon();
  if (e.type.startsWith("clock_") || e.type === "drill_ended") {
    setStatus(clock.status);
    pauseBanner($("paused"), clock);
    showSchedule();
  }
  if (e.type === "clock_started") {
    $("lobby-note").hidden = true;
    if (live) { showTab("play"); announce("The drill has started: your inbox is open."); }
  }
}

// In the story a role can be out of reach (asleep, on a plane, unreachable on a holiday):
// its backup acts for it and the server refuses what its player sends. Say so, rather than
// leave an empty inbox and a composer that refuses on Send.
const outOfReach = new Map(); // role -> its backup, while the story has it out of reach

// Who acts for `role` now, as the engine's DrillState.acting_role has it: along the
// backups while each is out of reach too (a chain: the manager's deputy may be away).
function actingFor(role) {
  const seen = new Set([role]);
  let current = role;
  while (outOfReach.has(current)) {
    const backup = outOfReach.get(current);
    if (!backup || seen.has(backup)) break;
    seen.add(backup);
    current = backup;
  }
  return current;
}

function onAvailability(e) {
  if (e.type === "role_unavailable") outOfReach.set(e.data.role, e.data.backup);
  else outOfReach.delete(e.data.role);
  if (!myRole) return;
  const away = outOfReach.has(myRole);
  const actor = actingFor(myRole);
  const banner = $("away");
  banner.hidden = !away;
  banner.textContent = away
    ? `In the story you cannot be reached right now${actor !== myRole && page.roles[actor] ? `: ${who(actor)} acts for you` : ""}. ` +
      "What is sent to your role goes to them until you are back; follow along in the Public tab and your briefing."
    : "";
  $("send-button").disabled = away;
  if (live && e.data.role === myRole) announce(away ? banner.textContent : "You are back in the story: messages and decisions reach you again.");
}

// The engine records why a drill ended as "inject ID" or "option D.O"; people read a sentence.
function endedText(d) {
  if (d.why) return `The drill has ended: ${d.why}`;
  if (/^(inject|option) \S+/.test(d.reason || "")) return "The drill has ended: the story is over.";
  return `The drill has ended: ${d.reason}`;
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

// The regulatory clocks, where the scenario names this role for a regime.
const regulatory = $("regulatory")
  ? new RegulatoryPanel(drillId, $("regulatory"), clock, errorBox($("regulatory-error")), 300, (body, show) => page.send(body, show))
  : null;
if (regulatory) regulatory.onDraw = showNoticeHint;

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
  const add = (id, label, kind, group) => {
    const l = el("label", `check chip chip-${kind}`);
    const input = el("input");
    input.type = "checkbox";
    input.name = "to";
    input.value = id;
    l.append(input, document.createTextNode(` ${label}`));
    group.append(l);
  };
  for (const [id, title] of Object.entries(page.roles)) if (id !== myRole) add(id, title, "role", box);
  for (const [id, name] of Object.entries(page.parties)) add(id, name, "party", $("recipients-parties"));
  $("recipients-parties-label").hidden = !Object.keys(page.parties).length;
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
    showBlanks();
  });
  $("composer").elements.body.addEventListener("input", showBlanks);
  $("composer").elements.subject.addEventListener("input", showBlanks);
  $("composer").addEventListener("change", showNoticeHint);
}

/** Writing to a party owed a notice this role drafts: the form files it in full, a
 *  message here files it with none of the form's fields. */
function showNoticeHint() {
  const hint = $("notice-hint");
  if (!hint || !regulatory) return;
  const owed = regulatory.formParties();
  const to = [...$("composer").querySelectorAll("input[name=to]:checked")].map((c) => c.value);
  const named = to.filter((id) => owed.has(id));
  hint.hidden = named.length === 0;
  hint.textContent = named.length
    ? `${named.map(who).join(", ")} ${named.length === 1 ? "is" : "are"} owed ${named.flatMap((id) => owed.get(id)).join("; ")}: ` +
      "file it with its form under Regulatory clocks. Sent from here, it files the duty with none of the form's fields."
    : "";
}

let sendWithBlanks = false; // the sender has seen the blanks and chosen to send anyway

function currentBlanks() {
  const form = $("composer");
  const statement = statements.find((x) => x.id === $("statement").value);
  return blanksIn(`${form.elements.subject.value}\n${form.elements.body.value}`, statement?.body);
}

function showBlanks() {
  const blanks = currentBlanks();
  const note = $("blanks-note");
  note.hidden = blanks.length === 0;
  note.replaceChildren();
  if (blanks.length) {
    note.append(`${blanks.length} ${blanks.length === 1 ? "blank" : "blanks"} left to fill in: `);
    blanks.forEach((b, i) => {
      if (i) note.append(", ");
      note.append(el("mark", "blank", b));
    });
    note.append(". A message with blanks does not count as sent to its deadline.");
  }
  sendWithBlanks = false;
  $("send-button").textContent = "Send";
}

page.form($("composer"), {
  command: (data) => {
    const to = data.getAll("to");
    if (!to.length) throw new Error("Choose at least one recipient.");
    if (currentBlanks().length && !sendWithBlanks) {
      sendWithBlanks = true;
      $("send-button").textContent = "Send with blanks";
      throw new Error("This message still has blanks in it: fill them in, or press “Send with blanks” to send it as it is.");
    }
    return { type: "send_message", to, subject: data.get("subject") || "", body: data.get("body"), statement_id: $("statement").value || null };
  },
  sent: (form) => {
    form.reset();
    showBlanks();
  },
  show: errorBox($("composer-error")),
});

page.form($("note-form"), {
  command: (data) => ({ type: "note", text: data.get("text"), objective_id: data.get("objective_id") || null }),
  sent: (form) => { form.elements.text.value = ""; },
  show: errorBox($("note-error")),
});

const showHotWashError = errorBox($("hotwash-error"));
page.form($("hotwash-form"), {
  command: (data) => ({
    type: "feedback",
    went_well: data.get("went_well") || "",
    improve: data.get("improve") || "",
    confidence: Number(data.get("confidence")),
  }),
  sent: hotWashDone,
  // Sent already, from another tab: done all the same.
  show: (err) => (err?.code === "feedback_given" ? hotWashDone() : showHotWashError(err)),
  busy: true,
});

page.connect({
  snapshot: (drill) => {
    statements = drill.statements;
    objectives = drill.objectives || {};
    setStatus(drill.status);
    pauseBanner($("paused"), clock);
    showSchedule();
    $("lobby-note").hidden = drill.status !== "new" && drill.status !== "lobby";
    if (!$("lobby-note").hidden && !live) showTab("briefing");
    buildComposer();
    buildNoteForm();
    released = drill.scores_released;
    if (drill.status === "ended") openHotWash();
    showScores();
  },
  // What the first snapshot brought is history; from here on, arrivals are news.
  synced: () => { live = true; },
  event: onEvent,
  tick: (now) => {
    $("scenario-clock").textContent = clock.label(now);
    $("scenario-elapsed").textContent = tplus(now);
    for (const dec of decisions.values()) if (!dec.closed) dec.countdown.update();
    regulatory?.tick();
    feed.tick(now);
  },
});
regulatory?.now();
