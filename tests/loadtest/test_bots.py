"""Bots play a drill on a real server over real websockets, and their checks can fail."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli.main import cli
from app.loadtest.bots import (
    Auth,
    Behaviour,
    Client,
    Identity,
    Plan,
    SimulationError,
    Tabletop,
    simulate,
)
from app.services.accounts import AccountService
from tests.live import PASSWORD, LiveServer, sign_in

runner = CliRunner()


def _plan(live: LiveServer, **changes: Any) -> Plan:
    base: dict[str, Any] = {
        "url": live.url,
        "bots": 6,
        "scenario": "mini.yaml",
        "username": "fac",
        "password": PASSWORD,
        "behaviour": Behaviour(think=(0.05, 0.2)),
        "duration": 3.0,
        "speed": 600.0,
        "settle": 10.0,
    }
    return Plan(**{**base, **changes})


def test_bots_play_a_drill_and_every_bot_gets_its_roles_events_once_in_order(
    live_server: LiveServer,
) -> None:
    summary = asyncio.run(simulate(_plan(live_server)))
    figures = summary.figures()
    assert summary.violations == 0, figures
    assert figures["commands_acknowledged"] > 10
    assert figures["commands_sent"] == figures["commands_acknowledged"] + sum(
        figures["commands_refused"].values()
    )
    # every bot saw the drill start and the all-hands alert; the note went only to two roles
    for tally in summary.tallies:
        assert tally.events > 0 and tally.seqs == sorted(tally.seqs)
    # what the bots did is in the log the facilitator reads
    facilitator = sign_in(live_server)
    log = facilitator.get(f"/api/drills/{summary.drill_id}/events").json()
    sent = [e for e in log if e["type"] == "message_sent" and e["actor"] != "facilitator"]
    answered = [e for e in log if e["type"] == "decision_answered"]
    assert len(sent) + len(answered) == figures["commands_acknowledged"]
    assert answered, "a bot in the executive or legal role answers the ransom decision"


def test_bots_join_an_existing_drill_by_code_in_the_roles_asked(live_server: LiveServer) -> None:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Code"})
    code = created.json()["join_code"]
    plan = _plan(live_server, scenario=None, code=code, roles=("legal",), duration=0.5, bots=3)
    summary = asyncio.run(simulate(plan))
    assert summary.violations == 0
    roster = facilitator.get(f"/api/drills/{summary.drill_id}/events").json()
    joined = [e["data"]["role"] for e in roster if e["type"] == "participant_joined"]
    assert joined == ["legal"] * 3


def test_bots_run_a_drill_with_an_api_token_instead_of_a_password(
    live_server: LiveServer,
) -> None:
    """A script creates and starts its drill with a bearer token, as `tabletop token
    create` gives one; once the token is revoked the same plan is refused."""
    accounts: AccountService = live_server.app.state.accounts
    token = live_server.run(accounts.create_api_token("simulator", "fac"))
    summary = asyncio.run(
        simulate(_plan(live_server, username="", password="", api_token=token, duration=1.0))
    )
    assert summary.violations == 0 and summary.figures()["commands_acknowledged"] > 0
    owners = sign_in(live_server).get(f"/api/drills/{summary.drill_id}/facilitators")
    assert owners.json()["owner"] == "fac"  # the token's account owns it
    live_server.run(accounts.revoke_api_token("simulator"))
    with pytest.raises(SimulationError, match="POST /api/drills: 401"):
        asyncio.run(simulate(_plan(live_server, username="", password="", api_token=token)))


def test_an_unknown_role_or_code_is_a_clear_error(live_server: LiveServer) -> None:
    with pytest.raises(SimulationError, match="roles are: incident_manager, executive, legal"):
        asyncio.run(simulate(_plan(live_server, roles=("ciso",))))
    with pytest.raises(SimulationError, match="no drill has that code"):
        asyncio.run(simulate(_plan(live_server, scenario=None, code="AAAAA-AAAAA")))


def test_join_info_lists_the_roles_a_code_opens(live_server: LiveServer) -> None:
    facilitator = sign_in(live_server)
    created = facilitator.post("/api/drills", json={"scenario": "mini.yaml", "name": "Info"})
    info = live_server.client().get(f"/api/join/{created.json()['join_code']}")
    assert info.status_code == 200
    assert info.json()["roles"] == {
        "incident_manager": "Incident manager",
        "executive": "Executive sponsor (CISO)",
        "legal": "Legal counsel",
    }
    assert live_server.client().get("/api/join/BBBBB-BBBBB").status_code == 404


# --------------------------------------------------------------------------- the checks


def _client(role: str = "legal") -> Client:
    server = Tabletop("http://127.0.0.1:9")
    return Client(server, Identity("d", "Bot", role, "p1", Auth.cookie("tt_p_d", "x")))


def _inject(seq: int, recipients: list[str]) -> dict[str, Any]:
    return {
        "seq": seq,
        "type": "inject_delivered",
        "at": 0.0,
        "scenario_time": 0.0,
        "actor": "system",
        "data": {"inject_id": "i", "title": "T", "body": "B", "recipients": recipients},
    }


def test_a_client_counts_duplicates_disorder_and_another_roles_injects() -> None:
    client = _client("legal")
    for seq in (1, 3, 3, 2):
        client._receive({"type": "event", "event": _inject(seq, ["legal"])})
    client._receive({"type": "event", "event": _inject(4, ["executive"])})
    assert client.tally.duplicates == [3]
    assert client.tally.out_of_order == [2]
    assert client.tally.foreign == [4]
    assert client.tally.violations == 3


def test_a_late_refusal_of_its_own_command_is_a_refusal_an_unknown_id_an_error() -> None:
    """A bot stopped waiting for its answer (its play was cancelled as the decision
    closed): the refusal that arrives after is an answer to its own command. An error for
    an id it never sent is the server's mistake."""
    client = _client()

    async def cancelled_answer() -> None:
        waiting = asyncio.create_task(client.command({"type": "answer_decision"}))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(cancelled_answer())
    (sent_id,) = client._sent_ids
    client._receive(
        {"type": "error", "id": sent_id, "code": "decision_closed", "message": "closed"}
    )
    assert client.tally.refused == {"decision_closed": 1} and client.tally.errors == []
    client._receive(
        {"type": "error", "id": "never-sent", "code": "decision_closed", "message": "x"}
    )
    assert client.tally.errors == ["decision_closed: x"]
    # A resend acknowledged as repeated after the bot stopped waiting still proves the
    # server knew it (the SIGKILL soak's check); an unknown id's ack proves nothing.
    client._receive({"type": "ack", "id": sent_id, "seq": 7, "repeated": True})
    client._receive({"type": "ack", "id": "never-sent", "seq": 8, "repeated": True})
    assert client.tally.repeated_ids == [sent_id]


def test_a_client_finds_what_the_server_listed_but_never_arrived() -> None:
    client = _client()
    client._receive({"type": "event", "event": _inject(1, ["legal"])})
    client.check_against([_inject(1, ["legal"]), _inject(2, ["legal"])])
    assert client.tally.missing == [2]
    assert client.tally.violations == 1


# --------------------------------------------------------------------------- the command


def test_simulate_command_prints_a_summary_and_exits_zero(live_server: LiveServer) -> None:
    result = runner.invoke(
        cli,
        [
            "simulate",
            "--url",
            live_server.url,
            "--scenario",
            "mini.yaml",
            "--user",
            "fac",
            "--bots",
            "3",
            "--think",
            "0.1-0.3",
            "--duration",
            "1",
            "--speed",
            "600",
        ],
        env={"TABLETOP_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert "commands acknowledged" in result.output and "missing                0" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give either --code"),
        (["--code", "X", "--scenario", "mini.yaml"], "give either --code"),
        (["--scenario", "mini.yaml"], "give --user and set TABLETOP_PASSWORD"),
        (["--code", "X", "--think", "5-2"], "a range from low to high"),
    ],
)
def test_simulate_command_explains_bad_options(args: list[str], message: str) -> None:
    result = runner.invoke(cli, ["simulate", *args], env={"TABLETOP_PASSWORD": ""})
    assert result.exit_code == 2
    assert message in result.output


def test_simulate_against_no_server_says_so() -> None:
    result = runner.invoke(cli, ["simulate", "--url", "http://127.0.0.1:9", "--code", "A"])
    assert result.exit_code == 2
    assert "error: GET http://127.0.0.1:9/api/join/A" in result.output
