"""Small scenarios written for the engine tests, as YAML an author would write.

Loaded once per process (scenarios are immutable), so hypothesis tests can share them.
"""

from __future__ import annotations

from functools import cache

from app.engine.scenario import Scenario

from .harness import load

RANSOMWARE = """\
id: engine-test
title: Engine test
summary: A small ransomware night for the engine tests.
duration: 1h
variables:
  company:
    default: Acme
clock:
  start: 2026-12-24T22:40:00
  timezone: Europe/Berlin
  end: 10h
roles:
  incident_manager: {}
  legal:
    backup: executive
  communications: {}
  executive: {}
parties:
  regulator:
    name: Data protection authority
    kind: regulator
  press:
    name: The Daily
    kind: press
objectives:
  contain: {title: Contain the outbreak, phase: containment}
  comms: {title: Communicate, phase: post_incident}
facts:
  encrypted: Files are encrypted
statements:
  - id: press-line
    title: Holding line
    body: We are investigating an incident.
    roles: [communications]
    to: [press]
injects:
  - id: alert
    title: EDR alert at {{company}}
    body: Encryption seen on FS01 at {{company}}.
    to: [incident_manager]
    at: 0m
    opens: isolate
  - id: reminder
    title: Reminder
    body: Nobody has decided about FS01 yet.
    to: [incident_manager]
    at: 5m
    when: {open: isolate}
  - id: isolated-report
    title: Isolation report
    body: FS01 is off the network.
    to: [incident_manager]
    after: {option: isolate.now}
    delay: 5m
  - id: ransom-note
    title: Ransom note
    body: Pay or else.
    to: [all]
    at: 30m
    opens: vote
    facts: [encrypted]
  - id: followup
    title: The attackers write again
    body: The price doubles tomorrow.
    to: [incident_manager]
    after: {inject: ransom-note}
    delay: 15m
  - id: legal-away
    title: Legal is on a plane
    body: Counsel cannot be reached until tomorrow.
    to: [incident_manager]
    at: 40m
    unavailable: [legal]
    opens: disclose
  - id: legal-nudge
    title: Has anyone told legal?
    body: The CEO asks whether legal knows.
    to: [incident_manager]
    at: 1h
    when: {not: {sent: {to: legal}}}
  - id: paid-followup
    title: Payment received
    body: The attackers confirm the payment.
    to: [incident_manager]
    delay: 10m
  - id: contained-news
    title: Containment holds
    body: No new encryption since FS01 went off the network.
    to: [all]
    at: 2h
    when: {flag: contained}
  - id: waited-news
    title: Encryption spreads
    body: More servers are encrypted.
    to: [all]
    at: 2h
    when: {chosen: isolate.wait}
  - id: leak-news
    title: Leak on a forum
    body: Data of {{company}} is offered for sale.
    to: [communications]
    at: 3h
decisions:
  - id: isolate
    prompt: Isolate FS01 now?
    to: [incident_manager]
    time_limit: 10m
    default: wait
    options:
      - id: now
        label: Isolate now
        set: {contained: true}
        score: {contain: 5}
        suppresses: [leak-news]
      - id: wait
        label: Wait and watch
        score: {contain: -2}
  - id: vote
    prompt: Pay the ransom?
    to: [incident_manager, communications]
    per_role: true
    time_limit: 20m
    default: refuse
    options:
      - id: pay
        label: Pay
        triggers: [paid-followup]
      - id: refuse
        label: Refuse
      - id: stop
        label: Stop the drill here
        ends_drill: true
  - id: disclose
    prompt: Notify the regulator?
    to: [legal]
    time_limit: 30m
    default: wait
    options:
      - id: notify
        label: Notify now
        score: {comms: 5}
      - id: wait
        label: Wait
expectations:
  - id: tell-exec
    title: Tell the executive
    from: [incident_manager]
    to: executive
    after: {inject: ransom-note}
    within: 30m
    grace: 30m
    points: 10
    objective: comms
  - id: tell-regulator
    title: Tell the regulator
    to: regulator
    after: {option: disclose.notify}
    within: 72h
"""
"""The main engine scenario. Its timeline, in scenario time:

- 0m `alert` opens `isolate` (incident manager, 10m, default `wait`).
- 5m `reminder`, only while `isolate` is still open.
- `isolate.now` sets `contained`, suppresses `leak-news`; `isolated-report` 5m after it.
- 30m `ransom-note` to all opens `vote` (per role: incident manager and communications,
  20m, default `refuse`; `pay` triggers `paid-followup` 10m later, `stop` ends the drill);
  `followup` 15m after it; the countdown `tell-exec` starts (30m + 30m grace, 10 points).
- 40m `legal-away`: legal becomes unavailable (backup: executive); opens `disclose`.
- 1h `legal-nudge`, only if nobody has messaged legal.
- 2h `contained-news` if the flag `contained`; `waited-news` if `isolate.wait` was chosen.
- 3h `leak-news`, unless suppressed.  10h: the scenario's time is up.
"""

SHORT = """\
id: short
title: Short drill
summary: Two injects and a decision that can end it.
duration: 30m
clock:
  start: 2026-03-01T09:00:00
roles:
  incident_manager: {}
  soc_analyst: {}
objectives:
  detect: {title: Detect, phase: detection_analysis}
injects:
  - id: first
    title: First alert
    body: Odd logins.
    to: [soc_analyst]
    at: 10m
  - id: second
    title: Second alert
    body: Mass encryption.
    to: [all]
    at: 20m
    opens: escalate
  - id: wrap-up
    title: Wrap-up
    body: The night is over.
    to: [all]
    after: {decision: escalate}
    delay: 5m
    ends_drill: true
decisions:
  - id: escalate
    prompt: Escalate to the CISO?
    to: [soc_analyst]
    time_limit: 15m
    default: "no"
    options:
      - id: "yes"
        label: Escalate
        score: {detect: 3}
      - id: "no"
        label: Keep it in the SOC
        ends_drill: true
"""
"""A short linear drill: 10m `first`, 20m `second` opens `escalate` (15m, default `no`,
which ends the drill); `wrap-up` 5m after `escalate` closes ends it otherwise."""


@cache
def ransomware() -> Scenario:
    return load(RANSOMWARE, "ransomware.yaml")


@cache
def short() -> Scenario:
    return load(SHORT, "short.yaml")


BRANCHY = """\
id: branchy
title: Branchy drill
summary: Every kind of trigger and condition, for the property tests.
duration: 1h
clock:
  start: 2026-01-01T00:00:00
  end: 6h
roles:
  incident_manager:
    backup: executive
  legal:
    backup: incident_manager
  communications: {}
  executive: {}
parties:
  press: {name: The press, kind: press}
objectives:
  o1: {title: Respond, phase: containment}
injects:
  - id: a
    title: A
    body: First.
    to: [all]
    at: 0m
    opens: d1
  - id: b
    title: B
    body: Second.
    to: [legal]
    at: 10m
    when: {any: [{flag: f}, {delivered: a}]}
  - id: c
    title: C
    body: The press called back.
    to: [incident_manager]
    after: {message: {from: [communications], to: press}}
    delay: 5m
    unavailable: [incident_manager]
  - id: d
    title: D
    body: After the first decision.
    to: [all]
    after: {decision: d1}
    delay: 20m
    opens: d2
  - id: e
    title: E
    body: The manager is back.
    to: [executive]
    at: 1h
    available: [incident_manager]
    when: {all: [{answered: d1}, {not: {chosen: d2.x}}]}
  - id: f
    title: F
    body: Triggered by d1.p.
    to: [communications]
  - id: g
    title: G
    body: While d2 is open.
    to: [communications]
    at: 50m
    when: {open: d2}
  - id: h
    title: H
    body: The end of the y branch.
    to: [all]
    after: {option: d2.y}
    delay: 1h30m
    ends_drill: true
decisions:
  - id: d1
    prompt: First question?
    to: [incident_manager, legal]
    per_role: true
    time_limit: 15m
    default: p
    options:
      - id: p
        label: P
        set: {f: true}
        triggers: [f]
      - id: q
        label: Q
        suppresses: [g]
        score: {o1: 2}
  - id: d2
    prompt: Second question?
    to: [all]
    time_limit: 30m
    default: x
    options:
      - id: x
        label: X
        ends_drill: true
      - id: "y"
        label: "Y"
        score: {o1: 1}
expectations:
  - id: e1
    title: Tell the press
    from: [communications]
    to: press
    after: {inject: a}
    within: 20m
  - id: e2
    title: Tell the executive
    to: executive
    after: {decision: d1}
    within: 10m
    grace: 5m
    when: {flag: f}
    objective: o1
"""
"""For the property tests: message triggers, per-role decisions, backup chains, `available`,
`any` / `all` / `delivered` / `answered` conditions, expectations with a `when`."""


@cache
def branchy() -> Scenario:
    return load(BRANCHY, "branchy.yaml")
