"""Loading scenario YAML (files and uploads) into engine models, with line numbers.

PyYAML's composer gives every node its position; we build plain Python data from the
nodes ourselves so that we can (1) remember where each path of the document starts,
(2) refuse duplicate keys, alias bombs and absurd nesting before they cost anything, and
(3) read only `true`/`false` as booleans (YAML 1.1 would turn an option id `no` into False).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ValidationError

from app.authoring.bundle import Asset, Bundle, BundleError, is_bundle_folder, read_folder, read_zip
from app.engine import scenario as scenario_format
from app.engine.findings import Finding, Level, Loc
from app.engine.scenario import Scenario
from app.engine.validation import Counts, validate_scenario

MAX_SOURCE_BYTES = 2 * 1024 * 1024
MAX_NODES = 50_000  # the largest shipped scenario has ~2,200
MAX_DEPTH = 64
# libyaml when PyYAML was built with it: the pure-Python composer takes 15-45 s and
# hundreds of MiB on a 2 MiB file of many small values; libyaml takes a tenth of that.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(slots=True)
class SourceMap:
    """Where each path of the document starts (1-based line and column)."""

    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def locate(self, loc: Loc) -> tuple[int, int]:
        # A path that is missing (a required key left out) points at its nearest parent.
        for end in range(len(loc), -1, -1):
            found = self.positions.get(loc[:end])
            if found is not None:
                return found
        return (1, 1)


@dataclass(frozen=True, slots=True)
class Loaded:
    """The outcome of loading one scenario source."""

    file: str
    source: str
    scenario: Scenario | None
    findings: list[Finding]
    counts: Counts | None = None
    """Injects, decisions, expectations, roles and paths, for a scenario that plays."""
    assets: dict[str, Asset] = field(default_factory=dict)
    """A bundle's files (path in the bundle -> the file), for a scenario that is one."""
    data_json: str | None = None
    """What the text's YAML holds, as JSON, for a scenario that loaded: stored beside the
    text, so a restarted server validates it again without parsing YAML
    (`parse_stored_scenario`). None where JSON cannot hold it so that it validates to the
    same model (`data_as_json`)."""

    @property
    def ok(self) -> bool:
        return self.scenario is not None and not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level is Level.warning]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


class _TooBig(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


_BOOL_WORDS = {"true": True, "false": False}
_TAB_INDENT = re.compile(r"^( *)\t", re.MULTILINE)


class _Builder:
    """Turns a composed node tree into Python data while recording positions."""

    def __init__(self, source_map: SourceMap) -> None:
        self.map = source_map
        self.count = 0
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, loc: Loc, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(
                f"the document expands to more than {MAX_NODES:,} values; if it uses "
                "anchors and aliases (&name / *name), repeat less or split the scenario",
                node,
            )
        if depth > MAX_DEPTH:
            raise _TooBig(f"the document nests deeper than {MAX_DEPTH} levels", node)
        self.map.positions.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*loc, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, loc: Loc, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "merge keys (<<) are not supported; write the keys out",
                    key_node.start_mark,
                )
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float) or isinstance(key, bool):
                key = str(key)
            key = str(key)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}: each key may appear once here",
                    key_node.start_mark,
                )
            self.map.positions.setdefault(
                (*loc, key), (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            )
            out[key] = self.build(value_node, (*loc, key), depth + 1)
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return None
        if node.tag == "tag:yaml.org,2002:bool":
            # Only true/false are booleans; yes/no/on/off stay the words they are.
            return _BOOL_WORDS.get(node.value.lower(), node.value)
        return self.scalars.construct_object(node, deep=True)


def parse_yaml(source: str, file: str) -> tuple[Any, SourceMap, list[Finding]]:
    """Parse YAML text; problems come back as findings with positions, never exceptions."""
    source_map = SourceMap()
    tab = _TAB_INDENT.search(source)
    if tab:
        line = source.count("\n", 0, tab.start()) + 1
        return (
            None,
            source_map,
            [
                Finding(
                    Level.error,
                    (),
                    "a tab is used for indentation; YAML indents with spaces "
                    "only: replace the tab with spaces",
                    file,
                    line,
                    len(tab.group(1)) + 1,
                )
            ],
        )
    deep = _flow_nesting_beyond(source, MAX_DEPTH)
    if deep is not None:
        return (
            None,
            source_map,
            [
                Finding(
                    Level.error,
                    (),
                    f"the document nests deeper than {MAX_DEPTH} levels of brackets",
                    file,
                    *deep,
                )
            ],
        )
    try:
        beyond = _values_beyond(source, MAX_NODES)
        if beyond is not None:
            message = f"the document holds more than {MAX_NODES:,} values: split the scenario"
            return None, source_map, [Finding(Level.error, (), message, file, *beyond)]
        node = yaml.compose(source, Loader=_LOADER)
        if node is None:
            return (
                None,
                source_map,
                [
                    Finding(
                        Level.error, (), "the file is empty: start from `tabletop new NAME`", file
                    )
                ],
            )
        data = _Builder(source_map).build(node, ())
    except _TooBig as exc:
        mark = exc.node.start_mark
        return (
            None,
            source_map,
            [Finding(Level.error, (), str(exc), file, mark.line + 1, mark.column + 1)],
        )
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "the YAML is malformed"
        if exc.context and exc.context_mark is not None and "end of stream" in problem:
            # An unclosed quote or bracket runs to the end of the file: point at its start.
            mark = exc.context_mark
            problem = f"{exc.context} that is never closed"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        hint = _yaml_hint(problem)
        return (
            None,
            source_map,
            [Finding(Level.error, (), f"invalid YAML: {problem}{hint}", file, line, column)],
        )
    except RecursionError:
        return (
            None,
            source_map,
            [Finding(Level.error, (), "the document nests too deeply to read", file)],
        )
    except yaml.YAMLError as exc:
        return None, source_map, [Finding(Level.error, (), f"invalid YAML: {exc}", file)]
    return data, source_map, []


_VALUE_EVENTS = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)


def _values_beyond(source: str, limit: int) -> tuple[int, int] | None:
    """Where the values written in the document pass `limit`, counted on the parser's
    event stream before any node tree is built: a 2 MiB file of tiny values is refused
    in a fraction of a second and in little memory, where composing it took seconds and
    ~200 MiB. (Aliases count once here; the builder counts their expansion.)"""
    count = 0
    for event in yaml.parse(source, Loader=_LOADER):
        if isinstance(event, _VALUE_EVENTS):
            count += 1
            if count > limit:
                mark = event.start_mark
                return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return None


def _flow_nesting_beyond(source: str, limit: int) -> tuple[int, int] | None:
    """Where `[`/`{` nesting first passes `limit`, outside quotes and comments: PyYAML
    spends seconds on pathological nesting before our own depth check could refuse it."""
    depth = 0
    line, column = 1, 0
    quote: str | None = None
    comment = False
    for ch in source:
        column += 1
        if ch == "\n":
            # An apostrophe in prose ("the CEO's laptop") must not hide the next lines.
            line, column, comment, quote = line + 1, 0, False, None
            continue
        if comment:
            continue
        if quote is not None:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return line, column
        elif ch in "]}":
            depth = max(0, depth - 1)
    return None


def _yaml_hint(problem: str) -> str:
    if "mapping values are not allowed" in problem:
        return "; a value containing ': ' must be quoted, or a key is mis-indented"
    if "could not find expected ':'" in problem:
        return "; a key is missing its ':' or a line is mis-indented"
    if "never closed" in problem:
        return "; add the closing quote or bracket"
    if "found undefined alias" in problem:
        return "; define the anchor (&name) before using *name"
    if "expected <block end>" in problem:
        return "; check the indentation of this line against the one above"
    return ""


def load_scenario_text(source: str, file: str = "<upload>") -> Loaded:
    """Load and fully validate scenario text; every finding carries file, line and column.

    Validation plays every path (up to a second for a big scenario) and depends only on
    the text, so results are kept: the library page and each new drill reuse them."""
    return _load_scenario_text(source, file)


Inventory = tuple[tuple[str, str], ...]
"""A bundle's files as the validator needs them: (path, why refused or "")."""


def load_bundle(bundle: Bundle) -> Loaded:
    """A bundle's scenario, validated with its files: each attachment must name a file of
    the bundle that was kept, or the finding says why not, at the inject's line."""
    inventory = tuple(sorted([(p, "") for p in bundle.assets] + list(bundle.refused.items())))
    loaded = _load_scenario_text(bundle.source, bundle.name, inventory)
    return replace(loaded, assets=dict(bundle.assets))


def yaml_of(path: Path) -> Path:
    """The scenario YAML a path names: the file itself, or a bundle folder's one .yaml."""
    if path.is_dir():
        return next(p for p in sorted(path.iterdir()) if p.suffix in SCENARIO_SUFFIXES)
    return path


def load_scenario_path(path: Path) -> Loaded:
    """A scenario file, a bundle folder or a bundle .zip."""
    try:
        if path.is_dir():
            return load_bundle(read_folder(path))
        if path.suffix == ".zip":
            return load_bundle(read_zip(path.read_bytes(), path.name))
    except BundleError as exc:
        return Loaded(str(path), "", None, [Finding(Level.error, (), str(exc), str(path))])
    except OSError as exc:
        message = f"cannot read the bundle: {exc.strerror}"
        return Loaded(str(path), "", None, [Finding(Level.error, (), message, str(path))])
    return load_scenario_file(path)


def _attachment_findings(scenario: Scenario, inventory: Inventory | None) -> list[Finding]:
    files = dict(inventory or ())
    found: list[Finding] = []
    for i, inject in enumerate(scenario.injects):
        for j, attachment in enumerate(inject.attachments):
            loc: Loc = ("injects", i, "attachments", j, "file")
            if inventory is None:
                message = (
                    "an attachment needs a bundle: put this YAML and an assets/ folder in a "
                    "folder (or a .zip) and load that"
                )
            elif attachment.file not in files:
                kept = ", ".join(p for p, why in files.items() if not why) or "none"
                message = f"{attachment.file} is not in the bundle; its files are: {kept}"
            elif files[attachment.file]:
                message = f"{attachment.file} is refused: {files[attachment.file]}"
            else:
                continue
            found.append(Finding(Level.error, loc, message))
    return found


@lru_cache(maxsize=64)
def _load_scenario_text(source: str, file: str, inventory: Inventory | None = None) -> Loaded:
    if len(source.encode("utf-8", errors="replace")) > MAX_SOURCE_BYTES:
        return Loaded(file, source, None, [_too_large(file, len(source.encode()))])
    data, source_map, findings = parse_yaml(source, file)
    if findings:
        return Loaded(file, source, None, findings)
    if not isinstance(data, dict):
        return Loaded(
            file,
            source,
            None,
            [
                Finding(
                    Level.error,
                    (),
                    "a scenario is a mapping of keys (id:, title:, ...); this document is not",
                    file,
                    *source_map.locate(()),
                )
            ],
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        return Loaded(
            file, source, None, [_place(f, file, source_map) for f in _pydantic_findings(exc)]
        )
    findings, counted = validate_scenario(scenario)
    findings = [*findings, *_attachment_findings(scenario, inventory)]
    placed = sorted(
        (_place(f, file, source_map) for f in findings), key=lambda f: (f.line, f.column)
    )
    return Loaded(file, source, scenario, placed, counted, data_json=data_as_json(data, scenario))


def data_as_json(data: Any, scenario: Scenario) -> str | None:
    """`data` (what a scenario's YAML holds) as JSON text that validates to `scenario`, the
    model validated from `data`, or None where JSON cannot hold it so: an integer beyond
    64 bits, NaN, a date where the model keeps text. (A date or time where the model keeps
    one is written as ISO 8601 and read back the same.)"""
    try:
        text = orjson.dumps(data)
        if Scenario.model_validate(orjson.loads(text)) != scenario:
            return None
    except (TypeError, ValidationError):  # orjson's refusal; or JSON's reading of it is not
        return None
    return text.decode()


@lru_cache(maxsize=64)
def parse_stored_scenario(source: str, data_json: str | None = None) -> Scenario | None:
    """A scenario version kept in the database, as a model: it passed `load_scenario_text`
    when it was stored and its text never changes, so it is only validated here, not
    explored path by path. A restarted server pays this for each scenario it picks up
    again: from `data_json` (`Loaded.data_json`, stored beside the text) ~2 ms; from the
    text (libyaml's composer where PyYAML has it) ~11 ms; ~400 ms for the full load.
    None if the text does not parse; `load_scenario_text` then says why."""
    if data_json is not None:
        try:
            return Scenario.model_validate(orjson.loads(data_json))
        except (orjson.JSONDecodeError, ValidationError):
            pass  # not as stored: the text is what was validated, so it decides
    try:
        node = yaml.compose(source, Loader=_LOADER)
        if node is None:
            return None
        return Scenario.model_validate(_Builder(SourceMap()).build(node, ()))
    except (yaml.YAMLError, _TooBig, ValidationError, RecursionError):
        return None


def load_scenario_file(path: Path) -> Loaded:
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            return Loaded(file, "", None, [_too_large(file, size)])
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return Loaded(
            file,
            "",
            None,
            [Finding(Level.error, (), "the file is not UTF-8 text; save it as UTF-8", file)],
        )
    except OSError as exc:
        return Loaded(
            file,
            "",
            None,
            [Finding(Level.error, (), f"cannot read the file: {exc.strerror}", file)],
        )
    return load_scenario_text(source, file)


def _too_large(file: str, size: int) -> Finding:
    return Finding(
        Level.error,
        (),
        f"the file is {size / 1024 / 1024:.1f} MiB; a scenario may be at most "
        f"{MAX_SOURCE_BYTES // 1024 // 1024} MiB: split it or move long texts out",
        file,
    )


def scenario_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files and bundles named directly, and every .yaml/.yml file and bundle (a folder
    with an assets/ folder) below named folders, sorted."""
    for path in paths:
        if path.is_dir() and not is_bundle_folder(path):
            bundles = sorted(p for p in path.rglob("*") if is_bundle_folder(p))
            files = [
                p
                for p in path.rglob("*")
                if p.suffix in SCENARIO_SUFFIXES and not any(b in p.parents for b in bundles)
            ]
            yield from sorted(files + bundles)
        else:
            yield path


def _place(finding: Finding, file: str, source_map: SourceMap) -> Finding:
    line, column = source_map.locate(finding.loc)
    return Finding(finding.level, finding.loc, finding.message, file, line, column)


def _pydantic_findings(exc: ValidationError) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[Loc, str]] = set()
    typed: set[Loc] = set()
    for err in exc.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        kind = err["type"]
        if kind.endswith("_type"):
            # A union (`to: ID or [IDs]`) fails once per branch: one finding says it.
            if loc in typed:
                continue
            typed.add(loc)
        message = _house_message(err, loc)
        if (loc, message) not in seen:
            seen.add((loc, message))
            findings.append(Finding(Level.error, loc, message))
    return findings


_NOT_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}

_EXAMPLES: dict[str, str] = {
    "to": "`to: [legal, executive]`",
    "from": "`from: [legal, executive]`",
    "roles": "`roles: [communications, legal]`",
    "attack": "`attack: [T1486, T1566.001]`",
    "tags": "`tags: [ransomware, weekend]`",
    "compliance": "`compliance: [GDPR, NIS2]`",
    "unavailable": "`unavailable: [incident_manager]`",
    "available": "`available: [incident_manager]`",
    "triggers": "`triggers: [press-call]`",
    "suppresses": "`suppresses: [press-call]`",
    "facts": "`facts: [breach_confirmed]`",
    "confused_with": "`confused_with: [law_enforcement]`",
    "questions": '`questions: ["Who decides?"]`',
    "options": "`options: [{id: isolate, label: Isolate now}, {id: wait, label: Wait}]`",
    "injects": "`injects: [{id: alert, title: ..., body: ..., to: [all], at: 0m}]`",
    "decisions": "`decisions: [{id: isolate, prompt: ..., to: [it_operations], ...}]`",
    "expectations": "`expectations: [{id: tell-legal, title: ..., to: legal, within: 1h}]`",
    "statements": "`statements: [{id: holding, title: ..., body: ...}]`",
    "set": "`set: {isolated: true}`",
    "roles-map": "`roles: {legal: {}, helpdesk: {title: Service desk, backup: it_operations}}`",
    "facts-map": "`facts: {breach_confirmed: Personal data was taken}`",
    "score": "`score: {containment: 10}`",
    "variables": "`variables: {company: {default: Acme Ltd}}`",
    "parties": "`parties: {regulator: {name: Information Commissioner, kind: regulator}}`",
    "objectives": "`objectives: {contain: {title: Contain the outbreak, phase: containment}}`",
    "clock": "`clock: {start: 2026-12-24T22:40:00, end: 8h}`",
    "start": "`start: 2026-12-24T22:40:00`",
    "speed": "`speed: 10`",
    "points": "`points: 10`",
    "sends": "`sends: {to: [regulator]}`",
    "after": "`after: {inject: ransom-note}`",
    "when": "`when: {flag: isolated}`",
    "sent": "`sent: {to: legal}`",
    "message": "`message: {to: legal}`",
    "not": "`not: {flag: isolated}`",
    "all": "`all: [{flag: isolated}, {delivered: press-call}]`",
    "any": "`any: [{flag: isolated}, {delivered: press-call}]`",
    "title": "`title: Brief the CEO`",
    "body": "`body: The SIEM shows ...`",
    "prompt": "`prompt: Isolate the server now?`",
    "label": "`label: Isolate now`",
    "id": "`id: ransom-note`",
    "within": "`within: 1h`",
    "time_limit": "`time_limit: 15m`",
    "default": "`default: wait`",
    "phase": "`phase: containment`",
    "name": "`name: Information Commissioner`",
    "summary": "`summary: Ransomware on Christmas Eve ...`",
    "duration": "`duration: 1h30m`",
}
"""What a key expects, as an author would write it: every message about it ends with one."""

_SINGLE_EXAMPLES = {
    "to": "`to: regulator`",
    "from": "`from: legal`",
    "backup": "`backup: executive`",
    "objective": "`objective: notification`",
    "opens": "`opens: isolate`",
}
"""Keys that take one id where `_EXAMPLES` shows a list (an expectation's `to`)."""

_ROLE_LISTS = {"to", "from", "roles", "unavailable", "available"}

_MAPS = {"variables", "roles", "parties", "objectives", "score", "set", "facts"}
"""Mappings whose keys the author chooses: a finding names the key and the mapping."""

_TOP_MAPS = {"roles": "roles-map", "facts": "facts-map"}
"""Top-level mappings that share a key name with a list elsewhere (an inject's `facts`)."""


def _example(name: str, single: bool = False) -> str:
    if single and name in _SINGLE_EXAMPLES:
        return f", e.g. {_SINGLE_EXAMPLES[name]}"
    found = _EXAMPLES.get(name) or _SINGLE_EXAMPLES.get(name)
    return f", e.g. {found}" if found else ""


@lru_cache(maxsize=1)
def _known_keys() -> list[str]:
    """Every key of the format, as authors write them (`from`, not `from_`)."""
    keys: set[str] = set()
    for model in vars(scenario_format).values():
        if isinstance(model, type) and issubclass(model, BaseModel):
            keys |= {f.alias or n for n, f in model.model_fields.items()}
    return sorted(keys)


def _house_message(err: Any, loc: Loc) -> str:
    """Pydantic's library wording ("Input should be a valid list") in the house style:
    what is wrong, how to fix it, and what is expected."""
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    got = f" (got {_short(value)})"
    keys = [p for p in loc if isinstance(p, str)]
    name = keys[-1] if keys else "this value"
    item = bool(loc) and isinstance(loc[-1], int)
    key = f"each item of `{name}`" if item else f"`{name}`"
    if len(keys) >= 2 and keys[-2] in _MAPS and loc[-1] == keys[-1]:
        # A value under an author's own id (`variables: {company: ...}`): name both.
        key, name = f"`{keys[-2]}.{keys[-1]}`", keys[-2]
        if len(keys) == 2 and name in _TOP_MAPS:
            name = _TOP_MAPS[name]
    if kind == "missing":
        return f"`{name}` is required but missing: add it{_example(name)}"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(name, _known_keys(), n=1, cutoff=0.75)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        return f"`{name}` is not a known key here: check its spelling and indentation{hint}"
    if kind == "literal_error" and loc == ("format",):
        return "this Tabletop reads scenario format 1: set `format: 1`"
    if kind == "string_pattern_mismatch" and "0,63" in str(ctx):
        return (
            f"{value!r} is not a valid id: use lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit (up to 64)"
        )
    if kind == "string_pattern_mismatch" and str(ctx.get("pattern", "")).startswith("^T"):
        return f"{value!r} is not a MITRE ATT&CK technique id such as T1486"
    if kind == "bool_type":
        if isinstance(value, str) and value.strip().lower() in _NOT_BOOLEANS:
            return f"`{value}` is not a boolean here: write true or false"
        return f"{key} is true or false{got}"
    in_match = len(keys) >= 2 and keys[-2] in ("sent", "message")
    if kind in ("list_type", "string_type") and name == "to" and in_match:
        return (
            f"`to` is a role or party id, or a list of them, e.g. `to: legal` or "
            f"`to: [regulator, dpa]`{got}"
        )
    if kind == "list_type" and "sends" in keys:
        what = "a list of role or party ids, even of one"
        return f"{key} must be {what}, e.g. `to: [regulator]`{got}"
    if kind == "list_type":
        what = "a list"
        if name in _ROLE_LISTS:
            what = "a list of role ids"
        if name == "to" and keys[0] in ("injects", "decisions"):
            what = "a list of role ids (or `all` for everyone)"
        elif name in ("to", "confused_with") and keys[0] in ("statements", "decisions"):
            what = "a list of role or party ids"
        return f"{key} must be {what}, even of one{_example(name)}{got}"
    if kind == "string_type":
        single = _SINGLE_EXAMPLES.get(name)
        if isinstance(value, list) and single:
            return f"{key} takes one id, not a list, e.g. {single}{got}"
        return f"{key} must be text{_example(name, single=True)}{got}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{key} must be a mapping of keys{_example(name)}{got}"
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        return f"{key} must be a number{_example(name)}{got}"
    if kind == "enum":
        return f"{key} must be one of: {ctx.get('expected', '').replace(chr(39), '')}{got}"
    if kind in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"{key} must be a date and time{_example(name)}{got}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return f"`{name}` needs at least {least} item{'s' if least != 1 else ''}{_example(name)}"
    if kind == "too_long":
        return f"`{name}` has too many items: at most {ctx.get('max_length')}"
    if kind == "string_too_short":
        return f"{key} is empty: write some text{_example(name)}"
    if kind == "string_too_long":
        return f"{key} is too long: at most {ctx.get('max_length'):,} characters"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        word, limit = {
            "greater_than": ("above", ctx.get("gt")),
            "greater_than_equal": ("at least", ctx.get("ge")),
            "less_than": ("below", ctx.get("lt")),
            "less_than_equal": ("at most", ctx.get("le")),
        }[kind]
        bound = f"{word} {limit:g}" if isinstance(limit, int | float) else f"{word} {limit}"
        return f"{key} must be {bound}{_example(name)}{got}"
    message = str(err["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type"):
        message = f"{message}{got}"
    return message


_PYDANTIC_LOC_NOISE = (
    "constrained-str",
    "function-",
    "union[",
    "str",
    "float",
    "list[",
    "nullable[",
    "json-or-python",
)


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    # Pydantic adds union branch names and alias spellings; authors only know their keys.
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
        elif isinstance(part, str) and not part.startswith(_PYDANTIC_LOC_NOISE):
            out.append("not" if part == "not_" else "from" if part == "from_" else part)
    return tuple(out)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
