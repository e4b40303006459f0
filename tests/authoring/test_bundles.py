"""Scenario bundles: a folder or a .zip with the YAML and an assets/ folder. Files are
checked by content, the attachments by the validator at their line; hostile bundles are
refused with a sentence that says why, and nothing of them is kept."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from pathlib import Path

import pytest

from app.authoring.bundle import (
    MAX_ASSET_BYTES,
    MAX_ENTRIES,
    BundleError,
    read_folder,
    read_zip,
    sniff,
)
from app.authoring.loader import load_bundle, load_scenario_path, load_scenario_text
from tests.conftest import ROOT

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SHIPPED = ROOT / "scenarios" / "insider-departing-engineer"

YAML = """\
id: bundled
title: A bundled drill
summary: One inject with a screenshot and a log.
duration: 30m
clock: {start: 2026-12-24T22:40:00, end: 2h}
roles:
  soc_analyst: {}
objectives:
  see: {title: Look at the evidence, phase: detection_analysis}
injects:
  - id: alert
    title: The ransom note
    body: See the screenshot.
    to: [soc_analyst]
    at: 0m
    attachments:
      - {file: assets/note.png, title: Ransom note}
      - {file: assets/edr.log}
"""


def _zip(files: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _loaded(files: dict[str, bytes]) -> list[str]:
    bundle = read_zip(_zip({"scenario.yaml": YAML.encode(), **files}), "bundled.zip")
    return [f.render() for f in load_bundle(bundle).errors]


def test_the_shipped_bundle_loads_with_its_image_and_its_log() -> None:
    loaded = load_scenario_path(SHIPPED)
    assert loaded.ok, [f.render() for f in loaded.errors]
    assert {p: a.media_type for p, a in loaded.assets.items()} == {
        "assets/dlp-activity.log": "text/plain",
        "assets/kestrel-post.png": "image/png",
    }
    assert read_folder(SHIPPED).refused == {}


def test_a_good_zip_loads_and_an_attachment_it_lacks_is_reported_at_its_line() -> None:
    assert _loaded({"assets/note.png": PNG, "assets/edr.log": b"08:31 upload\n"}) == []
    (missing,) = _loaded({"assets/note.png": PNG})
    assert missing == (
        "bundled.zip:18:10: error: assets/edr.log is not in the bundle; its files are: "
        "assets/note.png (at injects[0].attachments[1].file)"
    )


def test_an_attachment_in_a_plain_yaml_asks_for_a_bundle() -> None:
    (finding,) = load_scenario_text(YAML, "plain.yaml").errors[:1]
    assert "an attachment needs a bundle" in finding.message


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        (
            "assets/note.png",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "SVG is refused (it can carry script): export it as PNG",
        ),
        (
            "assets/note.png",
            b"%PDF-1.7 not an image",
            "its content does not match its name: it is named .png but is application/pdf",
        ),
        ("assets/edr.log", b"\x00\x01binary", "it is named .log but is not a file of a kind"),
        ("assets/run.exe", b"MZ\x90\x00", ".exe is not a kind of file a bundle holds"),
    ],
)
def test_a_file_is_judged_by_its_content_not_its_name(name: str, data: bytes, why: str) -> None:
    assert (
        sniff(name, data)[1].startswith(why.split(": it is named")[0])
        or why in sniff(name, data)[1]
    )
    if name in ("assets/note.png", "assets/edr.log"):
        others = {"assets/note.png": PNG, "assets/edr.log": b"ok\n"}
        errors = _loaded({**others, name: data})
        assert any(why in e for e in errors), errors


@pytest.mark.parametrize(
    ("files", "link", "refusal"),
    [
        ({"../evil.png": PNG}, None, "a path out of the bundle is refused"),
        ({"/etc/evil.png": PNG}, None, "a path out of the bundle is refused"),
        ({"assets\\..\\evil.png": PNG}, None, "a path out of the bundle is refused"),
        ({}, "assets/link.png", "links are refused in a bundle"),
        ({"assets/bomb.log": b"0" * (MAX_ASSET_BYTES - 1)}, None, "refused as a zip bomb"),
        ({"assets/big.log": b"x" * (MAX_ASSET_BYTES + 1)}, None, "an asset may be at most 5.0"),
        ({"notes.txt": b"hello"}, None, "holds its scenario .yaml and an assets/ folder"),
        (
            {f"assets/{i}.log": b"x" for i in range(MAX_ENTRIES + 1)},
            None,
            f"a bundle may hold at most {MAX_ENTRIES} files",
        ),
    ],
)
def test_hostile_zips_are_refused_whole(
    files: dict[str, bytes], link: str | None, refusal: str
) -> None:
    data = _zip({"scenario.yaml": YAML.encode(), **files}, link=link)
    with pytest.raises(BundleError, match=re.escape(refusal)):
        read_zip(data, "hostile.zip")


def test_a_zip_that_is_not_a_zip_or_has_no_scenario_says_so() -> None:
    with pytest.raises(BundleError, match=r"not a readable \.zip file"):
        read_zip(b"PK but not really", "x.zip")
    with pytest.raises(BundleError, match=r"holds no scenario \.yaml at its top"):
        read_zip(_zip({"assets/note.png": PNG}), "x.zip")


def test_a_folder_bundle_refuses_a_link(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "scenario.yaml").write_text(YAML)
    (tmp_path / "assets" / "note.png").symlink_to("/etc/passwd")
    with pytest.raises(BundleError, match="links are refused"):
        read_folder(tmp_path)


def test_tabletop_validate_takes_a_folder_and_a_zip_and_refuses_a_hostile_one(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from app.cli.main import cli

    runner = CliRunner()
    folder = runner.invoke(cli, ["validate", str(SHIPPED)])
    assert folder.exit_code == 0, folder.output
    good = tmp_path / "good.zip"
    good.write_bytes(
        _zip({"scenario.yaml": YAML.encode(), "assets/note.png": PNG, "assets/edr.log": b"ok\n"})
    )
    assert runner.invoke(cli, ["validate", str(good)]).exit_code == 0
    evil = tmp_path / "evil.zip"
    evil.write_bytes(_zip({"scenario.yaml": YAML.encode(), "../../etc/cron.d/x": b"x"}))
    refused = runner.invoke(cli, ["validate", str(evil)])
    assert refused.exit_code == 1
    assert "a path out of the bundle is refused" in refused.output
