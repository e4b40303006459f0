"""Who sees what, stated a second time, from the README alone.

The server filters each drill's log per viewer in app/realtime/visibility.py. A test that
decides "foreign" or "missing" with that same code cannot catch a bug in it, so this module
states the rules again, independently: from README.md ("How a drill works", "Live drills:
the API and the websocket protocol", "Scores and the after-action report", the scenario
format reference). It imports nothing from app/ and must not: it reads events as the JSON
dicts the API returns (`seq, type, at, scenario_time, actor, data`).

Where an inject or a decision lands is worked out here too, from the drill's own facts
(the roles in play and the backups in `drill_created`, the `role_unavailable` and
`role_available` events before it), not read from the `recipients` and `roles` the server
wrote into the event: a wrong backup would otherwise look right.

The rules, for a participant playing role R with participant id P (the facilitator and
observers see every event, with every key: "Observers and the facilitator see
everything"):

README, stated:
- injects that reached R; decisions put to R; messages R sent or received; the clock; P's
  own joining ("A participant sees the injects that reached their role, the decisions put
  to it, the messages it sent or received, the clock and their own joining");
- never another role's items, other people's comings and goings, observer notes, skipped
  injects, nor (until the facilitator releases them) scores: `expectation_met`,
  `expectation_missed` and `score_adjusted` only once scores are released ("participants
  see adjustments only once the scores are released");
- a role that is unavailable gets none of the injects and decisions addressed to it: "its
  injects and decisions go to its backup", who then acts for it (messages: D3);
- hot-wash answers: "read by the facilitator and observers, never by the other players";
- an inject's `notes` and `questions` and a decision's `notes` are "for the facilitator's
  eyes only";
- "participants see 'the facilitator', never the account": the `actor` of a facilitator's
  event reads `facilitator` to them, not `facilitator:<user name>`.

Decided here, where the README is silent or ambiguous (each marked DECIDED below too):
- D1 `drill_created`: participants see it, without `variables` (the per-drill values
  behind the texts; participants read them filled in, never the table) and without a dry
  run's `dry_run`.
- D2 `role_unavailable` / `role_available`: every participant sees them; whom to write to
  and who acts for whom is the team's common knowledge (the role card shows backups).
- D3 a message to an unavailable role is read by the backup acting for it, not by the
  absent role: the same rule as for injects and decisions.
- D4 decision_answered / _timed_out / _closed reach every role the decision was put to
  when it opened (for a per-role decision too: the roles asked share the question), and
  nobody else, not even a role that becomes available again later.
- D5 a backup chain: an unavailable role's items go to its backup, or if that one is
  unavailable too, to the backup's backup, and so on; nobody if the chain runs out.
- D6 scoring once released: every participant sees every `expectation_*` and
  `score_adjusted`, whichever role they concern (the released scorecard is the team's).
- D7 `scores_released`, `drill_ended` and every clock event (with `unfilled_required`)
  reach every participant.
- D8 an inject's `facts` are the report's who-knew-what analysis, which participants never
  see: absent for them.
- D9 `participant_left` and `feedback_given`: only P's own.
- D10 observers see the facilitator's account in `actor` ("see everything").
- D11 a message's `via_option`, `blanks` and `recipients` and an inject's `to` and
  `recipients` stay: what was sent to whom is what a recipient reads in any mail header.
- D12 an inject that brings a role back (`available`) reaches that role itself: the
  "you are back" call goes to the person coming back. (Its `role_available` follows it in
  the log; an inject that makes a role unavailable still reaches that role, since the
  `role_unavailable` comes after it.)
- D13 an inject's `fired_by_facilitator` is absent for participants: an inject looks the
  same to the players whether it came on time or the facilitator pushed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FACILITATOR = "facilitator"
ALL = "all"

Kind = Literal["facilitator", "observer", "participant"]


@dataclass(frozen=True)
class Seat:
    """Who is looking: the facilitator, an observer, or a participant playing `role`."""

    kind: Kind
    role: str | None = None
    participant_id: str | None = None
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "participant":
            return f"participant {self.name or self.participant_id} ({self.role})"
        return f"{self.kind} {self.name}".strip()

    @property
    def sees_everything(self) -> bool:
        return self.kind in ("facilitator", "observer")


FACILITATOR_SEAT = Seat("facilitator", name="fac")


@dataclass(frozen=True)
class Verdict:
    """What one viewer may get of one event."""

    sees: bool
    absent: frozenset[str] = frozenset()
    """Keys of `data` that must not reach this viewer."""
    actor: str | None = None
    """The `actor` this viewer must be shown; None: as logged."""


HIDDEN = Verdict(False)
WHOLE = Verdict(True)

# Keys that never reach a participant, by event type.
FACILITATOR_ONLY_KEYS: Mapping[str, frozenset[str]] = {
    "drill_created": frozenset({"variables", "dry_run"}),  # DECIDED D1
    # README: notes and questions; DECIDED D8 facts, D13 fired_by_facilitator
    "inject_delivered": frozenset({"notes", "questions", "facts", "fired_by_facilitator"}),
    "decision_opened": frozenset({"notes"}),  # README: a decision's notes
}

SCORING = frozenset(
    {"expectation_met", "expectation_missed", "score_adjusted", "notice_field_rated"}
)
NOTICE_DRAFTS = frozenset({"notice_drafted", "notice_signed_off"})
"""README: the notice drafts of the regimes a role drafts for (the event names them)."""
EVERY_PARTICIPANT = frozenset(
    {
        "clock_started",
        "clock_paused",
        "clock_resumed",
        "clock_speed_changed",
        "clock_jumped",
        "role_unavailable",  # DECIDED D2
        "role_available",  # DECIDED D2
        "scores_released",  # DECIDED D7
        "drill_ended",  # DECIDED D7
        "drill_created",  # DECIDED D1 (without its variables)
        "feed_posted",  # README: the public feed is everyone's
    }
)
NEVER_TO_PARTICIPANTS = frozenset({"inject_skipped", "note_added"})
OWN_ONLY = frozenset({"participant_joined", "participant_left", "feedback_given"})  # D9
DECISION_EVENTS = frozenset(
    {"decision_opened", "decision_answered", "decision_timed_out", "decision_closed"}
)


@dataclass
class DrillFacts:
    """What the rules need to know about the drill so far, folded from its log."""

    roles: list[str] = field(default_factory=list)
    backups: dict[str, str] = field(default_factory=dict)
    unavailable: set[str] = field(default_factory=set)
    asked: dict[str, frozenset[str]] = field(default_factory=dict)
    """Decision id -> the roles it was put to when it opened."""
    released: bool = False
    """Whether a `scores_released` event has been folded in."""

    def acting(self, role: str) -> str | None:
        """Who receives what is addressed to `role` now: the role, or the backup acting
        for it (DECIDED D5: along the chain of backups; nobody when it runs out)."""
        seen: set[str] = set()
        current: str | None = role
        while current is not None and current in self.unavailable:
            if current in seen:
                return None
            seen.add(current)
            current = self.backups.get(current)
        return current

    def reached(self, addressed: Iterable[str], back: Iterable[str] = ()) -> frozenset[str]:
        """The roles that receive something addressed to these roles (`all`: every role
        in play); names that are not roles in play (outside parties) reach nobody.
        `back`: roles this very event makes available again (DECIDED D12)."""
        returning = self.unavailable & set(back)
        self.unavailable -= returning
        try:
            roles: set[str] = set()
            for name in addressed:
                targets = self.roles if name == ALL else [name]
                for target in targets:
                    if target in self.roles:
                        acting = self.acting(target)
                        if acting is not None:
                            roles.add(acting)
            return frozenset(roles)
        finally:
            self.unavailable |= returning

    def learn(self, event: Mapping[str, Any]) -> None:
        """Fold one event in (after it has been judged: an event is judged by what held
        before it, and the unavailability it announces counts from the next one)."""
        kind, data = event["type"], event["data"]
        if kind == "drill_created":
            self.roles = list(data.get("roles") or [])
            self.backups = dict(data.get("backups") or {})
        elif kind == "role_unavailable":
            self.unavailable.add(data["role"])
        elif kind == "role_available":
            self.unavailable.discard(data["role"])
        elif kind == "decision_opened":
            self.asked[data["decision_id"]] = self.reached(data.get("to") or [])
        elif kind == "scores_released":
            self.released = True


def judge(
    event: Mapping[str, Any],
    seat: Seat,
    facts: DrillFacts,
    scores_released: bool,
    back: frozenset[str] = frozenset(),
) -> Verdict:
    """May `seat` see `event` (the facilitator's copy of it), and without which keys?
    `back`: the roles an inject brings back (the `role_available` events right after it)."""
    kind, data = event["type"], event["data"]
    if seat.sees_everything:
        return WHOLE  # README: observers and the facilitator see everything (D10: actor too)
    actor = event["actor"]
    shown_actor = FACILITATOR if actor.startswith(f"{FACILITATOR}:") else None
    absent = FACILITATOR_ONLY_KEYS.get(kind, frozenset())
    role = seat.role
    if kind in EVERY_PARTICIPANT:
        sees = True
    elif kind in NEVER_TO_PARTICIPANTS:
        sees = False
    elif kind in OWN_ONLY:
        sees = data.get("participant_id") == seat.participant_id
    elif kind in SCORING:
        sees = scores_released  # DECIDED D6: every participant once released
    elif kind == "inject_delivered":
        sees = role in facts.reached(data.get("to") or [], back)
    elif kind == "decision_opened":
        sees = role in facts.reached(data.get("to") or [])
    elif kind in DECISION_EVENTS:
        sees = role in facts.asked.get(data["decision_id"], frozenset())  # DECIDED D4
    elif kind in NOTICE_DRAFTS:
        sees = role in data.get("roles", ())
    elif kind == "party_replied":  # README: a reply reaches the role in the thread
        sees = role in data.get("recipients", ())
    elif kind == "message_sent":
        # README: the messages it sent or received; DECIDED D3 for an absent addressee.
        sees = role == data.get("from_role") or role in facts.reached(data.get("to") or [])
        # README: a filed notice is its drafting roles' too.
        sees = sees or role in (data.get("notice") or {}).get("roles", ())
    else:  # an event type the README does not name: nobody but the two who see all
        sees = False
    if not sees:
        return HIDDEN
    return Verdict(True, absent, shown_actor)


def verdicts(
    log: Iterable[Mapping[str, Any]], seat: Seat, scores_released: bool | None
) -> list[tuple[Mapping[str, Any], Verdict]]:
    """Each event of the whole log (from seq 1) with this seat's verdict.

    `scores_released` is whether they are out when the viewer reads (GET, a snapshot); None
    means "as of each event", as a live websocket delivers them: released from the
    `scores_released` event on."""
    events = list(log)
    facts = DrillFacts()
    judged = []
    for index, event in enumerate(events):
        released = facts.released if scores_released is None else scores_released
        back = _brought_back(events, index) if event["type"] == "inject_delivered" else set()
        judged.append((event, judge(event, seat, facts, released, frozenset(back))))
        facts.learn(event)
    return judged


def _brought_back(events: list[Mapping[str, Any]], index: int) -> set[str]:
    """The roles the inject at `index` makes available: the `role_available` events that
    follow it at the same scenario time, before anything else happens."""
    inject, back = events[index], set()
    for later in events[index + 1 :]:
        if later["scenario_time"] != inject["scenario_time"]:
            break
        if later["type"] == "role_available":
            back.add(later["data"]["role"])
        elif later["type"] != "role_unavailable":
            break
    return back


def shown(event: Mapping[str, Any], verdict: Verdict) -> dict[str, Any]:
    """The event as this verdict lets it out: without the absent keys, with its actor."""
    data = {k: v for k, v in event["data"].items() if k not in verdict.absent}
    actor = verdict.actor if verdict.actor is not None else event["actor"]
    return {**event, "actor": actor, "data": data}


@dataclass(frozen=True)
class Disagreement:
    """One way a viewer's copy of the log differs from what the oracle says."""

    where: str
    """The door it came through: "live ws", "GET events", ..."""
    seq: int
    kind: str
    """The event's type ("?" if the facilitator's log lacks it)."""
    seat: Seat
    problem: str
    """Starts with LEAKED (more than the oracle allows) or MISSING (less), or says how."""

    def __str__(self) -> str:
        return f"{self.where}: seq {self.seq} {self.kind} for {self.seat}: {self.problem}"


def disagreements(
    log: Sequence[Mapping[str, Any]],
    got: Sequence[Mapping[str, Any]],
    seat: Seat,
    scores_released: bool | None,
    where: str,
    since: int = 0,
) -> list[Disagreement]:
    """Every way `got` (what `seat` received through `where`) differs from what the oracle
    says of `log` (the whole log, read as the facilitator), one per event and problem;
    empty when they agree."""
    by_seq = {e["seq"]: e for e in log}
    judged = {e["seq"]: v for e, v in verdicts(log, seat, scores_released) if e["seq"] > since}
    problems: list[Disagreement] = []

    def problem(seq: int, text: str) -> None:
        kind = by_seq[seq]["type"] if seq in by_seq else "?"
        problems.append(Disagreement(where, seq, kind, seat, text))

    received: dict[int, Mapping[str, Any]] = {}
    for event in got:
        if event["seq"] in received:
            problem(event["seq"], "received twice")
        received[event["seq"]] = event
    order = [e["seq"] for e in got]
    if order != sorted(order):
        problem(0, f"events out of order: {order}")
    for seq in sorted(set(judged) | set(received)):
        verdict, came = judged.get(seq), received.get(seq)
        if verdict is None:
            problem(seq, f"not in the facilitator's log after since={since}")
        elif came is None and verdict.sees:
            problem(seq, "MISSING: the oracle says this viewer sees it")
        elif came is not None and not verdict.sees:
            problem(seq, "LEAKED: the oracle says this viewer must not see it")
        elif came is not None:
            for text in _compare(shown(by_seq[seq], verdict), came, verdict):
                problem(seq, text)
    return problems


def _compare(want: Mapping[str, Any], came: Mapping[str, Any], verdict: Verdict) -> list[str]:
    problems = []
    for key in sorted(set(want) | set(came)):
        if key != "data" and want.get(key) != came.get(key):
            problems.append(f"{key} is {came.get(key)!r}, expected {want.get(key)!r}")
    data, expected = came.get("data") or {}, want["data"]
    for key in sorted(verdict.absent & set(data)):
        problems.append(f"LEAKED data key {key!r} = {data[key]!r:.80}")
    for key in sorted(set(data) - set(expected) - verdict.absent):
        problems.append(f"LEAKED data key {key!r} that even the facilitator's copy lacks")
    for key in sorted(set(expected) - set(data)):
        problems.append(f"MISSING data key {key!r}")
    for key in sorted(set(expected) & set(data)):
        if expected[key] != data[key]:
            problems.append(f"data {key!r} is {data[key]!r:.80}, not {expected[key]!r:.80}")
    return problems


class _Identity(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str | None: ...
    @property
    def participant_id(self) -> str | None: ...


class Receiver(Protocol):
    """A websocket client that kept every event it received (the load-test bots, with
    `keep_events=True`): read here by attribute, so the oracle still imports no app code."""

    @property
    def identity(self) -> _Identity: ...
    @property
    def received(self) -> list[dict[str, Any]]: ...


def seat_of(client: Receiver) -> Seat:
    who = client.identity
    if who.participant_id is None:
        return Seat("facilitator", name=who.name)
    return Seat("participant", who.role, who.participant_id, who.name)


def live_disagreements(log: Sequence[Mapping[str, Any]], clients: Iterable[Receiver]) -> list[str]:
    """What each client received over its websocket (across reconnects), judged against
    the whole log by the oracle: scores as of each event, as a live socket gets them."""
    return [
        str(problem)
        for client in clients
        for problem in disagreements(log, client.received, seat_of(client), None, "live ws")
    ]
