"""The timeline's lines, as the facilitator's feed, the dry-run and the report show them.

Each line was read and judged as a facilitator would read it (who did what, to whom, when,
and what it scored) and is written out in full: a change to any wording, name, figure or
time is a change people see, and must show up here."""

from __future__ import annotations

from datetime import datetime

from app.engine import commands as c
from app.engine.events import Event, EventType
from app.engine.timeline import describe, timeline
from tests.engine.harness import MINUTE, Drill, as_participant
from tests.engine.scenarios import branchy

EVERYONE = "Incident manager, Legal counsel, Communications / PR, Executive sponsor (CISO)"
CISO = "Executive sponsor (CISO)"


def lines(drill: Drill) -> list[tuple[str, str, str]]:
    return [(e.offset, e.kind, e.text) for e in timeline(drill.scenario, drill.events)]


def test_a_played_drill_reads_line_by_line() -> None:
    drill = Drill(branchy()).create(speed=1.0)
    for pid, role, name in (
        ("p1", "incident_manager", "Ines"),
        ("p2", "legal", "Lee"),
        ("p3", "communications", "Cam"),
        ("p4", "executive", "Eve"),
    ):
        drill.join(pid, role, name)
    drill.start()
    drill.run(c.PauseClock())
    drill.run(c.ResumeClock())
    drill.run(c.SetSpeed(2.0))
    drill.run(c.AddNote("Legal hesitated"))
    drill.advance(60)
    drill.run(c.Answer("d1", "p", role="incident_manager"), as_participant("p1"))
    press = c.SendMessage(["press"], "We are investigating", subject="Holding line")
    drill.run(press, as_participant("p3"))
    drill.run(c.SendMessage(["executive"], "Brief: contained"), as_participant("p1"))
    drill.run(c.ManualInject("Call from the CEO", "Where are we?", ["executive"]))
    drill.run(c.AdjustScore("o1", -1.5, "slow to escalate", role="legal"))
    drill.advance(30 * MINUTE)
    drill.run(c.ReleaseScores())
    drill.run(c.Leave("p4"), as_participant("p4"))
    drill.run(c.EndDrill())
    via = "via email, severity info"
    assert lines(drill) == [
        ("T+00:00", "drill_created", "Drill 'Christmas drill' created (4 roles in play)"),
        ("T+00:00", "participant_joined", "Ines joined as Incident manager"),
        ("T+00:00", "participant_joined", "Lee joined as Legal counsel"),
        ("T+00:00", "participant_joined", "Cam joined as Communications / PR"),
        ("T+00:00", "participant_joined", f"Eve joined as {CISO}"),
        ("T+00:00", "clock_started", "Clock started at 1x"),
        ("T+00:00", "clock_paused", "Clock paused"),
        ("T+00:00", "clock_resumed", "Clock resumed"),
        ("T+00:00", "clock_speed_changed", "Speed changed from 1x to 2x"),
        ("T+00:00", "note_added", "Note: Legal hesitated"),
        ("T+00:00", "inject_delivered", f"A -> {EVERYONE} {via}"),
        (
            "T+00:00",
            "decision_opened",
            "Decision 'First question?' put to Incident manager, Legal counsel, due T+00:15",
        ),
        (
            "T+00:02",
            "decision_answered",
            "Decision 'First question?': Incident manager chose P in 2m",
        ),
        ("T+00:02", "message_sent", "Communications / PR sent message to The press: Holding line"),
        (
            "T+00:02",
            "expectation_met",
            "Tell the press: met on time by Communications / PR (10 pts)",
        ),
        ("T+00:02", "message_sent", f"Incident manager sent message to {CISO}"),
        ("T+00:02", "inject_delivered", f"Call from the CEO (manual) -> {CISO} {via}"),
        (
            "T+00:02",
            "score_adjusted",
            "Score for 'Respond' adjusted -1.5: slow to escalate; role: Legal counsel",
        ),
        ("T+00:02", "inject_delivered", f"F -> Communications / PR {via}"),
        ("T+00:07", "inject_delivered", f"C -> Incident manager (received by {CISO}) {via}"),
        ("T+00:07", "role_unavailable", f"Incident manager is unavailable; {CISO} acts"),
        ("T+00:10", "inject_delivered", f"B -> Legal counsel {via}"),
        ("T+00:15", "decision_closed", "Decision 'First question?' closed"),
        ("T+00:30", "expectation_missed", "Tell the executive: missed"),
        (
            "T+00:35",
            "inject_delivered",
            f"D -> {EVERYONE} (received by {CISO}, Legal counsel, Communications / PR) {via}",
        ),
        (
            "T+00:35",
            "decision_opened",
            f"Decision 'Second question?' put to {CISO}, Legal counsel, Communications / PR, "
            "due T+01:05",
        ),
        ("T+00:50", "inject_delivered", f"G -> Communications / PR {via}"),
        ("T+01:00", "inject_delivered", f"E -> {CISO} {via}"),
        ("T+01:00", "role_available", "Incident manager is available again"),
        ("T+01:02", "scores_released", "Scores released to participants"),
        ("T+01:02", "participant_left", "A participant left"),
        ("T+01:02", "drill_ended", "Drill ended: ended by the facilitator"),
    ]


def test_skips_jumps_time_outs_and_an_ending_by_default_read_as_they_happened() -> None:
    drill = Drill(branchy()).create(speed=1.0)
    drill.join("p1", "incident_manager", "Ines").join("o1", None, "Olu")
    drill.start()
    drill.tick()
    drill.run(c.SkipInject("b"))
    drill.run(c.JumpToNextInject())
    drill.advance(15 * MINUTE)
    drill.advance(3 * 3600)
    via = "via email, severity info"
    assert lines(drill) == [
        ("T+00:00", "drill_created", "Drill 'Christmas drill' created (4 roles in play)"),
        ("T+00:00", "participant_joined", "Ines joined as Incident manager"),
        ("T+00:00", "participant_joined", "Olu joined as observer"),
        ("T+00:00", "clock_started", "Clock started at 1x"),
        ("T+00:00", "inject_delivered", f"A -> {EVERYONE} {via}"),
        (
            "T+00:00",
            "decision_opened",
            "Decision 'First question?' put to Incident manager, Legal counsel, due T+00:15",
        ),
        ("T+00:00", "inject_skipped", "B skipped: skipped by the facilitator"),
        ("T+00:00", "clock_jumped", "Clock jumped to T+00:50"),
        (
            "T+00:15",
            "decision_timed_out",
            "Decision 'First question?': Not answered: default applied (P)",
        ),
        ("T+00:15", "inject_delivered", f"F -> Communications / PR {via}"),
        ("T+00:30", "expectation_missed", "Tell the executive: missed"),
        ("T+00:35", "inject_delivered", f"D -> {EVERYONE} {via}"),
        (
            "T+00:35",
            "decision_opened",
            f"Decision 'Second question?' put to {EVERYONE}, due T+01:05",
        ),
        ("T+00:40", "expectation_missed", "Tell the press: missed"),
        ("T+00:50", "inject_delivered", f"G -> Communications / PR {via}"),
        ("T+01:00", "inject_delivered", f"E -> {CISO} {via}"),
        (
            "T+01:05",
            "decision_timed_out",
            "Decision 'Second question?': Not answered: default applied (X)",
        ),
        (
            "T+01:05",
            "drill_ended",
            "Drill ended: “X” was taken when time ran out, which ends the story",
        ),
    ]


def test_a_whole_log_tells_each_line_at_the_same_times_as_the_live_feed() -> None:
    """`timeline` formats each minute of a long log once; every line must still read the
    times `describe` gives the feed: across minute edges, a jump of hours, the story's
    clocks going forward for summer time, and a time before the start."""
    story = branchy()
    clock = story.clock.model_copy(
        update={"start": datetime(2027, 3, 28, 0, 59, 30), "timezone": "Europe/London"}
    )
    story = story.model_copy(update={"clock": clock})
    drill = Drill(story).create(speed=1.0)
    created = drill.events[0]
    times = [-90.0, 0.0, 29.4, 29.6, 30.0, 89.9, 90.0, 3599.5, 3600.0, 7 * 3600 + 0.5]
    notes = [
        Event(seq, EventType.note_added, 0.0, at, "facilitator", {"text": f"n{seq}"})
        for seq, at in enumerate(times, start=created.seq + 1)
    ]
    log = [created, *notes]
    told = [(e.offset, e.story_time) for e in timeline(story, log)]
    live = [(e.offset, e.story_time) for ev in log if (e := describe(story, ev)) is not None]
    assert told == live
    assert told[1:6] == [
        ("T-00:01", "Sun 28 Mar 00:58"),
        ("T+00:00", "Sun 28 Mar 00:59"),
        ("T+00:00", "Sun 28 Mar 00:59"),
        ("T+00:00", "Sun 28 Mar 00:59"),
        ("T+00:00", "Sun 28 Mar 01:00"),
    ]
