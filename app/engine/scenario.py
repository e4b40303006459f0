"""The scenario format, version 1: what a scenario author writes in YAML.

These pydantic models are the single source of truth for the format. They validate
types and shapes; `app.engine.validation` checks what types cannot (references resolve,
everything is reachable, the drill can end). The JSON Schema (`tabletop schema`) and the
format reference in the README are generated from them, docstrings included.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.engine.durations import Duration
from app.engine.headlines import headline
from app.regimes.model import Recipient

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"),
    Field(description="An identifier: lower-case letters, digits, '-' and '_', up to 64."),
]
OptionRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}\.[a-z0-9][a-z0-9_-]{0,63}$"),
    Field(description="An option of a decision, written DECISION.OPTION, e.g. pay-ransom.refuse."),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=300)]
DECISION_TITLE_WIDTH = 100
"""The most characters a decision's title takes, written or taken from its prompt: one
width, so the phone, the console, the scores and the report all name it alike."""
AttackId = Annotated[
    str,
    StringConstraints(pattern=r"^T\d{4}(\.\d{3})?$"),
    Field(description="A MITRE ATT&CK technique ID such as T1486 or T1566.001."),
]

EVERYONE = "all"
"""Written in `to:` to address every role in play."""


class Strict(BaseModel):
    """Base for the format: unknown keys are errors (they are almost always typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Difficulty(StrEnum):
    introductory = "introductory"
    intermediate = "intermediate"
    advanced = "advanced"


class Phase(StrEnum):
    """Incident-response phases of NIST SP 800-61."""

    preparation = "preparation"
    detection_analysis = "detection_analysis"
    containment = "containment"
    eradication = "eradication"
    recovery = "recovery"
    post_incident = "post_incident"


class Channel(StrEnum):
    email = "email"
    phone = "phone"
    chat = "chat"
    news = "news"
    social = "social"
    siem = "siem"
    ticket = "ticket"
    sms = "sms"
    letter = "letter"
    meeting = "meeting"
    edr = "edr"


class Severity(StrEnum):
    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class PartyKind(StrEnum):
    customers = "customers"
    regulator = "regulator"
    press = "press"
    law_enforcement = "law_enforcement"
    board = "board"
    staff = "staff"
    vendor = "vendor"
    partner = "partner"
    insurer = "insurer"
    card_brands = "card_brands"
    employee_representatives = "employee_representatives"
    """A trade union, a works council, staff representatives."""
    other = "other"


ROLE_CATALOGUE: dict[str, tuple[str, str]] = {
    "incident_manager": (
        "Incident manager",
        "Runs the response: calls meetings, holds people to their actions, summarises impact.",
    ),
    "lead_investigator": (
        "Lead investigator",
        "Leads the technical investigation: scope, root cause, evidence, containment advice.",
    ),
    "soc_analyst": (
        "SOC analyst",
        "Triages alerts and investigates in the SIEM and EDR; first to see technical signals.",
    ),
    "legal": (
        "Legal counsel",
        "Decides whether and when to disclose; regulators, contracts, litigation, evidence.",
    ),
    "communications": (
        "Communications / PR",
        "Press, social media, customer and staff messages; only they speak outside.",
    ),
    "hr": ("HR", "Personnel matters, insider cases, internal communication to staff."),
    "executive": (
        "Executive sponsor (CISO)",
        "Owns the incident for the executive team; briefs the CEO and the board; approves.",
    ),
    "it_operations": (
        "IT operations",
        "Runs the systems: isolates hosts, restores backups, changes network and accounts.",
    ),
}
"""The built-in roles. A scenario may add its own by giving them a title."""


class Role(Strict):
    """A role in play. Built-in roles need nothing; a custom role needs a `title`."""

    title: ShortText | None = Field(
        default=None, description="Display name; required for a custom role."
    )
    description: Text | None = Field(default=None, description="What this role does here.")
    required: StrictBool = Field(
        default=False, description="The drill should not start until someone plays this role."
    )
    backup: Id | None = Field(
        default=None,
        description="The role that acts for this one when it is unavailable (on holiday, "
        "unreachable). It then receives this role's injects and decisions.",
    )
    unavailable: StrictBool = Field(
        default=False,
        description="Unavailable from the drill's first moment (on leave, on a plane): its "
        "`backup` acts for it from the start, until an inject's `available` brings it back.",
    )


class Variable(Strict):
    """A value set per drill and used in texts as {{name}}, so one scenario fits many teams."""

    default: ShortText = Field(description="The value used unless the drill sets another.")
    description: ShortText | None = Field(default=None, description="What to fill in.")


class PartyReply(Strict):
    """What an outside party answers by itself, when no white cell plays it (with one, it
    is a one-click suggestion): once, to the role whose message started it, `delay` after
    the first message to the party (from one of `from`, if given), if `when` holds then."""

    id: Id
    body: Text = Field(description="The answer. {{variables}} are filled in per drill.")
    subject: ShortText | None = Field(default=None, description="Default: 'Re: ' the message's.")
    from_: list[Id] = Field(
        default_factory=list,
        alias="from",
        description="Roles whose message starts it; empty: any role.",
    )
    delay: Duration = Field(default=0.0, description="How long after that message it comes.")
    when: Condition | None = Field(
        default=None, description="Sent only if this holds when it falls due."
    )


class Party(Strict):
    """Someone outside the response team that messages can be addressed to."""

    name: ShortText = Field(description="How it is shown, e.g. 'Information Commissioner'.")
    kind: PartyKind = Field(default=PartyKind.other, description="What sort of party.")
    description: Text | None = None
    public: StrictBool = Field(
        default=False,
        description="Messages to it are published (the company's website, its social "
        "accounts): they appear in the public feed for everyone.",
    )
    replies: list[PartyReply] = Field(
        default_factory=list,
        description="What it answers by itself, in order (e.g. the regulator acknowledges "
        "10 minutes after a notification).",
    )


class Objective(Strict):
    """What the drill evaluates, tagged with its NIST SP 800-61 phase."""

    title: ShortText = Field(description="What the team must show, in a sentence.")
    phase: Phase = Field(description="The NIST SP 800-61 phase it belongs to.")
    description: Text | None = None
    capability: ShortText | None = Field(
        default=None, description="The capability it exercises, as in an HSEEP report."
    )


MAX_SPEED = 1440.0
"""The fastest a drill may run: a whole day of the story in one real minute. The scenario
format, the engine, the API and the pages all take it from here."""


class Clock(Strict):
    """The scenario's world clock."""

    start: datetime = Field(
        description="When the incident begins in the story, e.g. 2026-12-24T22:40:00 "
        "(Christmas Eve, late).",
    )
    timezone: ShortText = Field(default="UTC", description="An IANA zone, e.g. Europe/Berlin.")
    speed: float = Field(
        default=1.0,
        gt=0,
        le=MAX_SPEED,
        description="Scenario minutes per real minute. 10 plays a 10-hour night in an hour.",
    )
    end: Duration | None = Field(
        default=None,
        description="The drill ends by itself at this scenario time after the start.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/London' "
                "or 'America/New_York'"
            ) from exc
        return value


class MessageMatch(Strict):
    """Matches messages: from one of these roles, to this role or party (or to any of a
    list of them). Omitted means any. In a condition, `by` also asks when it was sent."""

    from_: list[Id] | None = Field(
        default=None, alias="from", description="Roles that sent it; omitted: any role."
    )
    to: Id | list[Id] | None = Field(
        default=None,
        description="A role or party, or a list of them (any one will do), e.g. "
        "`to: regulator` or `to: [regulator, dpa]`.",
    )
    by: Duration | None = Field(
        default=None,
        description="Conditions only: the message was first sent at or before this offset "
        "from the drill's start, e.g. `by: 1h20m`.",
    )

    @property
    def recipients(self) -> list[str] | None:
        """The recipients it accepts, as a list; None for any."""
        if self.to is None:
            return None
        return [self.to] if isinstance(self.to, str) else list(self.to)

    def accepts(self, sender: str, recipient: str) -> bool:
        """Whether a message from `sender` to `recipient` is one this matches (ignoring
        `by`, which the caller checks against when the pair was first sent)."""
        if self.from_ is not None and sender not in self.from_:
            return False
        accepted = self.recipients
        return accepted is None or recipient in accepted


def _exactly_one(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        keys = ", ".join(n.rstrip("_") for n in names)
        found = ", ".join(n.rstrip("_") for n in given) or "none"
        raise ValueError(f"{what} takes exactly one of: {keys} (found: {found})")


class Condition(Strict):
    """A test on the story so far. Exactly one key. Combine with all / any / not.

    - flag: NAME             a flag some option set is true
    - chosen: DECISION.OPTION that option was chosen (answered or by timeout)
    - answered: DECISION     the decision is closed (answered or timed out)
    - open: DECISION         the decision is open right now, waiting for an answer
    - delivered: INJECT      the inject has been delivered
    - sent: {from, to}       a message matching has been sent (`to` may be a list: any of
                             them); add `by: DURATION` for "sent by then": the first such
                             message went at or before that offset from the drill's start
    - all / any: [...]       every / at least one of the conditions
    - not: {...}             the condition is false: `not: {sent: {to: legal}}` pushes a
                             team that has not yet told legal; `not: {sent: {to: staff,
                             by: 1h20m}}` holds if the staff were not told by T+1h20m
                             (checked when it is evaluated: before T+1h20m it means
                             "not told yet")
    """

    flag: Id | None = None
    chosen: OptionRef | None = None
    answered: Id | None = None
    open: Id | None = None
    delivered: Id | None = None
    sent: MessageMatch | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_key(self) -> Condition:
        _exactly_one(self, CONDITION_KEYS, "a condition")
        return self


CONDITION_KEYS = ("flag", "chosen", "answered", "open", "delivered", "sent", "all", "any", "not_")


class Trigger(Strict):
    """What starts a timer: exactly one key.

    - inject: ID             when that inject is delivered
    - decision: ID           when that decision closes (answered or timed out)
    - option: DECISION.OPTION when that option is chosen
    - message: {from, to}    when the first matching message is sent
    """

    inject: Id | None = None
    decision: Id | None = None
    option: OptionRef | None = None
    message: MessageMatch | None = None

    @model_validator(mode="after")
    def _one_key(self) -> Trigger:
        _exactly_one(self, TRIGGER_KEYS, "`after`")
        return self


TRIGGER_KEYS = ("inject", "decision", "option", "message")


class Tone(StrEnum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class FeedPost(Strict):
    """An inject that is a public post: a news article or a social post in the feed
    every participant sees, with the figures that show how far it travels."""

    outlet: ShortText = Field(description="The paper, channel or network, e.g. 'The Times'.")
    handle: ShortText | None = Field(default=None, description="The account, e.g. '@shopwatch'.")
    likes: int = Field(default=0, ge=0)
    shares: int = Field(default=0, ge=0)
    replies: int = Field(default=0, ge=0)
    tone: Tone = Field(default=Tone.negative, description="How it speaks of the organisation.")


class Attachment(Strict):
    """A file of the scenario's bundle an inject carries: an image shows inline, a PDF,
    text, CSV or log file opens in a viewer or downloads."""

    file: str = Field(
        pattern=r"^assets/[A-Za-z0-9._/-]+$",
        max_length=200,
        description="Its path in the bundle, e.g. `assets/ransom-note.png`.",
    )
    title: ShortText | None = Field(default=None, description="Default: the file's name.")


class Inject(Strict):
    """Something that arrives: an alert, a call, an email, a news story.

    Timing: `at` (an offset from the drill's start) or `after` (an event) plus `delay`.
    An inject with neither arrives only when an option `triggers` it. If `when` is false
    at the moment it falls due, it is skipped, and the log says so.
    """

    id: Id
    title: ShortText = Field(description="The subject line or headline participants see.")
    body: Text = Field(description="Markdown. {{variables}} are filled in per drill.")
    sender: ShortText | None = Field(default=None, description="Who it appears to come from.")
    channel: Channel = Field(default=Channel.email, description="How it arrives; styles it.")
    to: list[Id] = Field(min_length=1, description="Role ids, or `all` for every role in play.")
    at: Duration | None = Field(default=None, description="Offset from the drill's start.")
    after: Trigger | None = Field(default=None, description="The event it follows.")
    delay: Duration = Field(default=0.0, description="How long after `after` (or a trigger).")
    when: Condition | None = Field(
        default=None, description="Delivered only if this holds when it falls due."
    )
    severity: Severity = Field(default=Severity.info, description="How urgent it looks.")
    attack: list[AttackId] = Field(default_factory=list, description="ATT&CK techniques shown.")
    opens: Id | None = Field(default=None, description="The decision this inject puts to roles.")
    unavailable: list[Id] = Field(
        default_factory=list,
        description="Roles that become unavailable when this arrives; their backups act.",
    )
    available: list[Id] = Field(
        default_factory=list, description="Roles that are reachable again from now on."
    )
    ends_drill: StrictBool = Field(default=False, description="The drill ends when it arrives.")
    facts: list[Id] = Field(
        default_factory=list,
        description="Key facts this inject reveals (e.g. breach_confirmed), for the "
        "who-knew-what-when analysis.",
    )
    notes: Text | None = Field(default=None, description="For the facilitator's eyes only.")
    questions: list[Text] = Field(
        default_factory=list, description="Discussion questions for the facilitator to ask."
    )
    attachments: list[Attachment] = Field(
        default_factory=list,
        description="Files of the scenario's bundle it carries (the scenario must be a "
        "folder or .zip with an `assets/` folder).",
    )
    post: FeedPost | None = Field(
        default=None,
        description="A public post (channel news or social, to all): shown in the public "
        "feed with its outlet and engagement, and counted in the pressure gauge.",
    )

    @model_validator(mode="after")
    def _timing(self) -> Inject:
        if self.at is not None and self.after is not None:
            raise ValueError("an inject takes `at` or `after`, not both")
        if self.at is not None and self.delay:
            raise ValueError("`delay` goes with `after`; with `at`, add the delay to `at`")
        return self


class OptionMessage(Strict):
    """The message an option sends when someone answers with it."""

    to: list[Id] = Field(min_length=1, description="Roles or parties, e.g. `to: [regulator]`.")
    subject: ShortText | None = Field(
        default=None, description="Default: the option's label. {{variables}} are filled in."
    )
    body: Text | None = Field(
        default=None,
        description="Default: the option's label and description. {{variables}} are filled in.",
    )


class Option(Strict):
    """One answer to a decision, and what it does to the story."""

    id: Id
    label: ShortText = Field(description="The answer as participants see it.")
    description: Text | None = None
    set: dict[Id, StrictBool] = Field(default_factory=dict, description="Flags to set.")
    triggers: list[Id] = Field(
        default_factory=list, description="Injects to schedule now (each after its `delay`)."
    )
    suppresses: list[Id] = Field(
        default_factory=list, description="Injects that will now never arrive."
    )
    score: dict[Id, float] = Field(
        default_factory=dict, description="Points per objective id (may be negative)."
    )
    ends_drill: StrictBool = Field(default=False, description="Choosing it ends the drill.")
    sends: OptionMessage | None = Field(
        default=None,
        description='Answering with this option is also a message ("notify the regulator '
        'now"): it is sent from the answering role and meets expectations as a typed one '
        "would. A default taken when time runs out sends nothing.",
    )
    feedback: Text | None = Field(
        default=None, description="Why this option is strong or weak, for the debrief."
    )


class Decision(Strict):
    """A question put to one or more roles, opened by an inject's `opens`."""

    id: Id
    title: (
        Annotated[str, StringConstraints(min_length=1, max_length=DECISION_TITLE_WIDTH)] | None
    ) = Field(
        default=None,
        description="What is decided, in a few words, as the report, the scores, the "
        "timeline and the console name it, e.g. 'Pay the ransom?' (at most 100 "
        "characters; {{variables}} are filled in). Default: the prompt's first sentence.",
    )
    prompt: Text = Field(description="The question, in Markdown.")
    to: list[Id] = Field(min_length=1, description="Roles that may answer, or `all`.")
    time_limit: Duration = Field(description="Scenario time to answer before the default.")
    default: Id = Field(description="The option taken if nobody answers in time.")
    per_role: StrictBool = Field(
        default=False,
        description="Each role answers for itself; otherwise the first answer decides.",
    )
    options: list[Option] = Field(min_length=2, description="At least two answers.")
    notes: Text | None = Field(default=None, description="For the facilitator's eyes only.")

    def heading(self, values: dict[str, str] | None = None) -> str:
        """What the decision is called wherever it is listed: its title on one line, else
        its prompt's first sentence, with `values` filled in (none where the scenario is
        a drill's filled copy already)."""
        if self.title is not None:
            return fill(" ".join(self.title.split()), values or {})
        return headline(fill(self.prompt, values or {}), DECISION_TITLE_WIDTH)


class Expectation(Strict):
    """A communication the team should make: who tells whom, within how long of what."""

    id: Id
    title: ShortText = Field(description="What is expected, e.g. 'Brief the CEO within 1h'.")
    from_: list[Id] | None = Field(
        default=None, alias="from", description="Roles that may send it; omitted: any role."
    )
    to: Id = Field(description="The role or party that must be told.")
    after: Trigger | None = Field(
        default=None, description="What starts the countdown; omitted: the drill's start."
    )
    within: Duration = Field(description="The deadline, counted from `after`.")
    grace: Duration | None = Field(
        default=None,
        description="Late messages earn partial credit, falling to zero at deadline + grace. "
        "Default: the same as `within`.",
    )
    points: float = Field(default=10, ge=0, description="Earned in full when on time.")
    objective: Id | None = Field(default=None, description="The objective the points count to.")
    when: Condition | None = Field(
        default=None, description="Only expected if this holds when the countdown starts."
    )
    rationale: Text | None = Field(
        default=None, description="Why: the rule, the regulation, the plan that sets it."
    )
    confused_with: list[Id] = Field(
        default_factory=list,
        description="Parties or roles this one is commonly confused with (the police for "
        "the regulator). A message that went to one of them instead scores 'wrong party'; "
        "otherwise an expectation not met is simply 'missed'.",
    )


class Statement(Strict):
    """A drawer statement: a pre-approved text a role can send as written or adapt."""

    id: Id
    title: ShortText = Field(description="e.g. 'Press holding line: customer data'.")
    body: Text = Field(description="The approved text; {{variables}} are filled in.")
    roles: list[Id] = Field(
        default_factory=list, description="Roles that may use it; omitted: any role."
    )
    to: list[Id] = Field(default_factory=list, description="Suggested recipients.")
    approved_by: ShortText | None = Field(default=None, description="Who approved it.")


class DutyScore(Strict):
    """What filing one duty is worth, and the objective it counts to."""

    points: float = Field(default=10, ge=0, description="Earned in full when filed on time.")
    objective: Id | None = Field(default=None, description="The objective the points count to.")


class Figure(Strict):
    """A figure of the story (people affected, records taken) as a notice must state it:
    its true value, and the scenario fact whose revealing tells the team it."""

    value: int = Field(ge=0)
    revealed_by: Id | None = Field(
        default=None,
        description="The scenario fact (`facts:`) an inject reveals it with; until then a "
        "notice should say it is not yet known. None: the team knows it from the start.",
    )
    tolerance: int = Field(
        default=20,
        ge=0,
        le=100,
        description="How far, in percent, an approximate figure in a notice may stray.",
    )


class RegimeUse(Strict):
    """A notification regime the story plays (`tabletop regimes list`): its clocks start
    from what happens in play. Its roles draft each duty's notice form together and file
    it (after `sign_off` signs it, if set) as the message to the duty's party; a
    free-text message to that party files the most urgent running duty owed to it, with
    none of the form's fields."""

    regime: Id = Field(description="A shipped regime's id, e.g. gdpr, nis2, dora, sec_8k.")
    starts: dict[Id, Trigger] = Field(
        min_length=1,
        description="Each of the regime's events bound to what starts it in play, e.g. "
        "`aware: {inject: exfil_confirmed}`.",
    )
    authority: Id | None = Field(
        default=None, description="The party that notifications to the authority go to."
    )
    people: Id | None = Field(
        default=None, description="The party that stands for the people affected."
    )
    media: Id | None = Field(default=None, description="The party that stands for the media.")
    jurisdiction: ShortText | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
        description="The public holidays business days skip (e.g. DE-BE, US-NY) when the "
        "regime names none.",
    )
    undue_delay: Duration | None = Field(
        default=None,
        description='The target a duty due "without undue delay" is scored against.',
    )
    facts: dict[Id, int | Figure] = Field(
        default_factory=dict,
        description="Figures of the story that thresholds and notice forms read, e.g. "
        "`people_affected: 1200` or `people_affected: {value: 1200, revealed_by: scope}`.",
    )
    sign_off: Id | None = Field(
        default=None,
        description="The role that must sign a notice off before it is filed (e.g. "
        "executive); None: any of `roles` may file it.",
    )
    roles: list[Id] = Field(
        default_factory=list,
        description="The roles that see these clocks on their page (e.g. legal, dpo, "
        "communications); the facilitator and observers always do.",
    )
    confused_with: list[Id] = Field(
        default_factory=list,
        description="Parties a notice to the authority might go to by mistake (e.g. the "
        "police instead of the data protection authority): a duty missed while one of them "
        "was written to is shown and scored as sent to the wrong party.",
    )
    score: dict[Id, DutyScore] = Field(
        default_factory=dict,
        description="Points per duty, e.g. `supervisory_authority: {points: 25, objective: "
        "regulator}`; a duty not listed is worth 10 points to no objective. On time earns "
        "them all, late half, missed none, each times the share of the form's required "
        "fields filed complete; a duty not yet due when the drill ends, never started or "
        "below its threshold is not counted.",
    )

    def duty_score(self, duty_id: str) -> DutyScore:
        return self.score.get(duty_id, DEFAULT_DUTY_SCORE)

    def figure(self, fact: str) -> Figure | None:
        found = self.facts.get(fact)
        return Figure(value=found) if isinstance(found, int) else found

    def figures(self) -> dict[str, int]:
        """Each figure's true value (what thresholds read)."""
        return {k: v if isinstance(v, int) else v.value for k, v in self.facts.items()}

    def party_for(self, recipient: Recipient) -> str | None:
        """The party the story binds to a duty's recipient, if it binds one."""
        return {
            Recipient.authority: self.authority,
            Recipient.affected_people: self.people,
            Recipient.media: self.media,
        }[recipient]

    def drafters(self) -> list[str]:
        """The roles that may draft, sign and file this regime's notices."""
        return list(dict.fromkeys([*self.roles, *([self.sign_off] if self.sign_off else [])]))


DEFAULT_DUTY_SCORE = DutyScore()


class Scenario(Strict):
    """A tabletop scenario, format version 1."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    format: Literal[1] = Field(default=1, description="The format version of this file.")
    id: Id
    title: ShortText = Field(description="The scenario's name in the library.")
    summary: Text = Field(description="Two or three sentences: what happens, what it tests.")
    version: ShortText = Field(default="1.0", description="Bump it when you change the story.")
    duration: Duration = Field(description="About how long the drill takes in real time.")
    difficulty: Difficulty = Field(default=Difficulty.intermediate, description="Who it suits.")
    tags: list[ShortText] = Field(default_factory=list, description="Free words for search.")
    compliance: list[ShortText] = Field(
        default_factory=list, description="Regimes in play, e.g. GDPR, PCI DSS, HIPAA."
    )
    attack: list[AttackId] = Field(
        default_factory=list, description="ATT&CK techniques the whole scenario exercises."
    )
    # The caps are far above any real drill (the shipped ones have at most a dozen
    # variables and 40 injects) and keep validation, which plays every path with a copy
    # of the state, to seconds and MiB on a hostile upload.
    variables: dict[Id, Variable] = Field(
        default_factory=dict, max_length=200, description="Per-drill values."
    )
    clock: Clock = Field(description="The story's clock: start, time zone, speed, end.")
    roles: dict[Id, Role] = Field(min_length=1, description="The roles in play, by id.")
    parties: dict[Id, Party] = Field(
        default_factory=dict, description="External parties messages can go to, by id."
    )
    objectives: dict[Id, Objective] = Field(min_length=1, description="What is evaluated.")
    injects: list[Inject] = Field(
        min_length=1, max_length=1_000, description="What arrives, in any order."
    )
    decisions: list[Decision] = Field(
        default_factory=list, max_length=200, description="Questions put to roles."
    )
    expectations: list[Expectation] = Field(
        default_factory=list, description="Communications the team should make, and by when."
    )
    statements: list[Statement] = Field(default_factory=list, description="Drawer statements.")
    facts: dict[Id, ShortText] = Field(
        default_factory=dict, description="Key facts of the story, e.g. breach_confirmed."
    )
    regimes: list[RegimeUse] = Field(
        default_factory=list,
        max_length=20,
        description="Notification regimes whose clocks run in the drill.",
    )
    briefing: Text | None = Field(default=None, description="Read to everyone at the start.")
    notes: Text | None = Field(default=None, description="Facilitator guide for the whole drill.")

    # Derived look-ups, built once so the engine finds things in O(1).
    _injects: dict[str, Inject] = PrivateAttr(default_factory=dict)
    _decisions: dict[str, Decision] = PrivateAttr(default_factory=dict)
    _expectations: dict[str, Expectation] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._injects = {i.id: i for i in self.injects}
        self._decisions = {d.id: d for d in self.decisions}
        self._expectations = {e.id: e for e in self.expectations}

    def inject(self, inject_id: str) -> Inject:
        return self._injects[inject_id]

    def decision(self, decision_id: str) -> Decision:
        return self._decisions[decision_id]

    def expectation(self, expectation_id: str) -> Expectation:
        return self._expectations[expectation_id]

    def has_inject(self, inject_id: str) -> bool:
        return inject_id in self._injects

    def has_decision(self, decision_id: str) -> bool:
        return decision_id in self._decisions

    def role_title(self, role_id: str) -> str:
        role = self.roles.get(role_id)
        if role is not None and role.title:
            return role.title
        known = ROLE_CATALOGUE.get(role_id)
        return role_id.replace("_", " ").capitalize() if known is None else known[0]

    def recipient_name(self, recipient: str) -> str:
        if recipient in self.parties:
            return self.parties[recipient].name
        return self.role_title(recipient)


def story_datetime(scenario: Scenario, scenario_time: float) -> datetime:
    """The moment of the story `scenario_time` seconds after its start, in its zone."""
    start = scenario.clock.start
    zone = ZoneInfo(scenario.clock.timezone)
    start = start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
    return start + timedelta(seconds=scenario_time)


def option_of(decision: Decision, option_id: str) -> Option:
    for option in decision.options:
        if option.id == option_id:
            return option
    raise KeyError(option_id)


_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\s*\}\}")


def variables_in(text: str) -> list[str]:
    return _VARIABLE.findall(text)


def fill(text: str, values: dict[str, str]) -> str:
    """Replace {{name}} with the drill's value; unknown names stay visible, never crash.
    Text with no {{ comes back as it is (the same object), without a regex pass."""
    if "{{" not in text:
        return text
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)
