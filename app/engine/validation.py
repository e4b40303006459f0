"""What types cannot check: references resolve, conditions can hold, the story flows.

Every finding names the path in the document; the loader turns that into a line.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from app.engine.blanks import blanks_in
from app.engine.durations import format_clock
from app.engine.findings import Finding, Loc, error, warning
from app.engine.scenario import (
    EVERYONE,
    ROLE_CATALOGUE,
    Channel,
    Condition,
    MessageMatch,
    OptionMessage,
    RegimeUse,
    Scenario,
    Trigger,
    fill,
    variables_in,
)
from app.engine.simulate import Exploration, explore
from app.regimes.clocks import CalendarError, public_holidays
from app.regimes.library import RegimeError
from app.regimes.library import regime as shipped_regime
from app.regimes.model import Unit

MAX_CONDITION_ATOMS = 12


@dataclass(slots=True)
class Counts:
    injects: int
    decisions: int
    expectations: int
    roles: int
    statements: int
    paths: int
    paths_complete: bool

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "injects": self.injects,
            "decisions": self.decisions,
            "expectations": self.expectations,
            "roles": self.roles,
            "statements": self.statements,
            "paths": self.paths,
            "paths_complete": self.paths_complete,
        }


def validate_scenario(scenario: Scenario) -> tuple[list[Finding], Counts | None]:
    """All findings for a scenario that passed the type checks, and its counts when the
    story could be played (paths are counted by the same exploration that checks it)."""
    findings = list(_References(scenario).check())
    if any(f.level == "error" for f in findings):
        return findings, None  # the story cannot be played until references resolve
    findings += _check_conditions(scenario)
    if any(f.level == "error" for f in findings):
        return findings, None
    exploration = explore(scenario)
    findings += check_flow(scenario, exploration)
    findings += _warnings(scenario)
    return findings, counts(scenario, exploration)


def counts(scenario: Scenario, exploration: Exploration | None = None) -> Counts:
    exploration = exploration or explore(scenario)
    return Counts(
        len(scenario.injects),
        len(scenario.decisions),
        len(scenario.expectations),
        len(scenario.roles),
        len(scenario.statements),
        exploration.path_count,
        exploration.complete,
    )


# --------------------------------------------------------------------------- references


class _References:
    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.inject_ids = {i.id for i in scenario.injects}
        self.decision_ids = {d.id for d in scenario.decisions}
        self.options = {f"{d.id}.{o.id}" for d in scenario.decisions for o in d.options}
        self.flags_set = {f for d in scenario.decisions for o in d.options for f in o.set}

    def check(self) -> Iterator[Finding]:
        yield from self._duplicates()
        yield from self._roles()
        yield from self._variables()
        for i in range(len(self.s.injects)):
            yield from self._inject(i)
        for i in range(len(self.s.decisions)):
            yield from self._decision(i)
        for i, expectation in enumerate(self.s.expectations):
            loc: Loc = ("expectations", i)
            if expectation.from_:
                yield from self._roles_exist(expectation.from_, (*loc, "from"))
            yield from self._recipient(expectation.to, (*loc, "to"))
            for j, other in enumerate(expectation.confused_with):
                yield from self._recipient(other, (*loc, "confused_with", j))
                if other == expectation.to:
                    yield error(
                        (*loc, "confused_with", j),
                        f"{other!r} is the party this expectation is for; `confused_with` "
                        "lists the others a message might go to by mistake",
                    )
            if expectation.after is not None:
                yield from self._trigger(expectation.after, (*loc, "after"))
            if expectation.objective is not None:
                yield from self._objective(expectation.objective, (*loc, "objective"))
            if expectation.when is not None:
                yield from self._condition(expectation.when, (*loc, "when"))
        for i, statement in enumerate(self.s.statements):
            loc = ("statements", i)
            yield from self._roles_exist(statement.roles, (*loc, "roles"))
            for j, recipient in enumerate(statement.to):
                yield from self._recipient(recipient, (*loc, "to", j))
        for i, use in enumerate(self.s.regimes):
            yield from self._regime(use, ("regimes", i))
        for party_id, party in self.s.parties.items():
            for j, reply in enumerate(party.replies):
                loc = ("parties", party_id, "replies", j)
                yield from self._roles_exist(reply.from_, (*loc, "from"))
                if reply.when is not None:
                    yield from self._condition(reply.when, (*loc, "when"))
            ids = [r.id for r in party.replies]
            for repeated in sorted({x for x in ids if ids.count(x) > 1}):
                yield error(
                    ("parties", party_id, "replies"),
                    f"{party_id} has two replies with the id {repeated!r}; give each its own",
                )

    def _duplicates(self) -> Iterator[Finding]:
        sections: dict[str, list[str]] = {
            "injects": [i.id for i in self.s.injects],
            "decisions": [d.id for d in self.s.decisions],
            "expectations": [e.id for e in self.s.expectations],
            "statements": [s.id for s in self.s.statements],
        }
        for section, ids in sections.items():
            seen: dict[str, int] = {}
            for i, item_id in enumerate(ids):
                if item_id in seen:
                    yield error(
                        (section, i, "id"),
                        f"duplicate id {item_id!r}: already used "
                        f"by {section}[{seen[item_id]}]; ids must be unique",
                    )
                seen.setdefault(item_id, i)
        for i, decision in enumerate(self.s.decisions):
            for option_id, n in Counter(o.id for o in decision.options).items():
                if n > 1:
                    j = [o.id for o in decision.options].index(option_id)
                    yield error(
                        ("decisions", i, "options", j, "id"),
                        f"duplicate option id {option_id!r} in this decision",
                    )
        for party in self.s.parties:
            if party in self.s.roles:
                yield error(
                    ("parties", party),
                    f"{party!r} is both a role and a party; "
                    "rename one so messages can be addressed unambiguously",
                )
        if EVERYONE in self.s.roles or EVERYONE in self.s.parties:
            yield error(("roles",), f"{EVERYONE!r} is reserved for addressing everyone")

    def _roles(self) -> Iterator[Finding]:
        for role_id, role in self.s.roles.items():
            if role_id not in ROLE_CATALOGUE and not role.title:
                yield error(
                    ("roles", role_id),
                    f"{role_id!r} is not a built-in role "
                    f"({', '.join(ROLE_CATALOGUE)}); give a custom role a `title`",
                )
            if role.backup is not None:
                if role.backup == role_id:
                    yield error(("roles", role_id, "backup"), "a role cannot be its own backup")
                elif role.backup not in self.s.roles:
                    yield error(("roles", role_id, "backup"), self._unknown_role(role.backup))
            if role.unavailable:
                yield from self._covered_from_start(role_id)

    def _covered_from_start(self, role_id: str) -> Iterator[Finding]:
        """A role unavailable from the start needs a backup chain that ends in a role
        that is there: otherwise its injects and decisions reach nobody."""
        loc: Loc = ("roles", role_id, "unavailable")
        seen, current = {role_id}, self.s.roles[role_id].backup
        while current is not None and current in self.s.roles and current not in seen:
            if not self.s.roles[current].unavailable:
                return
            seen.add(current)
            current = self.s.roles[current].backup
        if self.s.roles[role_id].backup is None:
            yield error(
                loc,
                f"{role_id!r} is unavailable from the start, so someone must act for it: "
                f"give it a backup in play, e.g. `backup: {self._some_other_role(role_id)}`",
            )
        elif current is None or current in seen:
            yield error(
                loc,
                f"{role_id!r} is unavailable from the start and every backup in its chain "
                "is too: let one of them be available, or name another backup",
            )

    def _some_other_role(self, role_id: str) -> str:
        return next((r for r in self.s.roles if r != role_id), "executive")

    def _variables(self) -> Iterator[Finding]:
        texts: list[tuple[Loc, str]] = []
        for i, inject in enumerate(self.s.injects):
            texts += [
                (("injects", i, "title"), inject.title),
                (("injects", i, "body"), inject.body),
            ]
            if inject.sender:
                texts.append((("injects", i, "sender"), inject.sender))
        for i, decision in enumerate(self.s.decisions):
            if decision.title:
                texts.append((("decisions", i, "title"), decision.title))
            texts.append((("decisions", i, "prompt"), decision.prompt))
            for k, option in enumerate(decision.options):
                texts.append((("decisions", i, "options", k, "label"), option.label))
                if option.feedback:
                    texts.append((("decisions", i, "options", k, "feedback"), option.feedback))
                if option.sends is not None:
                    for key in ("subject", "body"):
                        text = getattr(option.sends, key)
                        if text:
                            texts.append((("decisions", i, "options", k, "sends", key), text))
        for i, expectation in enumerate(self.s.expectations):
            texts.append((("expectations", i, "title"), expectation.title))
        for i, statement in enumerate(self.s.statements):
            texts.append((("statements", i, "title"), statement.title))
            texts.append((("statements", i, "body"), statement.body))
        for name, party in self.s.parties.items():
            texts.append((("parties", name, "name"), party.name))
        if self.s.briefing:
            texts.append((("briefing",), self.s.briefing))
        for loc, text in texts:
            for name in variables_in(text):
                if name not in self.s.variables:
                    yield error(
                        loc,
                        f"{{{{{name}}}}} is not a declared variable: add it under "
                        "`variables:` with a default, or fix the spelling",
                    )

    def _unknown_role(self, role: str) -> str:
        return (
            f"{role!r} is not a role of this scenario; add it under `roles:` or use one "
            f"of: {', '.join(self.s.roles)}"
        )

    def _roles_exist(
        self, roles: Iterable[str], loc: Loc, allow_all: bool = False
    ) -> Iterator[Finding]:
        for j, role in enumerate(roles):
            if role == EVERYONE and allow_all:
                continue
            if role not in self.s.roles:
                yield error((*loc, j), self._unknown_role(role))

    def _recipient(self, recipient: str, loc: Loc) -> Iterator[Finding]:
        if recipient not in self.s.roles and recipient not in self.s.parties:
            yield error(
                loc,
                f"{recipient!r} is neither a role nor a party; add it under "
                f"`parties:` or use one of: "
                f"{', '.join([*self.s.roles, *self.s.parties])}",
            )

    def _objective(self, objective: str, loc: Loc) -> Iterator[Finding]:
        if objective not in self.s.objectives:
            yield error(
                loc,
                f"{objective!r} is not an objective; use one of: {', '.join(self.s.objectives)}",
            )

    def _inject_ref(self, inject_id: str, loc: Loc) -> Iterator[Finding]:
        if inject_id not in self.inject_ids:
            yield error(loc, f"there is no inject {inject_id!r}; check the id under `injects:`")

    def _decision_ref(self, decision_id: str, loc: Loc) -> Iterator[Finding]:
        if decision_id not in self.decision_ids:
            yield error(
                loc, f"there is no decision {decision_id!r}; check the id under `decisions:`"
            )

    def _option_ref(self, ref: str, loc: Loc) -> Iterator[Finding]:
        decision_id, _, _ = ref.partition(".")
        if decision_id not in self.decision_ids:
            yield from self._decision_ref(decision_id, loc)
        elif ref not in self.options:
            choices = ", ".join(o.id for o in self.s.decision(decision_id).options)
            yield error(
                loc,
                f"decision {decision_id!r} has no option {ref.partition('.')[2]!r}; "
                f"its options are: {choices}",
            )

    def _match(
        self, match: MessageMatch, loc: Loc, in_condition: bool = False
    ) -> Iterator[Finding]:
        if match.from_:
            yield from self._roles_exist(match.from_, (*loc, "from"))
        if isinstance(match.to, str):
            yield from self._recipient(match.to, (*loc, "to"))
        elif match.to is not None:
            if not match.to:
                yield error(
                    (*loc, "to"),
                    "`to` lists no one: name a role or party, e.g. `to: [regulator]`, "
                    "or leave `to` out to match a message to anyone",
                )
            for j, recipient in enumerate(match.to):
                yield from self._recipient(recipient, (*loc, "to", j))
        if match.by is not None and not in_condition:
            yield error(
                (*loc, "by"),
                "`by` belongs in a condition (`when: {sent: {to: legal, by: 1h}}`); what "
                "starts a timer is the first matching message, whenever it is sent",
            )

    def _trigger(self, trigger: Trigger, loc: Loc) -> Iterator[Finding]:
        if trigger.inject is not None:
            yield from self._inject_ref(trigger.inject, (*loc, "inject"))
        elif trigger.decision is not None:
            yield from self._decision_ref(trigger.decision, (*loc, "decision"))
        elif trigger.option is not None:
            yield from self._option_ref(trigger.option, (*loc, "option"))
        elif trigger.message is not None:
            yield from self._match(trigger.message, (*loc, "message"))

    def _regime(self, use: RegimeUse, loc: Loc) -> Iterator[Finding]:
        """The regime exists; each bound event is one of its events and its trigger
        refers to what is in the scenario; each recipient a duty is owed to has a party;
        business days have a holiday calendar. Warnings where a duty can never start."""
        try:
            found = shipped_regime(use.regime)
        except RegimeError as exc:
            yield error((*loc, "regime"), str(exc))
            return
        for event, trigger in use.starts.items():
            if event not in found.events:
                yield error(
                    (*loc, "starts", event),
                    f"{found.name} has no event {event!r}; its events are: "
                    f"{', '.join(found.events)}",
                )
            else:
                yield from self._trigger(trigger, (*loc, "starts", event))
        for event, words in found.events.items():
            if event not in use.starts:
                yield warning(
                    (*loc, "starts"),
                    f"{found.name}'s event {event!r} ({words}) is not bound, so the duties "
                    f"that start on it never start; bind it, e.g. `{event}: {{inject: ID}}`",
                )
        for j, party in enumerate(use.confused_with):
            if party not in self.s.parties:
                yield error(
                    (*loc, "confused_with", j),
                    f"{party!r} is not a party; add it under `parties:` or use one of: "
                    f"{', '.join(self.s.parties) or '(none yet)'}",
                )
        for key in ("authority", "people", "media"):
            party = getattr(use, key)
            if party is not None and party not in self.s.parties:
                yield error(
                    (*loc, key),
                    f"{party!r} is not a party; add it under `parties:` or use one of: "
                    f"{', '.join(self.s.parties) or '(none yet)'}",
                )
        yield from self._roles_exist(use.roles, (*loc, "roles"))
        if use.sign_off is not None:
            yield from self._roles_exist([use.sign_off], (*loc, "sign_off"))
            if not use.roles:
                yield warning(
                    (*loc, "roles"),
                    f"{use.sign_off} signs {found.name}'s notices off, but no role drafts "
                    "them; name the drafting roles under `roles:` (e.g. legal)",
                )
        yield from self._figures(use, loc)
        asked = {f.fact for d in found.duties for f in d.fields if f.fact and f.required}
        for fact in sorted(asked - set(use.facts)):
            yield warning(
                (*loc, "facts"),
                f"{found.name}'s notice forms ask for {fact}; give the figure (`facts: "
                f"{{{fact}: {{value: N, revealed_by: FACT}}}}`) or any number filed for it "
                "counts as right",
            )
        duty_ids = [d.id for d in found.duties]
        for duty_id, score in use.score.items():
            if duty_id not in duty_ids:
                yield error(
                    (*loc, "score", duty_id),
                    f"{found.name} has no duty {duty_id!r}; its duties are: {', '.join(duty_ids)}",
                )
            if score.objective is not None:
                yield from self._objective(score.objective, (*loc, "score", duty_id, "objective"))
        kinds = {"authority": "authority", "affected people": "people", "media": "media"}
        for duty in found.duties:
            key = kinds[str(duty.recipient)]
            if getattr(use, key) is None:
                yield warning(
                    (*loc, key),
                    f"{found.name}'s duty {duty.id!r} is owed to {duty.recipient_name}; "
                    f"name the party that stands for them (`{key}: PARTY`) or it can "
                    "never be filed",
                )
            calendar = found.calendar or use.jurisdiction
            if duty.within.unit is Unit.business_days and calendar is None:
                yield error(
                    (*loc, "jurisdiction"),
                    f"{found.name}'s duty {duty.id!r} counts business days: name the "
                    "jurisdiction whose public holidays they skip, e.g. DE-BE",
                )
            if duty.threshold is not None and duty.threshold.fact not in use.facts:
                yield warning(
                    (*loc, "facts"),
                    f"{found.name}'s duty {duty.id!r} applies only if "
                    f"{duty.threshold.fact} >= {duty.threshold.at_least}; give the figure "
                    f"(`facts: {{{duty.threshold.fact}: N}}`) or its clock always runs",
                )
        if use.jurisdiction is not None:
            try:
                public_holidays(use.jurisdiction)
            except CalendarError as exc:
                yield error((*loc, "jurisdiction"), str(exc))

    def _figures(self, use: RegimeUse, loc: Loc) -> Iterator[Finding]:
        revealed = {fact for inject in self.s.injects for fact in inject.facts}
        for name in use.facts:
            figure = use.figure(name)
            fact = None if figure is None else figure.revealed_by
            if fact is None:
                continue
            where = (*loc, "facts", name, "revealed_by")
            if fact not in self.s.facts:
                yield error(
                    where,
                    f"{fact!r} is not a fact of the scenario; add it under `facts:` or use "
                    f"one of: {', '.join(self.s.facts) or '(none yet)'}",
                )
            elif fact not in revealed:
                yield warning(
                    where,
                    f"no inject reveals {fact!r}, so the team never learns {name}; add "
                    f"`facts: [{fact}]` to the inject that tells them",
                )

    def _condition(self, cond: Condition, loc: Loc) -> Iterator[Finding]:
        if cond.flag is not None and cond.flag not in self.flags_set:
            yield error(
                (*loc, "flag"),
                f"no option ever sets the flag {cond.flag!r}; set it "
                "with `set: {" + cond.flag + ": true}` on an option, or fix the name",
            )
        elif cond.chosen is not None:
            yield from self._option_ref(cond.chosen, (*loc, "chosen"))
        elif cond.answered is not None:
            yield from self._decision_ref(cond.answered, (*loc, "answered"))
        elif cond.open is not None:
            yield from self._decision_ref(cond.open, (*loc, "open"))
        elif cond.delivered is not None:
            yield from self._inject_ref(cond.delivered, (*loc, "delivered"))
        elif cond.sent is not None:
            yield from self._match(cond.sent, (*loc, "sent"), in_condition=True)
        for key in ("all", "any"):
            for j, part in enumerate(getattr(cond, key) or []):
                yield from self._condition(part, (*loc, key, j))
        if cond.not_ is not None:
            yield from self._condition(cond.not_, (*loc, "not"))

    def _inject(self, i: int) -> Iterator[Finding]:
        inject = self.s.injects[i]
        loc: Loc = ("injects", i)
        yield from self._roles_exist(inject.to, (*loc, "to"), allow_all=True)
        if inject.post is not None and inject.to != [EVERYONE]:
            yield error(
                (*loc, "to"),
                "a post is public: everyone in the drill sees it; write `to: [all]`",
            )
        if inject.post is not None and inject.channel not in (Channel.news, Channel.social):
            yield error(
                (*loc, "channel"),
                "a post appears in the public feed as news or social: `channel: news` or "
                "`channel: social`",
            )
        yield from self._roles_exist(inject.unavailable, (*loc, "unavailable"))
        yield from self._roles_exist(inject.available, (*loc, "available"))
        if inject.after is not None:
            yield from self._trigger(inject.after, (*loc, "after"))
            if inject.after.inject == inject.id:
                yield error((*loc, "after"), "an inject cannot come after itself")
        if inject.when is not None:
            yield from self._condition(inject.when, (*loc, "when"))
        if inject.opens is not None:
            yield from self._decision_ref(inject.opens, (*loc, "opens"))
        for j, fact in enumerate(inject.facts):
            if fact not in self.s.facts:
                yield error(
                    (*loc, "facts", j),
                    f"{fact!r} is not a declared fact; add it under "
                    "`facts:` with a short description",
                )
        triggered = any(inject.id in o.triggers for d in self.s.decisions for o in d.options)
        if inject.at is None and inject.after is None and not triggered:
            yield error(
                loc,
                f"inject {inject.id!r} is never scheduled: give it `at:` (an "
                "offset from the start), `after:` (an event), or list it in an "
                "option's `triggers:`",
            )

    def _ready_to_send(self, sends: OptionMessage, loc: Loc) -> Iterator[Finding]:
        """A message with a template gap still in it meets no expectation, and nobody
        answering can fill it in: the author must write it out."""
        defaults = {name: v.default for name, v in self.s.variables.items()}
        for key in ("subject", "body"):
            text: str | None = getattr(sends, key)
            if not text:
                continue
            # An undeclared {{name}} has its own finding: the other gaps are reported here.
            gaps = [g for g in blanks_in(fill(text, defaults)) if not g.startswith("{{")]
            if gaps:
                yield error(
                    (*loc, key),
                    f"the message this option sends still holds {gaps[0]!r}, a blank nobody "
                    "can fill in when answering: it would never meet an expectation; write "
                    "the text out (a {{variable}} declared under `variables:` is fine)",
                )

    def _decision(self, i: int) -> Iterator[Finding]:
        decision = self.s.decisions[i]
        loc: Loc = ("decisions", i)
        yield from self._roles_exist(decision.to, (*loc, "to"), allow_all=True)
        if decision.default not in {o.id for o in decision.options}:
            yield error(
                (*loc, "default"),
                f"the default {decision.default!r} is not one of "
                f"the options: {', '.join(o.id for o in decision.options)}",
            )
        if decision.time_limit <= 0:
            yield error((*loc, "time_limit"), "give the decision a time limit above zero")
        openers = [j for j, inj in enumerate(self.s.injects) if inj.opens == decision.id]
        if not openers:
            yield error(
                loc,
                f"no inject opens decision {decision.id!r}: add "
                f"`opens: {decision.id}` to the inject that puts this question",
            )
        for j in openers[1:]:
            yield error(
                ("injects", j, "opens"),
                f"decision {decision.id!r} is already opened "
                f"by injects[{openers[0]}]; a decision is opened by one inject",
            )
        for k, option in enumerate(decision.options):
            oloc: Loc = (*loc, "options", k)
            for j, inject_id in enumerate(option.triggers):
                yield from self._inject_ref(inject_id, (*oloc, "triggers", j))
            for j, inject_id in enumerate(option.suppresses):
                yield from self._inject_ref(inject_id, (*oloc, "suppresses", j))
            for objective in option.score:
                yield from self._objective(objective, (*oloc, "score", objective))
            if option.sends is not None:
                for j, recipient in enumerate(option.sends.to):
                    yield from self._recipient(recipient, (*oloc, "sends", "to", j))
                yield from self._ready_to_send(option.sends, (*oloc, "sends"))


# --------------------------------------------------------------------------- conditions


def _atoms(cond: Condition) -> Iterator[Condition]:
    if cond.all is not None or cond.any is not None:
        for part in cond.all or cond.any or []:
            yield from _atoms(part)
    elif cond.not_ is not None:
        yield from _atoms(cond.not_)
    else:
        yield cond


def _evaluate(cond: Condition, values: dict[str, bool]) -> bool:
    if cond.all is not None:
        return all(_evaluate(p, values) for p in cond.all)
    if cond.any is not None:
        return any(_evaluate(p, values) for p in cond.any)
    if cond.not_ is not None:
        return not _evaluate(cond.not_, values)
    return values[cond.model_dump_json()]


def can_hold(scenario: Scenario, cond: Condition) -> bool:
    """Whether some story could make `cond` true (an exhaustive truth table)."""
    atoms = {a.model_dump_json(): a for a in _atoms(cond)}
    if len(atoms) > MAX_CONDITION_ATOMS:
        return True
    flags_true = {f for d in scenario.decisions for o in d.options for f, v in o.set.items() if v}
    keys = list(atoms)
    for values in itertools.product((False, True), repeat=len(keys)):
        assignment = dict(zip(keys, values, strict=True))
        if not _consistent(scenario, atoms, assignment, flags_true):
            continue
        if _evaluate(cond, assignment):
            return True
    return False


def _consistent(
    scenario: Scenario, atoms: dict[str, Condition], values: dict[str, bool], flags_true: set[str]
) -> bool:
    chosen_per_decision: Counter[str] = Counter()
    for key, atom in atoms.items():
        if not values[key]:
            continue
        if atom.flag is not None and atom.flag not in flags_true:
            return False
        if atom.chosen is not None:
            decision_id = atom.chosen.partition(".")[0]
            if not scenario.decision(decision_id).per_role:
                chosen_per_decision[decision_id] += 1
    # Within one state: a decision cannot be both open and answered.
    open_ids = {a.open for k, a in atoms.items() if a.open and values[k]}
    answered_ids = {a.answered for k, a in atoms.items() if a.answered and values[k]}
    return not (open_ids & answered_ids) and all(n <= 1 for n in chosen_per_decision.values())


def _check_conditions(scenario: Scenario) -> Iterator[Finding]:
    for i, inject in enumerate(scenario.injects):
        if inject.when is not None and not can_hold(scenario, inject.when):
            yield error(
                ("injects", i, "when"),
                f"this condition can never be true, so "
                f"{inject.id!r} would never arrive: check for contradictions",
            )
    for i, expectation in enumerate(scenario.expectations):
        if expectation.when is not None and not can_hold(scenario, expectation.when):
            yield error(
                ("expectations", i, "when"),
                "this condition can never be true, so the expectation never applies",
            )


# --------------------------------------------------------------------------- flow


def check_flow(scenario: Scenario, exploration: Exploration) -> list[Finding]:
    """Reachability, dead ends and endings, from playing every path."""
    findings: list[Finding] = []
    delivered: set[str] = set()
    armed: set[str] = set()
    opened: set[str] = set()
    dead_ends: set[str] = set()
    endless: Finding | None = None
    for path in exploration.paths:
        # Every path counts towards what is reached, even after one that never ends: a
        # missing `clock.end` is one finding, not a cascade of false "never delivered".
        delivered |= set(path.state.delivered)
        armed |= path.state.armed
        opened |= set(path.state.decisions)
        dead_ends |= set(path.dead_end_after)
        if endless is None and path.runaway:
            endless = error(
                ("clock",),
                "on the path "
                f"{_describe(path.choices)} the drill never ends: set "
                "`clock.end`, or end it with `ends_drill`",
            )
        elif endless is None and path.stalled:
            endless = error(
                ("clock",),
                "on the path "
                f"{_describe(path.choices)} nothing more happens but the "
                "drill never ends: set `clock.end`, or give the last inject "
                "or option `ends_drill: true`",
            )
    if endless is not None:
        findings.append(endless)
    late = _injects_after_the_end(scenario)
    findings += late.values()
    findings += _deadlines_after_the_end(scenario, exploration)
    for i, inject in enumerate(scenario.injects):
        if inject.id in delivered or i in late:
            continue
        why = _why_not(inject.id, exploration)
        level = warning if _mentions_messages(inject.after, inject.when) else error
        findings.append(
            level(
                ("injects", i),
                f"inject {inject.id!r} is never delivered on any path through the decisions: {why}",
            )
        )
    for i, decision in enumerate(scenario.decisions):
        if decision.id not in opened:
            findings.append(
                error(
                    ("decisions", i),
                    f"decision {decision.id!r} is never put "
                    "to anyone: the inject that opens it never arrives",
                )
            )
    for i, decision in enumerate(scenario.decisions):
        for k, option in enumerate(decision.options):
            ref = f"{decision.id}.{option.id}"
            if ref in dead_ends and not _continues_elsewhere(exploration, ref):
                findings.append(
                    error(
                        ("decisions", i, "options", k),
                        f"option {ref} is a "
                        "dead end: nothing arrives after it and it does not end "
                        "the drill; trigger a follow-up inject or set "
                        "`ends_drill: true`",
                    )
                )
    return findings


def _injects_after_the_end(scenario: Scenario) -> dict[int, Finding]:
    """Injects timed (`at`) after `clock.end`, by index: the drill is over before them."""
    end = scenario.clock.end
    if end is None:
        return {}
    return {
        i: error(
            ("injects", i, "at"),
            f"inject {inject.id!r} is due at {format_clock(inject.at)}; the clock ends at "
            f"{format_clock(end)}: the drill ends first, so it never arrives; move `at` "
            "earlier or lengthen `clock.end`",
        )
        for i, inject in enumerate(scenario.injects)
        if inject.at is not None and inject.at > end
    }


def _deadlines_after_the_end(scenario: Scenario, exploration: Exploration) -> Iterator[Finding]:
    """Expectations whose deadline falls after `clock.end` wherever they apply: the drill
    ends before anyone could be late, so a team that never sends it is never charged.
    One with a `rationale` is left alone: a statutory deadline (GDPR's 72 hours) may run
    past the exercise on purpose, and what the team sends during it still counts."""
    end = scenario.clock.end
    if end is None:
        return
    deadlines: dict[str, list[float]] = {}
    for path in exploration.paths:
        for expectation_id, pending in path.state.expectations.items():
            deadlines.setdefault(expectation_id, []).append(pending.deadline)
    for i, expectation in enumerate(scenario.expectations):
        if expectation.rationale:
            continue
        if expectation.after is None:
            seen = [expectation.within]  # counted from the start: known without playing
        else:
            seen = deadlines.get(expectation.id, [])
        if seen and min(seen) > end:
            yield error(
                ("expectations", i, "within"),
                f"expectation {expectation.id!r} is due at {format_clock(min(seen))}; the "
                f"clock ends at {format_clock(end)}: the drill ends first, so it is never "
                "scored as missed or late; shorten `within` or lengthen `clock.end` (if a "
                "rule sets this deadline, name it in `rationale`)",
            )


def _why_not(inject_id: str, exploration: Exploration) -> str:
    """Why an inject never arrives, from how the explored paths skipped it."""
    reasons = {
        p.state.skipped[inject_id] for p in exploration.paths if inject_id in p.state.skipped
    }
    if not reasons and any(inject_id in p.state.armed for p in exploration.paths):
        return (
            "it is scheduled, but the drill ends before it falls due on every path: "
            "shorten its `delay` or lengthen `clock.end`"
        )
    if not reasons:
        return "what it comes after never happens on any path"
    if reasons == {"suppressed"}:
        return "an earlier option suppresses it on every path where it falls due"
    if reasons == {"condition"}:
        return "its `when` condition is false whenever it falls due, on every path"
    return "it is suppressed or its `when` condition is false wherever it falls due"


def _continues_elsewhere(exploration: Exploration, ref: str) -> bool:
    """An option is a dead end only if nothing follows it on every path that takes it."""
    return any(
        ref not in p.dead_end_after and ref in {f"{d}.{o}" for d, o in p.choices.items()}
        for p in exploration.paths
    )


def _mentions_messages(trigger: Trigger | None, cond: Condition | None) -> bool:
    if trigger is not None and trigger.message is not None:
        return True
    return cond is not None and any(a.sent is not None for a in _atoms(cond))


def _describe(choices: dict[str, str]) -> str:
    return ", ".join(f"{d}={o}" for d, o in choices.items()) or "of the default options"


def _warnings(scenario: Scenario) -> Iterator[Finding]:
    receiving: set[str] = set()
    for inject in scenario.injects:
        receiving |= set(scenario.roles) if EVERYONE in inject.to else set(inject.to)
    for decision in scenario.decisions:
        receiving |= set(scenario.roles) if EVERYONE in decision.to else set(decision.to)
    for role in scenario.roles:
        if role not in receiving:
            yield warning(
                ("roles", role),
                f"role {role!r} is in play but never receives an inject or a decision",
            )
    scored = {o for d in scenario.decisions for opt in d.options for o in opt.score}
    scored |= {e.objective for e in scenario.expectations if e.objective}
    for objective in scenario.objectives:
        if objective not in scored:
            yield warning(
                ("objectives", objective),
                f"objective {objective!r} is never scored by an option or an expectation",
            )
