"""The log is the audit trail: every facilitator action is an event that names the
account that took it, and participants see only "the facilitator"."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from app.realtime.protocol import ClientCommand
from app.services.accounts import AccountRole
from tests.conftest import ROOT
from tests.live import PASSWORD, LiveServer, join, sign_in
from tests.ws.test_protocol import command, open_socket, receive

PARTICIPANT_ONLY = {"feedback"}  # hot-wash answers: a participant's own, once

# One of each command a facilitator can send, in an order the mini scenario accepts.
FACILITATOR_COMMANDS: list[dict[str, Any]] = [
    {"type": "start"},
    {"type": "set_speed", "speed": 30},
    {"type": "pause"},
    {"type": "resume"},
    {"type": "manual_inject", "title": "Press call", "body": "A reporter.", "to": ["all"]},
    {"type": "send_message", "to": ["legal"], "body": "Status?", "from_role": "incident_manager"},
    {"type": "note", "text": "Legal was quick", "objective_id": "comms"},
    {"type": "jump"},  # to the ransom note, which opens the decision
    {"type": "skip_inject", "inject_id": "nudge"},  # scheduled by the ransom note
    {"type": "answer", "decision_id": "pay", "option_id": "no", "role": "executive"},
    {"type": "fire_inject", "inject_id": "refused-follow-up"},  # scheduled by the answer
    {"type": "adjust_score", "objective_id": "comms", "points": 2, "reason": "Calm call"},
    {"type": "end"},
    {"type": "release_scores"},
]

# The notice commands need a scenario that plays a regime: the shipped data theft.
NOTICE = {"regime": "gdpr", "duty": "supervisory_authority"}
NOTICE_COMMANDS: list[dict[str, Any]] = [
    {"type": "draft_notice", **NOTICE, "fields": {"nature": "Theft"}, "role": "legal"},
    {"type": "sign_off_notice", **NOTICE, "role": "executive"},
    {"type": "file_notice", **NOTICE, "role": "legal"},
    {"type": "rate_notice_field", **NOTICE, "field": "nature", "complete": True, "reason": "Ok"},
    {"type": "reply_as_party", "party": "press", "to": "communications", "body": "Deadline 21:00"},
    {"type": "post_to_feed", "outlet": "The Dublin Ledger", "text": "Retailer silent"},
]


def test_the_drill_log_names_the_account_behind_every_facilitator_action(
    live_server: LiveServer,
) -> None:
    sent = {c["type"] for c in [*FACILITATOR_COMMANDS, *NOTICE_COMMANDS]}
    every = {get_args(m.model_fields["type"].annotation)[0] for m in get_args(ClientCommand)}
    assert sent == every - PARTICIPANT_ONLY, "a facilitator command is not audited here"

    live_server.run(
        live_server.app.state.accounts.create_user("co", PASSWORD, AccountRole.facilitator)
    )
    fac = sign_in(live_server)
    co = live_server.client()
    assert co.post("/api/session", json={"username": "co", "password": PASSWORD}).is_success
    created = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Audit"}).json()
    drill_id = created["id"]
    added = fac.post(f"/api/drills/{drill_id}/facilitators", json={"username": "co"})
    assert added.status_code == 201, added.text  # the owner shares the drill
    dana = join(live_server, created["join_code"], "Dana", "legal")
    join(live_server, created["join_code"], "Eve", "executive")
    fac_console, co_console = open_socket(live_server, drill_id, fac), None

    acks: dict[int, str] = {}
    for n, body in enumerate(FACILITATOR_COMMANDS):
        if body["type"] == "end":  # a co-facilitator's action before the end
            co_console = open_socket(live_server, drill_id, co)
            reply = command(co_console, type="note", id="co-note", text="Second pair of eyes")
            assert reply["type"] == "ack", reply
            acks[reply["seq"]] = "facilitator:co"
        reply = command(fac_console, id=f"c{n}", **body)
        assert reply["type"] == "ack", (body, reply)
        acks[reply["seq"]] = "facilitator:fac"

    log = fac.get(f"/api/drills/{drill_id}/events").json()
    by_seq = {e["seq"]: e for e in log}
    assert by_seq[1]["type"] == "drill_created" and by_seq[1]["actor"] == "facilitator:fac"
    for seq, account in acks.items():  # each command's last event names its account
        assert by_seq[seq]["actor"] == account, by_seq[seq]
    participants = {e["data"]["participant_id"] for e in log if e["type"] == "participant_joined"}
    for event in log:  # nobody acts anonymously: an account, a participant or the clock
        assert event["actor"] in {"facilitator:fac", "facilitator:co", "system", *participants}

    # The room sees "the facilitator", never the account's sign-in name.
    seen = dana.get(f"/api/drills/{drill_id}/events").json()
    actors = {e["actor"] for e in seen}
    assert "facilitator" in actors and not any(a.startswith("facilitator:") for a in actors)
    snapshot = receive(open_socket(live_server, drill_id, dana))
    assert snapshot["type"] == "snapshot"
    assert {e["actor"] for e in snapshot["events"]} == actors


def test_an_after_action_report_names_the_facilitator_account(live_server: LiveServer) -> None:
    fac = sign_in(live_server)
    created = fac.post("/api/drills", json={"scenario": "mini.yaml", "name": "Audit"}).json()
    console = open_socket(live_server, created["id"], fac)
    for n, body in enumerate(
        [{"type": "start"}, {"type": "note", "text": "Watch the clock"}, {"type": "end"}]
    ):
        assert command(console, id=f"c{n}", **body)["type"] == "ack"
    report = fac.get(f"/drills/{created['id']}/report")
    assert report.status_code == 200
    assert "Facilitator (fac)" in report.text


@pytest.mark.live_settings(scenarios_dir=ROOT / "scenarios")
def test_notices_drafted_signed_filed_and_rated_by_the_facilitator_name_the_account(
    live_server: LiveServer,
) -> None:
    fac = sign_in(live_server)
    made = fac.post(
        "/api/drills", json={"scenario": "customer-database-theft.yaml", "name": "Audit"}
    ).json()
    console = open_socket(live_server, made["id"], fac)
    started = command(console, id="start", type="start", confirm_unfilled=True)
    assert started["type"] == "ack", started
    seqs = []
    for n, body in enumerate(NOTICE_COMMANDS):
        reply = command(console, id=f"n{n}", **body)
        assert reply["type"] == "ack", (body, reply)
        seqs.append(reply["seq"])
    by_seq = {e["seq"]: e for e in fac.get(f"/api/drills/{made['id']}/events").json()}
    assert [by_seq[s]["type"] for s in seqs] == [
        "notice_drafted",
        "notice_signed_off",
        "message_sent",
        "notice_field_rated",
        "party_replied",
        "feed_posted",
    ]
    assert {by_seq[s]["actor"] for s in seqs} == {"facilitator:fac"}
