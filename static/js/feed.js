// The public feed: the news articles and social posts of the story (injects with a `post`),
// what the white cell posts, and the team's own statements to a public party
// (`feed_posted`), newest first; and the pressure gauge above it, in plain figures: the
// posts of the last story hour, how many were negative, and how far they travelled.
import { tplus } from "./clock.js";
import { el } from "./dom.js";

const HOUR = 3600;

/** A feed post from an event, or null for an event that is not one. */
export function postOf(e) {
  const d = e.data;
  if (e.type === "feed_posted") {
    return {
      seq: e.seq, at: e.scenario_time, outlet: d.outlet, handle: d.handle, text: d.text, title: "",
      tone: d.tone, likes: d.likes, shares: d.shares, replies: d.replies, by: d.by,
    };
  }
  if (e.type === "inject_delivered" && d.post) {
    const p = d.post;
    return {
      seq: e.seq, at: e.scenario_time, outlet: p.outlet, handle: p.handle, title: d.title, text: d.body,
      html: d.body_html ?? null, tone: p.tone, likes: p.likes, shares: p.shares, replies: p.replies, by: "story",
    };
  }
  return null;
}

const reach = (post) => post.likes + post.shares + post.replies;
const number = (n) => n.toLocaleString("en-GB");

export class PublicFeed {
  /** `list`: the <ol> of posts; `gauge`: the element the pressure line goes in. */
  constructor(list, gauge, empty = null) {
    this.list = list;
    this.gauge = gauge;
    this.empty = empty;
    this.posts = [];
  }

  /** Take an event; true when it was a post. */
  add(e) {
    const post = postOf(e);
    if (!post || this.posts.some((p) => p.seq === post.seq)) return false;
    this.posts.push(post);
    this.list.prepend(this.item(post));
    if (this.empty) this.empty.hidden = true;
    this.tick(Math.max(this.now ?? 0, post.at)); // the gauge counts it at once
    return true;
  }

  item(post) {
    const li = el("li", `post post-${post.tone} post-by-${post.by}`);
    li.dataset.seq = post.seq;
    const head = el("p", "post-head");
    head.append(el("strong", "", post.outlet));
    if (post.handle) head.append(" ", el("span", "muted", post.handle));
    head.append(" ", el("span", "time", tplus(post.at)));
    if (post.by === "team") head.append(" ", el("span", "chip", "Your statement"));
    li.append(head);
    if (post.title) li.append(el("p", "post-title", post.title));
    if (post.html) {
      const body = el("div", "post-text markdown");
      body.innerHTML = post.html; // scenario Markdown, rendered and sanitised on the server
      li.append(body);
    } else {
      li.append(el("p", "post-text", post.text));
    }
    if (post.by !== "team") {
      li.append(el("p", "small muted post-reach",
        `${number(post.likes)} likes · ${number(post.shares)} shares · ${number(post.replies)} replies · ${post.tone}`));
    }
    return li;
  }

  /** The pressure line for the story's clock `now`: the last story hour's outside posts. */
  tick(now) {
    this.now = now;
    if (!this.gauge) return;
    const recent = this.posts.filter((p) => p.by !== "team" && p.at > now - HOUR && p.at <= now);
    const negative = recent.filter((p) => p.tone === "negative");
    const total = recent.reduce((sum, p) => sum + reach(p), 0);
    const level = negative.length === 0 ? "calm" : negative.length >= 3 || total >= 10000 ? "high" : "rising";
    this.gauge.dataset.level = level;
    this.gauge.textContent = recent.length
      ? `Last story hour: ${recent.length} ${recent.length === 1 ? "post" : "posts"}, ${negative.length} negative, ${number(total)} interactions`
      : "Last story hour: no posts";
  }
}
