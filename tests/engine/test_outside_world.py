"""The world outside the room answers: replies the author wrote fire by themselves, once
and in order, in the thread of the role that wrote; a white-cell player who plays the
party gets them as suggestions instead and answers as that party; posts reach the public
feed from the scenario, from the white cell and from the team's own public statements."""

from __future__ import annotations

import pytest

from app.authoring.loader import load_scenario_text
from app.engine import commands as c
from app.engine.errors import Code
from app.engine.events import EventType
from app.realtime.visibility import Viewer, visible

from .harness import MINUTE, Drill, as_participant, load

PRESS = """\
id: leak
title: A leak goes public
summary: Customer data is for sale; the press and the regulator want answers.
duration: 1h
clock: {start: 2026-11-27T20:00:00, timezone: Europe/London, speed: 60, end: 6h}
roles:
  communications: {}
  legal: {}
parties:
  regulator:
    name: The regulator
    kind: regulator
    replies:
      - id: ack
        delay: 10m
        body: We acknowledge your notification, reference 2026-117.
      - id: questions
        delay: 10m
        from: [legal]
        body: Please tell us how many people are affected.
  press:
    name: The Evening Post
    kind: press
    replies:
      - id: deadline
        delay: 5m
        subject: Our deadline
        body: We publish at 21:00 with or without you.
        when: {not: {sent: {to: website}}}
  website:
    name: Our newsroom page
    kind: other
    public: true
objectives:
  talk: {title: Talk to the outside world, phase: containment}
injects:
  - id: start
    title: The data is for sale
    body: A forum lists our customer database.
    to: [all]
    at: 0m
  - id: trending
    title: "#shopleak is trending"
    body: "Thousands of posts an hour: 'why is the shop silent?'"
    channel: social
    to: [all]
    at: 30m
    post: {outlet: X, handle: "@shopwatch", likes: 5200, shares: 1900, replies: 640}
  - id: still-silent
    title: "'Still nothing from the shop'"
    body: A columnist notes the shop has said nothing for an hour.
    channel: news
    to: [all]
    at: 1h
    when: {not: {sent: {to: website}}}
    post: {outlet: The Evening Post, tone: negative}
"""


def _drill(white_cell: tuple[str, ...] = ()) -> Drill:
    drill = Drill(load(PRESS)).create()
    drill.join("comms", "communications").join("legal", "legal")
    if white_cell:
        drill.run(c.Join("wc", "Wendy", None, white_cell), as_participant("wc"))
    drill.start()
    drill.tick()
    return drill


def _write(drill: Drill, who: str, to: str, body: str, subject: str = "") -> int:
    (message,) = [
        e
        for e in drill.run(c.SendMessage([to], body, subject), as_participant(who))
        if e.type is EventType.message_sent
    ]
    return message.seq


def test_an_authored_reply_comes_once_in_the_thread_of_the_role_that_wrote() -> None:
    drill = _drill()
    first = _write(drill, "comms", "regulator", "We have had a breach.", "Breach")
    again = _write(drill, "comms", "regulator", "An update.", "Update")
    drill.advance(9)
    assert drill.of(EventType.party_replied) == []
    drill.advance(1)  # 10 story minutes after the first message
    (ack,) = [e.data for e in drill.of(EventType.party_replied)]
    assert ack["to"] == ["communications"] and ack["by"] == "author"
    assert ack["subject"] == "Re: Breach" and ack["reply_id"] == "ack"
    assert ack["reply_to_seq"] == again > first  # the thread's last message, answered
    _write(drill, "comms", "regulator", "Anything else?")
    drill.advance(30)
    assert len(drill.of(EventType.party_replied)) == 1  # once, not per message


def test_a_reply_waits_for_a_message_from_the_roles_it_names() -> None:
    drill = _drill()
    _write(drill, "comms", "regulator", "Breach.")
    drill.advance(20)
    assert [e.data["reply_id"] for e in drill.of(EventType.party_replied)] == ["ack"]
    _write(drill, "legal", "regulator", "Formal notification.")
    drill.advance(10)
    replies = [(e.data["reply_id"], e.data["to"]) for e in drill.of(EventType.party_replied)]
    assert replies == [("ack", ["communications"]), ("questions", ["legal"])]


def test_replies_due_together_come_in_the_author_s_order() -> None:
    drill = _drill()
    _write(drill, "legal", "regulator", "Notification.")  # arms both, due at once
    drill.advance(10)
    assert [e.data["reply_id"] for e in drill.of(EventType.party_replied)] == ["ack", "questions"]
    assert drill.replayed().timers == drill.state.timers


def test_a_reply_whose_condition_fails_is_skipped_and_says_why() -> None:
    drill = _drill()
    _write(drill, "comms", "press", "No comment yet.")
    _write(drill, "comms", "website", "A statement: we are investigating.", "Statement")
    drill.advance(5)
    assert drill.of(EventType.party_replied) == []
    (skipped,) = [e.data for e in drill.of(EventType.reply_skipped)]
    assert skipped == {"party": "press", "reply_id": "deadline", "reason": "condition"}


def test_a_white_cell_playing_the_party_gets_the_reply_as_a_suggestion_and_sends_it() -> None:
    drill = _drill(white_cell=("press",))
    _write(drill, "comms", "press", "We will call you back.", "Your call")
    drill.advance(5)
    assert drill.of(EventType.party_replied) == []
    (suggested,) = [e.data for e in drill.of(EventType.reply_suggested)]
    assert suggested["to"] == ["communications"] and suggested["subject"] == "Our deadline"
    send = c.ReplyAsParty("press", "communications", "We publish at 22:00.", "", "deadline")
    drill.run(send, as_participant("wc"))
    (sent,) = [e.data for e in drill.of(EventType.party_replied)]
    assert (sent["by"], sent["reply_id"], sent["body"]) == (
        "white_cell",
        "deadline",
        "We publish at 22:00.",
    )
    assert drill.refuse(send, as_participant("wc")) is Code.invalid_input  # sent already
    # The regulator has nobody playing it: its replies still come by themselves.
    _write(drill, "comms", "regulator", "Breach.")
    drill.advance(10)
    assert [e.data["by"] for e in drill.of(EventType.party_replied)] == ["white_cell", "author"]


def test_only_the_white_cell_of_a_party_and_the_facilitator_answer_for_it() -> None:
    drill = _drill(white_cell=("press",))
    answer = c.ReplyAsParty("regulator", "legal", "Noted.")
    assert drill.refuse(answer, as_participant("wc")) is Code.not_permitted
    assert drill.refuse(answer, as_participant("legal")) is Code.not_permitted
    drill.run(answer)  # the facilitator plays any party
    nobody = c.ReplyAsParty("press", "hr", "Hello")
    assert drill.refuse(nobody) is Code.unknown_role
    assert drill.refuse(c.ReplyAsParty("police", "legal", "Hi")) is Code.unknown_recipient


def test_a_white_cell_player_plays_parties_not_a_role() -> None:
    drill = Drill(load(PRESS)).create()
    refused = drill.refuse(c.Join("x", "X", "legal", ("press",)), as_participant("x"))
    assert refused is Code.unknown_recipient
    assert drill.refuse(c.Join("y", "Y", None, ("tv",)), as_participant("y")) is (
        Code.unknown_recipient
    )


def test_posts_reach_the_feed_from_the_scenario_the_white_cell_and_the_team() -> None:
    drill = _drill(white_cell=("press",))
    _write(drill, "comms", "website", "We are investigating.", "Statement")
    (statement,) = [e.data for e in drill.of(EventType.feed_posted)]
    assert (statement["by"], statement["outlet"], statement["text"]) == (
        "team",
        "Our newsroom page",
        "Statement\n\nWe are investigating.",
    )
    post = c.PostToFeed("The Evening Post", "Shop silent as data sold", None, "negative", 40)
    drill.run(post, as_participant("wc"))
    assert drill.refuse(post, as_participant("comms")) is Code.not_permitted
    bad = c.PostToFeed("Post", "Text", tone="furious")
    assert drill.refuse(bad, as_participant("wc")) is Code.invalid_input
    drill.advance(30)
    (trending,) = [e for e in drill.of(EventType.inject_delivered) if "post" in e.data]
    assert trending.data["post"]["handle"] == "@shopwatch"
    assert trending.data["post"]["likes"] == 5200


def test_who_sees_the_threads_and_the_feed() -> None:
    drill = _drill(white_cell=("press",))
    _write(drill, "comms", "press", "Call us.")
    _write(drill, "legal", "regulator", "Notification.")
    _write(drill, "legal", "communications", "Internal only.")
    drill.run(c.ReplyAsParty("press", "communications", "Deadline 21:00"), as_participant("wc"))
    drill.run(c.PostToFeed("X", "Where is the statement?"), as_participant("wc"))
    drill.advance(30)
    white_cell = Viewer("white_cell", None, "wc", parties=("press",))
    comms = Viewer("participant", "communications", "comms")
    legal = Viewer("participant", "legal", "legal")

    def seen(viewer: Viewer) -> list[str]:
        return [
            f"{e.type}:{e.data.get('to', e.data.get('outlet'))}"
            for e in drill.events
            if e.type not in (EventType.participant_joined,)
            and visible(e, viewer, False) is not None
            and e.type.value not in {t.value for t in EVERYONE_SEES}
        ]

    assert seen(white_cell) == [
        "message_sent:['press']",
        "party_replied:['communications']",
        "reply_suggested:['communications']",  # the author's deadline line, 5 min on
        "inject_delivered:['communications', 'legal']",  # the trending post is public
    ]
    assert not [x for x in seen(comms) if x.startswith("reply_suggested")]
    assert "party_replied:['communications']" in seen(comms)
    assert "party_replied:['communications']" not in seen(legal)
    assert "message_sent:['regulator']" not in seen(white_cell)  # not its party
    feed = [e for e in drill.events if e.type is EventType.feed_posted]
    assert all(visible(e, v, False) for e in feed for v in (white_cell, comms, legal))


EVERYONE_SEES = {
    EventType.drill_created,
    EventType.clock_started,
    EventType.feed_posted,
}


@pytest.mark.parametrize(
    ("change", "finding"),
    [
        (("    to: [all]\n    at: 30m", "    to: [legal]\n    at: 30m"), "a post is public"),
        (("channel: social", "channel: email"), "`channel: news` or `channel: social`"),
        (("from: [legal]", "from: [ceo]"), "'ceo'"),
    ],
)
def test_the_validator_checks_posts_and_replies(change: tuple[str, str], finding: str) -> None:
    loaded = load_scenario_text(PRESS.replace(*change), "leak.yaml")
    assert any(finding in f.message for f in loaded.errors), [f.render() for f in loaded.findings]


def test_the_white_cell_s_answer_goes_to_the_backup_acting_for_an_absent_role() -> None:
    drill = _drill()
    drill.advance(MINUTE)
    drill.run(c.ReplyAsParty("press", "legal", "Any comment?"))
    (answer,) = [e.data for e in drill.of(EventType.party_replied)]
    assert answer["recipients"] == ["legal"] and answer["reply_to_seq"] is None


@pytest.mark.parametrize(
    ("published", "posts"), [(False, ["trending", "still-silent"]), (True, ["trending"])]
)
def test_a_post_comes_by_time_and_by_condition(published: bool, posts: list[str]) -> None:
    drill = _drill()
    if published:
        _write(drill, "comms", "website", "We are investigating.")
    drill.advance(MINUTE)
    delivered = [
        e.data["inject_id"] for e in drill.of(EventType.inject_delivered) if "post" in e.data
    ]
    assert delivered == posts
    skipped = [e.data["inject_id"] for e in drill.of(EventType.inject_skipped)]
    assert skipped == ([] if not published else ["still-silent"])
