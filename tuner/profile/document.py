"""The profile language: pydantic models of one YAML file, and loading with located errors.

A profile file is parsed with positions (``yamlsrc``), validated by the models below, and every
problem comes back as a ``Diagnostic`` at the offending node. ``resolve`` then merges ``extends``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tuner.base import limits, services
from tuner.base.diagnostics import Diagnostic, Location
from tuner.base.errors import TunerError
from tuner.base.keys import KeySyntaxError, normalize_value, parse_key
from tuner.base.safetext import check_text
from tuner.base.wording import did_you_mean, one_of
from tuner.machine.rootfs import TooLarge, read_path
from tuner.profile.library import MAX_PROFILE_BYTES, PROFILE_NAME, display_path
from tuner.profile.resolved import Intent
from tuner.profile.vendored import content_hash
from tuner.profile.yamlsrc import MAX_BYTES, YamlDocument, load_yaml

_NAME = PROFILE_NAME


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a profile name: letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


def _check_key(text: str) -> str:
    try:
        return parse_key(text).name
    except KeySyntaxError as exc:
        raise ValueError(str(exc)) from None


def _check_text(text: str) -> str:
    """Free text (description, why, source): several lines, but nothing safetext refuses."""
    return check_text(text.strip(), multiline=True)


def _check_line(text: str) -> str:
    return check_text(text)


_RULE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _check_rule_id(text: str) -> str:
    if not _RULE_ID.fullmatch(text):
        raise ValueError(
            f"{text[:80]!r} is not a rule id (lowercase letters, digits and '-', as "
            "`tuner explain` and every finding line print it)"
        )
    return text


def _short_form(data: Any) -> Any:
    return data if isinstance(data, dict) else {"value": data}


ProfileName = Annotated[str, AfterValidator(_check_name)]
SysctlKeyName = Annotated[str, AfterValidator(_check_key)]
SysctlValue = Annotated[str, BeforeValidator(normalize_value)]
LimitValue = Annotated[str, BeforeValidator(limits.normalize_limit_value)]
ServiceValue = Annotated[str, BeforeValidator(services.normalize_service_value)]
Text = Annotated[str, AfterValidator(_check_text)]
Line = Annotated[str, AfterValidator(_check_line)]
Why = Text
UnitName = Annotated[str, AfterValidator(services.check_unit)]
RuleId = Annotated[str, AfterValidator(_check_rule_id)]
Reason = Annotated[str, AfterValidator(_check_text)]
# a rule acknowledged, with the team's reason: its findings become info lines naming the reason
Acknowledge = dict[RuleId, Reason]
LimitItem = Literal[
    "core", "data", "fsize", "memlock", "nofile", "rss", "stack", "cpu", "nproc", "as",
    "maxlogins", "maxsyslogins", "nonewprivs", "priority", "locks", "sigpending", "msgqueue",
    "nice", "rtprio", "rttime",
]  # fmt: skip
ServiceDirective = Literal[
    "LimitCPU", "LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitNOFILE",
    "LimitAS", "LimitNPROC", "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE",
    "LimitNICE", "LimitRTPRIO", "LimitRTTIME",
]  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class SysctlSetting(_Model):
    value: SysctlValue
    why: Why | None = None
    source: Why | None = None
    acknowledge: Acknowledge = {}

    _short = model_validator(mode="before")(_short_form)


class ServiceSetting(_Model):
    value: ServiceValue
    why: Why | None = None
    source: Why | None = None
    acknowledge: Acknowledge = {}

    _short = model_validator(mode="before")(_short_form)


class LimitRule(_Model):
    domain: Annotated[str, AfterValidator(limits.check_domain)]
    type: Literal["soft", "hard", "-"]
    item: LimitItem
    value: LimitValue | None = Field(description="null removes an inherited rule")
    why: Why | None = None
    source: Why | None = None
    acknowledge: Acknowledge = {}

    @field_validator("value", mode="after")
    @classmethod
    def _minus_one(cls, value: str | None, info: ValidationInfo) -> str | None:
        item = info.data.get("item")
        return limits.for_item(item, value) if value is not None and item else value

    @model_validator(mode="after")
    def _item_value(self) -> LimitRule:
        limits.check_domain_item(self.domain, self.item)
        if self.value is not None:
            limits.check_item_value(self.item, self.value)
        return self


class Vendored(_Model):
    """Written by ``tuner vendor``: where a flattened profile came from."""

    tuner_version: Line
    content_sha256: Line
    chain: list[Line]


class ProfileDoc(_Model):
    name: ProfileName
    description: Text = ""
    extends: list[ProfileName] = []
    intent: Intent | None = None
    vendored: Vendored | None = None
    sysctl: dict[SysctlKeyName, SysctlSetting | None] = {}
    limits: list[LimitRule] = []
    services: dict[UnitName, dict[ServiceDirective, ServiceSetting | None] | None] = {}
    acknowledge: dict[RuleId, Reason | None] = {}  # null withdraws an inherited one


FIELDS = tuple(ProfileDoc.model_fields)


@dataclass(frozen=True)
class ProfileSource:
    """One profile file as loaded: where it is, its positions, and its model (None if invalid).

    ``partial`` is the model of whatever part of an invalid file is valid (the entries with errors
    left out), so that validate can still run the rules on it and report everything at once."""

    path: Path
    display: str
    doc: YamlDocument
    model: ProfileDoc | None
    partial: ProfileDoc | None = None
    limit_rows: tuple[int, ...] | None = None  # of each partial.limits entry: its place in the file

    @property
    def best(self) -> ProfileDoc | None:
        return self.model or self.partial

    def limit_row(self, index: int) -> int:
        """Where ``best.limits[index]`` is in the file: a partial model leaves out the invalid
        entries, and the ones after them must still point at their own lines."""
        if self.model is None and self.limit_rows is not None:
            return self.limit_rows[index]
        return index


def load_profile(
    path: Path, read: Callable[[Path], bytes] | None = None, origin: str | None = None
) -> tuple[ProfileSource, list[Diagnostic]]:
    """Parse one profile file; ``read`` fetches its bytes (the library's reader, which keeps
    a site profile inside its root). Never raises for what the file holds. A profile of the
    library (``origin``: site or bundled) is named in messages by its file name and origin."""
    source, problems = _load_profile(path, read)
    if origin is None:
        return source, problems
    doc = dataclasses.replace(source.doc, file=path.name, origin=origin)
    moved = [
        dataclasses.replace(d, location=dataclasses.replace(d.location, file=path.name,
                                                            origin=origin))
        if d.location is not None and d.location.file == source.display else d
        for d in problems
    ]  # fmt: skip
    return dataclasses.replace(source, doc=doc), moved


def _load_profile(
    path: Path, read: Callable[[Path], bytes] | None = None
) -> tuple[ProfileSource, list[Diagnostic]]:
    display = display_path(path)
    try:
        try:
            raw = (read or _read_plain)(path)
        except TooLarge:
            raw = b"\0" * (MAX_BYTES + 1)  # reported just below, as any other oversize profile
        if len(raw) > MAX_BYTES:  # counted in bytes: multibyte padding cannot hide a tail
            doc = YamlDocument(display, None)
            message = f"a profile is at most {MAX_BYTES // (1024 * 1024)} MiB"
            return ProfileSource(path, display, doc, None), [
                Diagnostic("error", message, doc.location(()))
            ]
        # a byte order mark is allowed at the start (editors on Windows write one), nowhere else
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except (TunerError, OSError, UnicodeDecodeError) as exc:
        reason = (
            exc.strerror if isinstance(exc, OSError)
            else "not UTF-8 text" if isinstance(exc, UnicodeDecodeError)
            else str(exc)
        )  # fmt: skip
        doc = YamlDocument(display, None)
        return ProfileSource(path, display, doc, None), [
            Diagnostic("error", f"cannot read profile: {reason}", doc.location(()))
        ]
    doc, problems = load_yaml(text, display)
    problems = _labelled(problems, doc)
    if doc.data is None and problems:  # not YAML at all; duplicate keys still get validated
        return ProfileSource(path, display, doc, None), problems
    if not isinstance(doc.data, dict):
        message = "a profile is a YAML mapping (name:, sysctl:, ...)"
        return ProfileSource(path, display, doc, None), [
            *problems,
            Diagnostic("error", message, doc.location(())),
        ]
    data: dict[str, Any] = doc.data
    if data and not any(key in FIELDS for key in data):
        # not a profile at all (a link to /etc/shadow, a stray file): say so without quoting
        # any of it; messages quote keys only from files that are profiles
        fields = ", ".join(FIELDS)
        message = f"not a tuner profile: none of its top-level keys is a profile field ({fields})"
        return ProfileSource(path, display, YamlDocument(display, None), None), [
            Diagnostic("error", message, Location(display, 1, 1))
        ]
    stem = path.name.rsplit(".", 1)[0]
    if "name" not in data and path.suffix in (".yaml", ".yml") and _NAME.fullmatch(stem):
        data = {"name": stem, **data}  # profiles are found by file name: that is the default
    try:
        model = ProfileDoc.model_validate(data)
    except ValidationError as exc:
        model = None
        said = {d.location for d in problems if d.severity == "error"}
        problems += [d for d in _located(exc, doc) if d.location not in said]
        pruned = [_prune_path(tuple(e["loc"])) for e in exc.errors(include_url=False)]
        partial, rows = _partial(data, pruned, path)
        if partial is not None:  # what systemd would refuse is reported now too, and left out
            more, bad = _service_values(partial, doc)
            problems += more
            if bad:
                partial, rows = _partial(data, pruned + bad, path)
            if partial is not None:
                problems += _repeated_limits(partial, doc, rows)
    if model is None:
        return ProfileSource(path, display, doc, None, partial, rows), problems
    checks, bad_paths = _file_checks(model, path, doc)
    problems += checks
    if not problems:
        return ProfileSource(path, display, doc, model), problems
    partial, rows = _partial(data, bad_paths, path) if bad_paths else (model, None)
    return ProfileSource(path, display, doc, None, partial, rows), problems


def _read_plain(path: Path) -> bytes:
    return read_path(path, MAX_PROFILE_BYTES + 1)


def _labelled(problems: list[Diagnostic], doc: YamlDocument) -> list[Diagnostic]:
    """YAML-level problems named by the key they are about, as model errors are."""
    paths = {mark: path for path, mark in doc.value_marks.items()}
    out = []
    for problem in problems:
        where = problem.location
        path = paths.get((where.line, where.col)) if where and where.file == doc.file else None
        label = _label(path) if problem.key is None and path else None
        out.append(dataclasses.replace(problem, key=label) if label else problem)
    return out


def _prune_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The smallest part of a profile to leave out so that an error at ``loc`` goes away."""
    parts = tuple(p for p in loc if p != "[key]")
    if parts and parts[0] in ("sysctl", "limits"):
        return parts[:2]
    if parts and parts[0] == "services":
        return parts[:3]
    return parts[:1]


def _partial(
    data: dict[str, Any], paths: list[tuple[Any, ...]], path: Path
) -> tuple[ProfileDoc | None, tuple[int, ...] | None]:
    """The model of ``data`` without the entries at ``paths`` (None when even that fails), and
    the place in the file of each ``limits`` entry it keeps."""
    pruned: dict[str, Any] = {
        k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
        for k, v in data.items()
    }
    drop_limits: set[int] = set()
    for where in paths:
        head = where[0] if where else None
        if head == "limits" and len(where) > 1 and isinstance(where[1], int):
            drop_limits.add(where[1])
        elif head in ("sysctl", "services") and len(where) > 1:
            section = pruned.get(head)
            if not isinstance(section, dict):
                pruned.pop(head, None)
            elif len(where) == 3 and isinstance(section.get(where[1]), dict):
                section[where[1]] = {k: v for k, v in section[where[1]].items() if k != where[2]}
            else:
                section.pop(where[1], None)
        elif head is not None:
            pruned.pop(head, None)
    rows = None
    if isinstance(pruned.get("limits"), list):
        rows = tuple(i for i in range(len(pruned["limits"])) if i not in drop_limits)
        pruned["limits"] = [pruned["limits"][i] for i in rows]
    if not isinstance(pruned.get("name"), str) or not _NAME.fullmatch(pruned["name"]):
        pruned["name"] = path.stem if _NAME.fullmatch(path.stem) else "invalid"
    try:
        return ProfileDoc.model_validate(pruned), rows
    except ValidationError:
        return None, None


def _located(exc: ValidationError, doc: YamlDocument) -> list[Diagnostic]:
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        on_key = bool(loc) and loc[-1] == "[key]"
        path = loc[:-1] if on_key else loc
        kind = error["type"]
        message = _in_our_words(error)
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):  # a model, a dataclass
            on_key = True
            allowed = _allowed(path)
            guess = did_you_mean(str(path[-1]), allowed)
            hint = f"did you mean {guess!r}? " if guess else ""
            message = f"unknown field {path[-1]!r}; {hint}allowed here: {', '.join(allowed)}"
        elif kind in ("missing", "missing_argument"):
            message = f"required field {path[-1]!r} is missing"
            path = path[:-1]
        elif on_key and path and path[0] == "services" and len(path) == 3:
            message = f"unknown directive {path[-1]!r}; expected one of the Limit*= settings"
        location = doc.location(path, key=on_key)
        out.append(Diagnostic("error", message, location, _label(loc)))
    return out


_SHOULD_BE = {  # pydantic's error types, as a profile's author would say what a value must be
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "int_from_float": "a whole number", "bool_type": "true or false",
    "bool_parsing": "true or false", "dict_type": "a mapping (key: value lines)",
    "list_type": "a list (- item lines)", "float_type": "a number", "float_parsing": "a number",
    "none_required": "empty",
}  # fmt: skip
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}  # fmt: skip


def _in_our_words(error: Any) -> str:
    """A pydantic error as tuner says it: what the value must be, and what it is."""
    kind, given, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    shown = repr(given) if isinstance(given, str | int | float | bool) or given is None else None
    if kind in ("literal_error", "enum"):
        expected = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        guess = did_you_mean(str(given), expected) if isinstance(given, str) else None
        hint = f" (did you mean {guess}?)" if guess else ""
        return f"{shown} is not {one_of(expected)}{hint}"
    if kind in _BOUNDS:
        phrase, bound = _BOUNDS[kind]
        limit = ctx.get(bound)
        limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
        return f"must be {phrase} {limit}, not {shown}"
    if kind in _SHOULD_BE:
        return f"must be {_SHOULD_BE[kind]}" + (f", not {shown}" if shown else "")
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return re.sub(r"^Input should be ", "must be ", message)


def limit_label(index: int, field: object = None) -> str:
    """How a message names an entry of ``limits:`` (counted from 1, as a reader counts)."""
    return f"limits entry {index + 1}" + (f", {field}" if field is not None else "")


def _allowed(path: tuple[Any, ...]) -> list[str]:
    if len(path) == 1:
        return list(FIELDS)
    if path[0] == "limits":
        return list(LimitRule.model_fields)
    if path[0] == "intent":
        return [f.name for f in dataclasses.fields(Intent)]
    if path[0] == "vendored":
        return list(Vendored.model_fields)
    return ["value", "why", "source", "acknowledge"]


def _label(loc: tuple[Any, ...]) -> str:
    """The key a message is about: the sysctl key, ``limits[2].item``, ``UNIT.Directive``."""
    parts = [p for p in loc if p != "[key]"]
    if not parts:
        return ""
    head = parts[0]
    if head == "sysctl" and len(parts) > 1:
        return str(parts[1])
    if head == "limits" and len(parts) > 1 and isinstance(parts[1], int):
        return limit_label(parts[1], parts[2] if len(parts) > 2 else None)
    if head == "services" and len(parts) > 1:
        return ".".join(str(p) for p in parts[1:3])
    if head == "intent" and len(parts) > 1:
        return f"intent.{parts[1]}"
    return str(head)


def _service_values(
    model: ProfileDoc, doc: YamlDocument
) -> tuple[list[Diagnostic], list[tuple[Any, ...]]]:
    """Each Limit*= value as systemd parses it for its directive; the entries that fail."""
    problems = []
    bad: list[tuple[Any, ...]] = []
    for unit, directives in model.services.items():
        for directive, setting in (directives or {}).items():
            if setting is None:
                continue
            try:
                services.parse_value(directive, setting.value)
            except ValueError as exc:
                where = doc.location(("services", unit, directive, "value"))
                problems.append(Diagnostic("error", str(exc), where, f"{unit}.{directive}"))
                bad.append(("services", unit, directive))
    return problems, bad


def _file_checks(
    model: ProfileDoc, path: Path, doc: YamlDocument
) -> tuple[list[Diagnostic], list[tuple[Any, ...]]]:
    """Checks within one file that the models cannot see: name vs file, aliased duplicates, each
    Limit*= value as systemd parses it for its directive. Also: the entries to leave out of the
    partial model."""
    problems, bad = _service_values(model, doc)
    stem = path.name.rsplit(".", 1)[0]
    if path.suffix in (".yaml", ".yml") and model.name != stem:
        problems.append(
            Diagnostic(
                "error",
                f"profile name {model.name!r} does not match its file name {path.name!r}; "
                f"profiles are found by file name: rename the file to {model.name}"
                f"{path.suffix}, or set name: {stem} (or leave name out: it defaults to the "
                "file name)",
                doc.location(("name",)),
                "name",
            )
        )
    if model.vendored is not None and isinstance(doc.data, dict):
        body = {k: v for k, v in doc.data.items() if k != "vendored"}
        if content_hash(body) != model.vendored.content_sha256:
            problems.append(
                Diagnostic(
                    "warning",
                    "this vendored profile changed after `tuner vendor` wrote it "
                    "(its content no longer matches vendored.content_sha256)",
                    doc.location(("vendored",), key=True),
                    "vendored",
                )
            )
    raw_sysctl = doc.data.get("sysctl") if isinstance(doc.data, dict) else None
    seen: dict[str, str] = {}
    for raw in raw_sysctl or {}:
        canonical = parse_key(raw).name
        if canonical in seen:
            problems.append(
                Diagnostic(
                    "error",
                    f"same key as {seen[canonical]!r} (dotted and slashed forms name one file)",
                    doc.location(("sysctl", raw), key=True),
                    raw,
                )
            )
        seen.setdefault(canonical, raw)
    return [*problems, *_repeated_limits(model, doc)], bad


def _repeated_limits(
    model: ProfileDoc, doc: YamlDocument, rows: tuple[int, ...] | None = None
) -> list[Diagnostic]:
    """A domain, type and item set twice in one file (``rows``: where a partial model's
    entries are in the file)."""
    problems = []
    rules: dict[tuple[str, str, str], int] = {}
    for row, rule in enumerate(model.limits):
        index = rows[row] if rows is not None else row
        for kind in ("soft", "hard") if rule.type == "-" else (rule.type,):
            ident = (rule.domain, rule.item, kind)
            if ident in rules:
                problems.append(
                    Diagnostic(
                        "error",
                        f"{rule.domain} {kind} {rule.item} is already set "
                        f"by {limit_label(rules[ident])}",
                        doc.location(("limits", index)),
                        limit_label(index),
                    )
                )
            rules.setdefault(ident, index)
    return problems
