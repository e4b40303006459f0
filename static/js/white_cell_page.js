// The white-cell page: threads with the team for the parties this person plays, writing
// first, the public feed and posting to it. The server sends this seat only the messages to
// its parties, their answers, the suggestions and the public posts (app/realtime/visibility).
import { tplus } from "./clock.js";
import { $, errorBox } from "./dom.js";
import { DrillPage } from "./drill_page.js";
import { PublicFeed } from "./feed.js";
import { Threads } from "./white_cell.js";

const root = $("white-cell");
const page = new DrillPage(root.dataset.drillId);
const parties = JSON.parse(root.dataset.parties);
const send = (body, show) => page.send(body, show);
const threads = new Threads($("threads"), parties, send, (id) => page.who(id));
const feed = new PublicFeed($("public-feed"), $("pressure"), $("public-feed-empty"));

function fillRoles() {
  const select = $("write-first-to");
  if (select.options.length) return;
  for (const [id, title] of Object.entries(page.roles)) select.append(new Option(title, id));
}

page.form($("write-first"), {
  command: (data) => ({
    type: "reply_as_party", party: data.get("party"), to: data.get("to"),
    subject: data.get("subject") || "", body: data.get("body"),
  }),
  sent: (form) => { form.elements.body.value = ""; form.elements.subject.value = ""; },
  show: errorBox($("write-first-error")),
  busy: true,
});

page.form($("post-form"), {
  command: (data) => ({
    type: "post_to_feed", outlet: data.get("outlet"), handle: data.get("handle") || null,
    text: data.get("text"), tone: data.get("tone"),
    likes: Number(data.get("likes") || 0), shares: Number(data.get("shares") || 0), replies: Number(data.get("replies") || 0),
  }),
  sent: (form) => { form.elements.text.value = ""; },
  show: errorBox($("post-error")),
  busy: true,
});

page.connect({
  snapshot: () => fillRoles(),
  event: (e) => {
    threads.event(e);
    feed.add(e);
    if (e.type === "drill_ended" || e.type.startsWith("clock_")) $("status").textContent = page.clock.status;
  },
  tick: (now) => {
    $("scenario-clock").textContent = page.clock.label(now);
    $("scenario-elapsed").textContent = tplus(now);
    threads.tick(now);
    feed.tick(now);
  },
});
