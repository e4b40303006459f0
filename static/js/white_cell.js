// The white cell's threads: every message the team wrote to an outside party it plays,
// and every answer, as one two-way thread per party and role. The white cell answers as
// the party (`reply_as_party`), sends or edits the replies the author wrote when they are
// offered (`reply_suggested`), and sees which threads have waited too long. Used by the
// white-cell page (its parties) and the console (every party).
import { span, tplus } from "./clock.js";
import { el, errorBox } from "./dom.js";

export const WAIT_FLAG_SECONDS = 15 * 60;
/** A thread whose last word is the team's, older than this in story time, is flagged. */

export class Threads {
  /** `parties`: party id -> name, the parties this seat plays; `send(body, show)` sends a
   *  command; `who(id)` names a role or party. */
  constructor(root, parties, send, who) {
    this.root = root;
    this.parties = parties;
    this.send = send;
    this.who = who;
    this.threads = new Map(); // "party|role" -> {party, role, items, node, list, flag, form}
    this.sent = new Set(); // "party.reply" of authored replies already sent
  }

  event(e) {
    const d = e.data;
    if (e.type === "message_sent") {
      for (const party of d.to.filter((t) => t in this.parties)) {
        this.push(party, d.from_role, { seq: e.seq, at: e.scenario_time, from: "team", subject: d.subject, body: d.body });
      }
    } else if (e.type === "party_replied" && d.party in this.parties) {
      if (d.reply_id) this.sent.add(`${d.party}.${d.reply_id}`);
      for (const role of d.to) {
        this.push(d.party, role, { seq: e.seq, at: e.scenario_time, from: "party", subject: d.subject, body: d.body, by: d.by });
        this.thread(d.party, role).items.forEach((item) => {
          if (item.suggestion === `${d.party}.${d.reply_id}`) item.node?.remove();
        });
      }
    } else if (e.type === "reply_suggested" && d.party in this.parties) {
      const ref = `${d.party}.${d.reply_id}`;
      if (this.sent.has(ref)) return;
      for (const role of d.to) this.push(d.party, role, { seq: e.seq, at: e.scenario_time, suggestion: ref, replyId: d.reply_id, subject: d.subject, body: d.body });
    }
  }

  thread(party, role) {
    const key = `${party}|${role}`;
    let t = this.threads.get(key);
    if (t) return t;
    const node = el("section", "thread card-inset");
    node.dataset.party = party;
    node.dataset.role = role;
    const head = el("h3", "thread-head", `${this.parties[party]} ⇄ ${this.who(role)}`);
    const flag = el("p", "thread-flag", "");
    flag.hidden = true;
    const list = el("ol", "thread-items");
    t = { party, role, items: [], node, list, flag, form: null };
    node.append(head, flag, list, this.replyForm(t));
    this.threads.set(key, t);
    this.root.prepend(node);
    this.root.parentElement?.querySelector(".threads-empty")?.setAttribute("hidden", "");
    return t;
  }

  push(party, role, item) {
    const t = this.thread(party, role);
    t.items.push(item);
    item.node = this.itemNode(t, item);
    t.list.append(item.node);
    this.root.prepend(t.node); // the thread with news on top
  }

  itemNode(t, item) {
    if (item.suggestion) {
      const li = el("li", "thread-item suggestion");
      li.append(el("p", "small muted", `Suggested by the author · ${tplus(item.at)}`));
      if (item.subject) li.append(el("p", "subject", item.subject));
      li.append(el("p", "body", item.body));
      const send = el("button", "primary", "Send as written");
      send.type = "button";
      send.addEventListener("click", () => this.reply(t, item.body, item.subject, item.replyId, send));
      const edit = el("button", "", "Edit first");
      edit.type = "button";
      edit.addEventListener("click", () => {
        t.form.elements.body.value = item.body;
        t.form.elements.subject.value = item.subject || "";
        t.form.dataset.replyId = item.replyId;
        t.form.elements.body.focus();
      });
      li.append(el("div", "row", ""), send, " ", edit);
      return li;
    }
    const li = el("li", `thread-item from-${item.from}`);
    const by = item.from === "team" ? this.who(t.role) : `${this.parties[t.party]}${item.by === "author" ? " (sent by itself)" : ""}`;
    li.append(el("p", "small muted", `${by} · ${tplus(item.at)}`));
    if (item.subject) li.append(el("p", "subject", item.subject));
    li.append(el("p", "body", item.body));
    return li;
  }

  replyForm(t) {
    const form = el("form", "stack thread-reply");
    const subject = el("input");
    subject.name = "subject";
    subject.maxLength = 200;
    subject.setAttribute("aria-label", "Subject");
    subject.placeholder = "Subject (optional)";
    const body = el("textarea");
    body.name = "body";
    body.rows = 3;
    body.required = true;
    body.setAttribute("aria-label", `Answer as ${this.parties[t.party]}`);
    const button = el("button", "primary", `Answer as ${this.parties[t.party]}`);
    button.type = "submit";
    const error = el("p", "alert small", "");
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.append(subject, body, error, button);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.reply(t, body.value, subject.value, form.dataset.replyId || null, button, error);
    });
    t.form = form;
    return form;
  }

  async reply(t, body, subject, replyId, button, error = null) {
    const show = errorBox(error || t.form.querySelector(".alert"));
    button.disabled = true;
    const sent = await this.send({ type: "reply_as_party", party: t.party, to: t.role, body, subject, reply_id: replyId }, show);
    button.disabled = false;
    if (sent) {
      t.form.reset();
      delete t.form.dataset.replyId;
    }
  }

  /** Flag the threads whose last word is the team's and has waited too long. */
  tick(now) {
    for (const t of this.threads.values()) {
      const last = [...t.items].reverse().find((i) => !i.suggestion);
      const waiting = last && last.from === "team" ? now - last.at : 0;
      t.flag.hidden = waiting < WAIT_FLAG_SECONDS;
      t.node.classList.toggle("thread-waiting", !t.flag.hidden);
      if (!t.flag.hidden) t.flag.textContent = `Unanswered for ${span(waiting)} of story time`;
    }
  }
}
