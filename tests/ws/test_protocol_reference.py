"""The README's protocol tables are generated from the code (app/realtime/reference.py) and
must not drift from it, nor the code from what a real server sends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.engine import commands as c
from app.engine.core import decide
from app.engine.errors import MEANINGS, Code, DomainError
from app.realtime import protocol
from app.realtime.codes import WHEN, Close
from app.realtime.reference import END, START, client_messages, kind_of, render_reference
from tests.conftest import ROOT
from tests.engine.harness import Drill, as_participant
from tests.engine.scenarios import ransomware


def test_the_readme_protocol_reference_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    assert START in readme and END in readme, "the README has no protocol reference block"
    block = readme[readme.index(START) : readme.index(END) + len(END)] + "\n"
    assert block == render_reference(), (
        "the protocol reference in README.md is stale: run "
        "`tabletop protocol --update-readme README.md`"
    )


def test_every_error_and_close_code_is_explained() -> None:
    assert set(MEANINGS) == set(Code)
    closes = {code for code in Close if code >= 4000} | {
        Close.policy_violation,
        Close.message_too_big,
        Close.try_again_later,
    }
    assert set(WHEN) == closes


def test_the_socket_answers_only_documented_error_codes() -> None:
    """Codes the websocket adapter writes itself are the protocol's own."""
    source = (ROOT / "app" / "web" / "ws.py").read_text()
    written = set(re.findall(r'"code": "(\w+)"', source))
    assert written <= {str(code) for code in protocol.ProtocolCode}, written


SAMPLES: dict[str, dict[str, Any]] = {
    "set_speed": {"speed": 2},
    "fire_inject": {"inject_id": "note"},
    "skip_inject": {"inject_id": "note"},
    "manual_inject": {"title": "t", "body": "b", "to": ["legal"]},
    "adjust_score": {"objective_id": "contain", "points": 1, "reason": "r"},
    "rate_notice_field": {
        "regime": "gdpr",
        "duty": "supervisory_authority",
        "field": "nature",
        "complete": True,
        "reason": "r",
    },
}


@pytest.mark.parametrize(
    "kind",
    [
        kind_of(m)
        for m in client_messages()
        if protocol.sent_by(kind_of(m)) == protocol.FACILITATOR and "id" in m.model_fields
    ],
)
def test_what_the_table_calls_the_facilitators_a_participant_may_not_send(kind: str) -> None:
    played = Drill(ransomware()).create()
    played.run(c.Join("p1", "Lee", "legal"), as_participant("p1"))
    message = protocol.client_message.validate_python(
        {"type": kind, "id": "x", **SAMPLES.get(kind, {})}
    )
    assert not isinstance(message, protocol.Ping | protocol.Sync)
    with pytest.raises(DomainError) as refused:
        decide(
            played.scenario, played.state, protocol.to_command(message), played.now, c.Actor("p1")
        )
    assert refused.value.code is Code.not_permitted
