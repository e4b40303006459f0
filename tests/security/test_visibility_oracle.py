"""Who sees what, checked against an independent oracle (tests/oracle.py) on a real drill.

A live server plays the shipped ransomware scenario with every role filled (two people play
legal) and an observer, through every kind of event: injects to one role, to several and to
all, manual, fired early and skipped (by the facilitator, by a condition, suppressed by an
option); decisions to one role, to several and per role, answered (by a backup acting for
an absent role too) and timed out; messages between roles, to an absent role, from its
backup and to outside parties; observer and facilitator notes; expectations met and missed;
score adjustments before and after the release; the incident manager unavailable with the
SOC manager acting, and back; the end; the hot wash.

For every event of the whole log (read as the facilitator) and every viewer (facilitator,
observer, each participant), what the viewer got equals what the oracle says, through every
door: the live websocket (the snapshot at connect, then each event as it came), a fresh
websocket's snapshot with and without `since`, and `GET /api/drills/{id}/events` with and
without `since`; mid-drill before the release and after the end once released. Nothing
extra (a leak), nothing missing, no data key the oracle says is absent, and the `actor` as
that viewer may read it. A failure names the door, the event (seq, type) and the viewer.

The drill is played once per module (and per xdist worker); the tests read what it saw.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection

from tests.live import LiveServer, join, running_server, sign_in
from tests.oracle import (
    FACILITATOR_SEAT,
    Disagreement,
    DrillFacts,
    Kind,
    Seat,
    disagreements,
)
from tests.ws.test_protocol import open_socket, receive, received, until

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIO = "ransomware-holiday-weekend.yaml"

ROLES = (
    "incident_manager",
    "soc_manager",
    "lead_investigator",
    "soc_analyst",
    "it_operations",
    "legal",
    "communications",
    "hr",
    "executive",
)
SECOND_LEGAL = "legal-2"
OBSERVER = "observer"
FAC = "facilitator"

EVERY_KIND = {
    "drill_created",
    "participant_joined",
    "clock_started",
    "clock_paused",
    "clock_resumed",
    "clock_speed_changed",
    "clock_jumped",
    "inject_delivered",
    "inject_skipped",
    "decision_opened",
    "decision_answered",
    "decision_timed_out",
    "role_unavailable",
    "role_available",
    "message_sent",
    "expectation_met",
    "expectation_missed",
    "note_added",
    "score_adjusted",
    "scores_released",
    "feedback_given",
    "drill_ended",
}
"""What the drill must hold for the check to mean anything (`participant_left` and
`decision_closed` are the only kinds it does not reach)."""


def _reply_to(message: dict[str, Any], command_id: str) -> bool:
    if message["type"] not in ("ack", "error"):
        return False
    return message.get("id") == command_id or message.get("code") == "rate_limited"


@dataclass
class Table:
    """One drill and everybody at it: seats, their HTTP clients and live sockets."""

    live: LiveServer
    drill_id: str
    seats: dict[str, Seat] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    sockets: dict[str, ClientConnection] = field(default_factory=dict)
    """Each seat's live socket, open from before the start to the end."""
    fresh: dict[str, list[ClientConnection]] = field(default_factory=dict)
    """The sockets opened only for their snapshot, per seat."""
    problems: list[Disagreement] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=itertools.count)

    def do(self, who: str, kind: str, **body: Any) -> int:
        """A command from this seat over its socket; acknowledged, or the test fails."""
        sock, command_id = self.sockets[who], f"{kind}-{next(self.ids)}"
        while True:
            sock.send(json.dumps({"type": kind, "id": command_id, **body}))
            reply = until(sock, lambda m: _reply_to(m, command_id))[-1]
            if reply.get("code") != "rate_limited":
                break
            time.sleep(0.15)  # the server's limit: 10 a second, bursts of 20
        assert reply["type"] == "ack", f"{who} {kind} {body}: {reply}"
        seq: int = reply["seq"]
        self.drain()
        return seq

    def drain(self, quiet: float = 0) -> None:
        """Every live socket reads what has come, as a browser would (a socket nobody
        reads backs up, and then cannot even read its close frame), until nothing more
        comes for `quiet` seconds."""
        for sock in self.sockets.values():
            with contextlib.suppress(TimeoutError):
                while True:
                    receive(sock, quiet)

    def log(self) -> list[dict[str, Any]]:
        """The whole log, read as the facilitator."""
        return self.events_of(FAC)

    def events_of(self, who: str, since: int = 0) -> list[dict[str, Any]]:
        got = self.clients[who].get(f"/api/drills/{self.drill_id}/events?since={since}")
        assert got.status_code == 200, f"{who}: {got.status_code} {got.text}"
        events: list[dict[str, Any]] = got.json()
        return events

    def snapshot(self, who: str, since: int = 0) -> dict[str, Any]:
        """A fresh socket's snapshot for this seat; the socket is closed again."""
        sock = open_socket(self.live, self.drill_id, self.clients[who], since=since)
        message: dict[str, Any] = receive(sock)
        assert message["type"] == "snapshot", message
        with contextlib.suppress(TimeoutError):
            while True:
                receive(sock, 0)
        sock.close()
        self.fresh.setdefault(who, []).append(sock)
        return message

    def check_reads(self, phase: str, released: bool, since: int) -> None:
        """Each seat's GET and fresh snapshot, whole and after `since`, against the
        oracle; the disagreements are kept for the tests."""
        log = self.log()
        for who, seat in self.seats.items():
            for after in (0, since):
                tail = f"?since={after}" if after else ""
                reads = {
                    f"GET events{tail} {phase}": self.events_of(who, after),
                    f"ws snapshot{tail} {phase}": self.snapshot(who, after)["events"],
                }
                for door, got in reads.items():
                    self.problems += disagreements(log, got, seat, released, door, after)

    def close(self) -> None:
        self.drain(quiet=0.05)
        for sock in self.sockets.values():
            sock.close()
        for client in self.clients.values():
            client.close()


def _seat_up(live: LiveServer) -> Table:
    fac = sign_in(live)
    made = fac.post("/api/drills", json={"scenario": SCENARIO, "name": "Oracle"})
    assert made.status_code == 201, made.text
    table = Table(live, made.json()["id"])
    table.seats[FAC], table.clients[FAC] = FACILITATOR_SEAT, fac
    code = made.json()["join_code"]
    people = [(role, role) for role in ROLES] + [(SECOND_LEGAL, "legal"), (OBSERVER, None)]
    for name, role in people:
        table.clients[name] = join(live, code, name, role)
    joined = {
        e["data"]["name"]: e["data"]["participant_id"]
        for e in table.log()
        if e["type"] == "participant_joined"
    }
    for name, role in people:
        kind: Kind = "observer" if role is None else "participant"
        table.seats[name] = Seat(kind, role, joined[name], name)
    for name in table.seats:
        table.sockets[name] = open_socket(live, table.drill_id, table.clients[name])
        snapshot = receive(table.sockets[name])
        assert snapshot["type"] == "snapshot", snapshot
    return table


def _opened(table: Table, decision_id: str) -> bool:
    return any(
        e["type"] == "decision_opened" and e["data"]["decision_id"] == decision_id
        for e in table.log()
    )


def _play(table: Table) -> int:
    """The drill, through every kind of event, with a check of every seat's reads in the
    middle (before the release). Returns the last seq."""
    do = table.do
    do(FAC, "start")  # T+0: the EDR alert, to the SOC analyst alone
    # Meets the soc-escalates expectation: scored, not yet released.
    do("soc_analyst", "send_message", to=["soc_manager"], subject="P1", body="Shadow copies gone")
    do(FAC, "manual_inject", title="HR hotline", body="Staff are calling.", to=["hr"])
    do(FAC, "manual_inject", title="Counsel", body="On retainer.", to=["legal", "communications"])
    do(FAC, "manual_inject", title="Bridge open", body="Join the bridge.", to=["all"])
    do(FAC, "jump")  # T+12m: the mass renames, to the SOC analyst and the SOC manager
    do(FAC, "jump")  # T+25m: the incident manager does not answer; first-containment opens
    assert any(e["type"] == "role_unavailable" for e in table.log()), "the IM is away"
    # While the incident manager is away: written to, acted for, injected to.
    do("lead_investigator", "send_message", to=["incident_manager"], subject="IM?", body="Where?")
    do("soc_manager", "send_message", to=["executive"], subject="Acting IM", body="I lead now.")
    do("executive", "send_message", to=["board"], subject="Heads-up", body="An incident.")
    do("hr", "send_message", to=["communications", "staff"], subject="Staff", body="Say nothing.")
    do(FAC, "manual_inject", title="IM's pager", body="Paged twice.", to=["incident_manager"])
    # The SOC manager answers for the incident manager; the option suppresses an inject.
    do(
        "soc_manager",
        "answer",
        decision_id="first-containment",
        option_id="isolate-network",
        rationale="Cut the WAN",
    )
    do(OBSERVER, "note", text="The SOC escalated fast", objective_id="escalation")
    do(FAC, "note", text="Facilitator: watch legal")
    do(FAC, "adjust_score", objective_id="containment", points=2, reason="Crisp", role="legal")
    do(FAC, "pause")
    do(FAC, "set_speed", speed=30)
    do(FAC, "resume")
    do(FAC, "skip_inject", inject_id="lyon-encrypted")
    running = do(FAC, "fire_inject", inject_id="ransom-note")  # early; the IM's copy: SOC mgr
    do(FAC, "jump")
    do(FAC, "pause")  # the clock holds still while every seat reads
    table.check_reads("mid-drill", released=False, since=running)
    do(FAC, "resume")
    # On to the crisis meeting (ransom-payment, answered by the second legal) and the
    # incident manager's return.
    for _ in range(30):
        log = table.log()
        if any(e["type"] == "role_available" for e in log):
            break
        answered = {e["data"]["decision_id"] for e in log if e["type"] == "decision_answered"}
        if _opened(table, "ransom-payment") and "ransom-payment" not in answered:
            do(SECOND_LEGAL, "answer", decision_id="ransom-payment", option_id="refuse")
        do(FAC, "jump")
    else:
        raise AssertionError("the incident manager never came back")
    do("incident_manager", "send_message", to=["soc_manager"], subject="Back", body="Thanks")
    for _ in range(5):  # the fatigue check, to all: shift-rotation, per role, to all
        if _opened(table, "shift-rotation"):
            break
        do(FAC, "jump")
    for who, option in (("hr", "push-on"), ("soc_analyst", "rotate"), (SECOND_LEGAL, "rotate")):
        do(who, "answer", decision_id="shift-rotation", option_id=option, rationale=who)
    do(FAC, "jump")  # T+11h: the journalist calls
    do(FAC, "jump")  # past shift-rotation's deadline: the others time out
    do(FAC, "end", reason="Time for the hot wash")
    for who in ("legal", SECOND_LEGAL, "hr", "incident_manager"):
        do(who, "feedback", went_well=f"{who} well", improve=f"{who} better", confidence=3)
    do(FAC, "adjust_score", objective_id="ransom", points=-1, reason="Late", role="legal")
    do(FAC, "release_scores")
    # The last event: an adjustment after the release, which every seat sees live.
    return do(FAC, "adjust_score", objective_id="recovery", points=1, reason="After")


def _stream(table: Table, who: str, last: int) -> list[dict[str, Any]]:
    """Everything this seat's live socket got: its snapshot's events, then each event,
    read until the log's last event (which every seat sees, so nothing is still coming)."""
    sock = table.sockets[who]
    seqs = [m["event"]["seq"] for m in received(sock) if m["type"] == "event"]
    while last not in seqs:
        message = receive(sock)
        if message["type"] == "event":
            seqs.append(message["event"]["seq"])
    got: list[dict[str, Any]] = []
    for message in received(sock):
        if message["type"] == "snapshot":
            got += message["events"]
        elif message["type"] == "event":
            got.append(message["event"])
    return got


def _shape(table: Table, who: str) -> list[str]:
    """A participant's sockets carry no presence (others' comings and goings) and no event
    descriptions (the facilitator's timeline lines); each snapshot names its viewer."""
    seat, problems = table.seats[who], []
    for sock in [table.sockets[who], *table.fresh.get(who, [])]:
        for message in received(sock):
            if message["type"] == "snapshot" and seat.kind != "facilitator":
                want = {"kind": seat.kind, "role": seat.role, "participant_id": seat.participant_id}
                if message.get("viewer") != want:
                    problems.append(f"{seat}: a snapshot's viewer is {message.get('viewer')}")
            if seat.kind != "participant":
                continue
            if message["type"] == "presence":
                problems.append(f"{seat}: LEAKED a presence message {message}")
            if message["type"] == "event" and set(message) != {"type", "event"}:
                problems.append(f"{seat}: LEAKED event message keys {sorted(message)}")
    return problems


@dataclass
class Played:
    log: list[dict[str, Any]]
    seats: dict[str, Seat]
    problems: list[Disagreement]
    shape: list[str]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    with running_server(tmp_path_factory.mktemp("oracle"), scenarios_dir=SCENARIOS) as live:
        table = _seat_up(live)
        try:
            last = _play(table)
            log = table.log()
            assert log[-1]["seq"] == last
            for who, seat in table.seats.items():
                got = _stream(table, who, last)
                table.problems += disagreements(log, got, seat, None, "live ws")
            table.check_reads("after the end", released=True, since=last // 2)
            shape = [p for who in table.seats for p in _shape(table, who)]
            raw = [e.to_dict() for e in live.run(live.app.state.service.events(table.drill_id))]
        finally:
            table.close()
        _the_facilitators_copy_is_whole(raw, log)
        yield Played(log, table.seats, table.problems, shape)


def _the_facilitators_copy_is_whole(raw: list[dict[str, Any]], log: list[dict[str, Any]]) -> None:
    """The reference: the facilitator's copy holds every event and every key the engine
    wrote (it may add rendered ones, such as an inject's body as HTML)."""
    assert [e["seq"] for e in raw] == [e["seq"] for e in log]
    for stored, read in zip(raw, log, strict=True):
        what = (read["seq"], read["type"])
        assert {k: v for k, v in read.items() if k != "data"} == {
            k: v for k, v in stored.items() if k != "data"
        }, what
        assert read["data"].items() >= stored["data"].items(), what


def _messages_to_an_absent_role(log: list[dict[str, Any]]) -> set[tuple[int, str]]:
    """(seq, role) of each message addressed to a role while it was unavailable."""
    facts, found = DrillFacts(), set()
    for event in log:
        if event["type"] == "message_sent":
            found |= {(event["seq"], r) for r in event["data"]["to"] if r in facts.unavailable}
        facts.learn(event)
    return found


def _about_messages_to_an_absent_role(played: Played) -> list[str]:
    """Disagreements over who reads a message addressed to a role while it was away."""
    absent = _messages_to_an_absent_role(played.log)
    return [str(p) for p in played.problems if p.seq in {seq for seq, _ in absent}]


def test_the_drill_holds_every_kind_of_event(played: Played) -> None:
    kinds = {e["type"] for e in played.log}
    assert kinds >= EVERY_KIND, f"the drill lacks {sorted(EVERY_KIND - kinds)}"
    skipped = {e["data"]["reason"] for e in played.log if e["type"] == "inject_skipped"}
    assert {"facilitator", "suppressed", "condition"} <= skipped, skipped
    answers = [e["data"] for e in played.log if e["type"] == "decision_answered"]
    assert {"first-containment", "ransom-payment", "shift-rotation"} <= {
        a["decision_id"] for a in answers
    }
    assert any(a["answered_by_role"] == "soc_manager" for a in answers), "a backup's answer"
    assert _messages_to_an_absent_role(played.log), "a message to the absent role"
    participants = [s for s in played.seats.values() if s.kind == "participant"]
    assert len(participants) == 10 and len(played.seats) == 12


def test_every_viewer_gets_exactly_what_the_oracle_says(played: Played) -> None:
    """Every event x every viewer x every door: no leak, nothing missing, no absent key."""
    problems = [str(p) for p in played.problems]
    problems += played.shape
    assert not problems, f"{len(problems)} disagreements with the oracle:\n" + "\n".join(problems)


def test_a_message_to_an_absent_role_reaches_only_its_backup(played: Played) -> None:
    """Like its injects, it goes to the backup acting for it: the absent role's players do
    not read it, then or after they are back (the README's rule; the visibility once let
    them, found by the oracle)."""
    problems = _about_messages_to_an_absent_role(played)
    assert not problems, "\n".join(problems)
