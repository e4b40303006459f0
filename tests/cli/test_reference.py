"""The README's format reference is generated from the models; it must not drift."""

from __future__ import annotations

from app.authoring.reference import END, START, render_reference
from tests.conftest import ROOT


def test_the_readme_reference_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(START) : readme.index(END) + len(END)] + "\n"
    assert block == render_reference(), (
        "the format reference in README.md is stale: run "
        "`tabletop schema --update-readme README.md`"
    )


def test_the_reference_documents_every_key_of_the_format() -> None:
    reference = render_reference()
    for key in (
        "`opens`",
        "`unavailable`",
        "`time_limit`",
        "`grace`",
        "`approved_by`",
        "`per_role`",
        "`ends_drill`",
        "`speed`",
        "`timezone`",
    ):
        assert key in reference


def test_the_readme_example_scenario_validates_and_plays_both_branches() -> None:
    from app.authoring.loader import load_scenario_text
    from app.engine.simulate import play

    readme = (ROOT / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_scenario_text(example, "README.md")
    assert loaded.scenario is not None
    assert [f.render() for f in loaded.findings] == []
    for option, last in (("now", "contained"), ("wait", "second-victim")):
        result = play(loaded.scenario, {"reset": option})
        assert result.state.end_reason == f"inject {last}"


def test_the_readme_documents_every_protocol_message_and_close_code() -> None:
    import typing

    from app.realtime import protocol
    from app.realtime.codes import Close

    readme = (ROOT / "README.md").read_text()
    incoming = typing.get_args(typing.get_args(protocol.ClientMessage)[0])
    outgoing = [
        protocol.SnapshotOut,
        protocol.EventOut,
        protocol.AckOut,
        protocol.ErrorOut,
        protocol.PresenceOut,
        protocol.PongOut,
    ]
    for model in [*incoming, *outgoing]:
        kind = typing.get_args(model.model_fields["type"].annotation)[0]
        assert f'{{"type": "{kind}"' in readme, f"message type {kind!r} is not documented"
    for code in Close:
        if code >= 4000 or code == Close.message_too_big:
            assert f"| {int(code)} | `{code.name}` |" in readme, f"close code {code.name}"
