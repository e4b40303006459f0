"""Scenario bundles: a folder, or a .zip, holding one scenario YAML and an `assets/` folder
of files its injects attach (a ransom note's screenshot, an EDR export, a log).

Every file is checked by its content, not its name: images (PNG, JPEG, GIF, WebP), PDF,
and UTF-8 text (.txt, .log, .csv, .json) are kept; SVG is refused (it can carry script), as
is a file whose content does not match its name. A zip is read defensively: no path out of
the bundle (absolute, `..`, backslashes), no links, at most MAX_ENTRIES entries, each at
most MAX_ASSET_BYTES, all together at most MAX_BUNDLE_BYTES, and no entry that expands
more than MAX_RATIO times (a zip bomb). A refused bundle stores nothing."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ASSETS = "assets"
MAX_ASSET_BYTES = 5 * 1024 * 1024
MAX_BUNDLE_BYTES = 20 * 1024 * 1024
MAX_ENTRIES = 200
MAX_RATIO = 100
SCENARIO_SUFFIXES = (".yaml", ".yml")

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TEXT_TYPES = {
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
}
BY_SUFFIX = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    **TEXT_TYPES,
}


class BundleError(ValueError):
    """A bundle refused as a whole (nothing of it is kept)."""


@dataclass(frozen=True, slots=True)
class Asset:
    path: str
    """Inside the bundle, e.g. `assets/ransom-note.png`: what injects name."""
    media_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES


@dataclass(frozen=True, slots=True)
class Bundle:
    name: str
    source: str
    """The scenario's YAML text."""
    assets: dict[str, Asset]
    refused: dict[str, str]
    """Asset path -> why it was refused (the validator reports it where an inject uses it)."""


def sniff(path: str, data: bytes) -> tuple[str | None, str]:
    """The media type `data` really is, if it is one a bundle keeps and the name says the
    same; else None and why not."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".svg" or b"<svg" in data[:1024].lower():
        return None, "SVG is refused (it can carry script): export it as PNG"
    expected = BY_SUFFIX.get(suffix)
    if expected is None:
        kinds = ", ".join(sorted(BY_SUFFIX))
        return None, f"{suffix or 'no extension'} is not a kind of file a bundle holds ({kinds})"
    found = _magic(data)
    if found is None and expected in TEXT_TYPES.values():
        found = expected if _is_text(data) else None
    if found != expected:
        what = found or "not a file of a kind a bundle holds"
        return None, f"its content does not match its name: it is named {suffix} but is {what}"
    return found, ""


def _magic(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_folder(folder: Path) -> Bundle:
    """A bundle folder: its one YAML at the top, and every file under `assets/`."""
    yamls = sorted(p for p in folder.iterdir() if p.suffix in SCENARIO_SUFFIXES and p.is_file())
    if len(yamls) != 1:
        raise BundleError(
            f"{folder.name}: a bundle folder holds exactly one scenario .yaml at its top "
            f"(found {len(yamls)})"
        )
    files: dict[str, bytes] = {}
    root = folder / ASSETS
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_symlink():
                raise BundleError(f"{path.relative_to(folder)}: links are refused in a bundle")
            if path.is_file():
                files[path.relative_to(folder).as_posix()] = _read_capped(path)
    _check_totals(len(files), sum(len(d) for d in files.values()))
    return _bundle(str(folder), yamls[0].read_text(encoding="utf-8"), files)


def _read_capped(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_ASSET_BYTES:
        raise BundleError(
            f"{path.name} is {_mib(size)}; an asset may be at most {_mib(MAX_ASSET_BYTES)}"
        )
    return path.read_bytes()


def read_zip(data: bytes, name: str) -> Bundle:
    """A bundle uploaded or named as a .zip: its one YAML at the top, and `assets/`."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"{name} is {_mib(len(data))}; a bundle may be at most {_mib(MAX_BUNDLE_BYTES)}"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleError(f"{name} is not a readable .zip file") from None
    with archive:
        entries = [i for i in archive.infolist() if not i.is_dir()]
        _check_totals(len(entries), sum(i.file_size for i in entries))
        source: str | None = None
        files: dict[str, bytes] = {}
        for info in entries:
            path = _safe_path(info)
            body = _read_entry(archive, info)
            if "/" not in path and PurePosixPath(path).suffix in SCENARIO_SUFFIXES:
                if source is not None:
                    raise BundleError(f"{name} holds more than one scenario .yaml at its top")
                try:
                    source = body.decode("utf-8")
                except UnicodeDecodeError:
                    raise BundleError(f"{path} is not UTF-8 text; save it as UTF-8") from None
            elif path.startswith(f"{ASSETS}/"):
                files[path] = body
            else:
                raise BundleError(
                    f"{path}: a bundle holds its scenario .yaml and an {ASSETS}/ folder, "
                    "nothing else"
                )
    if source is None:
        raise BundleError(f"{name} holds no scenario .yaml at its top")
    return _bundle(name, source, files)


def _safe_path(info: zipfile.ZipInfo) -> str:
    path = info.filename
    parts = PurePosixPath(path).parts
    if "\\" in path or path.startswith("/") or ".." in parts or ":" in path or not parts:
        raise BundleError(f"{path!r}: a path out of the bundle is refused")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise BundleError(f"{path}: links are refused in a bundle")
    return path


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    if info.file_size > MAX_ASSET_BYTES:
        raise BundleError(
            f"{info.filename} is {_mib(info.file_size)}; an asset may be at most "
            f"{_mib(MAX_ASSET_BYTES)}"
        )
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        raise BundleError(
            f"{info.filename} expands {info.file_size // max(info.compress_size, 1)} times: "
            "refused as a zip bomb"
        )
    # The header's sizes can lie: never read more than the cap allows.
    with archive.open(info) as stream:
        body = stream.read(MAX_ASSET_BYTES + 1)
    if len(body) > MAX_ASSET_BYTES:
        raise BundleError(f"{info.filename} is larger than its header says: refused")
    return body


def _check_totals(count: int, size: int) -> None:
    if count > MAX_ENTRIES:
        raise BundleError(f"a bundle may hold at most {MAX_ENTRIES} files (this one: {count})")
    if size > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"its files come to {_mib(size)}; a bundle may be at most {_mib(MAX_BUNDLE_BYTES)}"
        )


def _bundle(name: str, source: str, files: dict[str, bytes]) -> Bundle:
    assets: dict[str, Asset] = {}
    refused: dict[str, str] = {}
    for path, data in files.items():
        media_type, why = sniff(path, data)
        if media_type is None:
            refused[path] = why
        else:
            assets[path] = Asset(path, media_type, data)
    return Bundle(name, source, assets, refused)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def is_bundle_folder(path: Path) -> bool:
    return path.is_dir() and (path / ASSETS).is_dir()


def bundle_sha256(source: str, assets: Mapping[str, Asset]) -> str:
    """A scenario version's identity: its text alone (as before bundles), or its text and
    every file's path and content."""
    if not assets:
        return hashlib.sha256(source.encode()).hexdigest()
    digest = hashlib.sha256(source.encode())
    for path in sorted(assets):
        digest.update(f"\n{path}:{assets[path].sha256}".encode())
    return digest.hexdigest()
