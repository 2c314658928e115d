"""What tuned applies from a profile: its ``tuned.conf`` files, includes, merge and variables.

A model of tuned 2.20's profile loader (tuned/profiles/loader.py, locator.py, merger.py, unit.py,
variables.py, functions/functions.py) and of its sysctl plugin (plugins/plugin_sysctl.py):

- a profile NAME is ``DIR/NAME/tuned.conf`` in the first of /etc/tuned, /usr/lib/tuned that has
  it (a file already loaded is skipped, so /etc/tuned/x may include the x it overrides);
- ``include=`` in ``[main]`` (a ``,``/``;`` list; a ``-name`` may be missing) loads those first,
  depth first; the profile itself comes after them and wins;
- profiles merge unit by unit: a later unit updates the options of the same-named one, unless it
  says ``replace=1``; ``drop=`` removes inherited options; ``type=`` (default: the section name)
  chooses the plugin, so ``[my_net] type=sysctl`` is a sysctl unit too;
- ``[variables]`` (and its ``include=`` file) define ``${NAME}``; ``${f:NAME:ARGS}`` calls a
  built-in function. tuner evaluates what is static (variables, ``strip``, ``kb2s``, ``s2kb``,
  ``regex_search_ternary``) and reports every other function (``exec``, ``virt_check``,
  ``cpulist_*`` ...: they depend on the machine at the time tuned runs), never guessing;
- the sysctl plugin applies each enabled sysctl unit in order of ``priority`` (then file order):
  each value unquoted, expanded, and a ``>N``/``<N`` value set only when it raises/lowers the
  current one. A unit with ``cpuinfo_regex``/``uname_regex`` applies only on matching machines.

``tests/test_tuned_differential.py`` holds this model to tuned's own loader on every profile
Debian's tuned package ships.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tuner.base.errors import TunerError

SEARCH_PATH = (PurePosixPath("/etc/tuned"), PurePosixPath("/usr/lib/tuned"))  # first wins
MAIN = "main"
_SPECIAL = (
    "type",
    "enabled",
    "replace",
    "drop",
    "devices",
    "devices_udev_regex",
    "cpuinfo_regex",
    "uname_regex",
    "script_pre",
    "script_post",
)
_TRUE = ("True", "true", "1")
_SAFE_NAME = re.compile(r"[a-zA-Z0-9_.-]+")
_VARIABLE_NAME = re.compile(r"\w+")
DEPRECATED = ("base_reachable_time", "retrans_time")  # the sysctl plugin refuses these
MAX_FILES = 256
MAX_EXPANSION = 256 * 1024
# a pattern with a repeated group (``(a+)+``) can take exponential time: not evaluated
_NESTED_REPEAT = re.compile(r"\)[*+{]|\)\?[*+{]")
# the built-in functions whose result depends only on their arguments: (min, max) arguments
STATIC_FUNCTIONS = {"strip": (1, 0), "kb2s": (1, 1), "s2kb": (1, 1), "regex_search_ternary": (4, 4)}

Reader = Callable[[PurePosixPath], "str | None"]


class TunedError(TunerError):
    """A tuned profile that tuned itself would refuse to load."""


@dataclass(frozen=True)
class Origin:
    file: PurePosixPath
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Unit:
    name: str
    type: str
    options: dict[str, str]
    origins: dict[str, Origin]
    enabled: bool = True
    replace: bool = False
    drop: list[str] | None = None
    conditions: dict[str, str] = field(default_factory=dict)  # cpuinfo_regex, uname_regex


@dataclass
class _Profile:
    options: dict[str, str]
    units: dict[str, Unit]


@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    origin: Origin
    unit: str


@dataclass(frozen=True)
class LeftOut:
    """Something of the profile tuner does not import, and why."""

    what: str
    reason: str
    origin: Origin | None = None

    def __str__(self) -> str:
        where = f" ({self.origin})" if self.origin else ""
        return f"{self.what}{where}: {self.reason}"


@dataclass(frozen=True)
class Loaded:
    """A tuned profile as tuned would apply it: its sysctl settings, and all the rest."""

    name: str
    files: tuple[PurePosixPath, ...]  # every tuned.conf read, in load order
    sysctl: tuple[Setting, ...]  # what the sysctl plugin sets, in the order it applies them
    left_out: tuple[LeftOut, ...]
    summary: str = ""


def load(name: str, read: Reader, search: tuple[PurePosixPath, ...] = SEARCH_PATH) -> Loaded:
    """The profile ``name`` (or names, space separated, as tuned takes them) from ``search``."""
    names = [n for n in name.split() if _SAFE_NAME.fullmatch(n)]
    if not names:
        raise TunedError(f"{name!r} is not a tuned profile name (letters, digits, '.', '_', '-')")
    loader = _Loader(read, search)
    for item in names:
        loader.load(item)
    if not loader.profiles:
        raise TunedError(f"tuned profile {name!r} loaded nothing")
    merged = loader.profiles[0]
    for later in loader.profiles[1:]:
        merged = _merge(merged, later)
    return loader.finish(" ".join(names), merged)


class _Loader:
    def __init__(self, read: Reader, search: tuple[PurePosixPath, ...]) -> None:
        self.read = read
        self.search = search
        self.processed: list[PurePosixPath] = []
        self.profiles: list[_Profile] = []
        self.left_out: list[LeftOut] = []

    def locate(self, name: str) -> PurePosixPath | None:
        """tuned's Locator.get_config: None when missing, the empty path when already loaded."""
        conditional = name.startswith("-")
        name = name.removeprefix("-")
        found: PurePosixPath | None = None
        for directory in self.search:
            path = PurePosixPath(
                posixpath.normpath(f"{directory}/{posixpath.basename(name)}/tuned.conf")
            )
            if path in self.processed:
                found = PurePosixPath()
                continue
            if self.read(path) is not None:
                return path
        if conditional and found is None:
            return PurePosixPath()
        return found

    def load(self, name: str, from_file: PurePosixPath | None = None) -> None:
        path = self.locate(name)
        if path == PurePosixPath():
            return
        if path is None:
            dirs = ", ".join(str(d) for d in self.search)
            where = f" (included by {from_file})" if from_file else ""
            raise TunedError(f"cannot find tuned profile {name!r} in {dirs}{where}")
        if len(self.processed) >= MAX_FILES:
            raise TunedError(f"a tuned profile includes more than {MAX_FILES} files")
        self.processed.append(path)
        profile = _parse(self.read(path) or "", path)
        include = profile.options.pop("include", None)
        if include is not None:
            expanded, dynamic = expand(include, {})
            origin = _origin_of(self.read(path) or "", path, MAIN, "include")
            if dynamic:
                self.left_out.append(
                    LeftOut(
                        f"include={include}",
                        f"depends on the machine tuned runs on "
                        f"({', '.join(dynamic)}): not followed; import the profile it "
                        "chooses by name",
                        origin,
                    )
                )
            else:
                for included in re.split(r"\s*[,;]\s*", expanded):
                    self.load(included, path)
        self.profiles.append(profile)

    def finish(self, name: str, merged: _Profile) -> Loaded:
        variables: dict[str, tuple[str, list[str]]] = {}
        units = dict(merged.units)
        declared = units.pop("variables", None)
        if declared is not None:
            self._variables(declared, variables)
        settings: dict[str, Setting] = {}
        ordered = sorted(
            (u for u in units.values() if u.enabled),
            key=_priority,
        )
        for unit in units.values():
            if not unit.enabled:
                continue
            if unit.type != "sysctl":
                shown = ", ".join(f"{k}={v}" for k, v in unit.options.items())
                first = next(iter(unit.origins.values()), None)
                self.left_out.append(
                    LeftOut(
                        f"[{unit.name}]{' ' + shown if shown else ''}",
                        f"a {unit.type} setting: tuner sets sysctls and resource limits only",
                        first,
                    )
                )
        for unit in ordered:
            if unit.type != "sysctl":
                continue
            if unit.conditions:
                said = ", ".join(f"{k}={v}" for k, v in unit.conditions.items())
                for key, value in unit.options.items():
                    self.left_out.append(
                        LeftOut(
                            f"{key}={value}",
                            f"in [{unit.name}], which applies only where "
                            f"{said} matches the machine",
                            unit.origins.get(key),
                        )
                    )
                continue
            for key, raw in unit.options.items():
                if key == "priority":
                    continue
                origin = unit.origins.get(key)
                value, dynamic = expand(_unquote(raw), variables)
                if dynamic:
                    reason = f"depends on the machine tuned runs on ({', '.join(dynamic)})"
                    self.left_out.append(LeftOut(f"{key}={raw}", reason, origin))
                    settings.pop(key, None)
                    continue
                if len(value) > 1 and value[0] in "<>":
                    verb = "raises" if value[0] == ">" else "lowers"
                    reason = (
                        f"tuned sets it only when that {verb} the current value; tuner sets "
                        "exact values"
                    )
                    self.left_out.append(LeftOut(f"{key}={raw}", reason, origin))
                    settings.pop(key, None)
                    continue
                if posixpath.basename(key.replace(".", "/")) in DEPRECATED:
                    self.left_out.append(LeftOut(f"{key}={raw}", "tuned refuses it", origin))
                    continue
                settings.pop(key, None)  # a later unit's value is written later: it wins
                settings[key] = Setting(key, value, origin or Origin(PurePosixPath(), 0), unit.name)
        summary = merged.options.get("summary", "")
        return Loaded(
            name, tuple(self.processed), tuple(settings.values()), tuple(self.left_out), summary
        )

    def _variables(self, unit: Unit, variables: dict[str, tuple[str, list[str]]]) -> None:
        """tuned's Variables.add_from_cfg: each value expanded with those defined before it."""
        for key, raw in unit.options.items():
            if key == "include":
                path = PurePosixPath(posixpath.normpath(raw))
                text = self.read(path)
                if text is None:
                    self.left_out.append(
                        LeftOut(
                            f"[variables] include={raw}",
                            "no such file: its variables are undefined",
                            unit.origins.get(key),
                        )
                    )
                    continue
                parser = _parser()
                try:
                    parser.read_string(f"[{MAIN}]\n{text}", str(path))
                except configparser.Error as exc:
                    raise TunedError(
                        f"{path}: cannot parse tuned variables: {_first_line(exc)}"
                    ) from None
                for section in parser.sections():
                    for option in parser.options(section):
                        _define(variables, option, parser.get(section, option, raw=True))
                continue
            _define(variables, key, raw)


def _define(variables: dict[str, tuple[str, list[str]]], name: str, value: str | None) -> None:
    if value is None or not _VARIABLE_NAME.fullmatch(name):
        return
    variables[name] = expand(value, variables)


def _priority(unit: Unit) -> int:
    try:
        return int(unit.options.get("priority", "0"))
    except ValueError:
        return 0


def _parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        delimiters=("=",), inline_comment_prefixes=("#",), strict=False, allow_no_value=True
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200]


def _parse(text: str, path: PurePosixPath) -> _Profile:
    """One tuned.conf as tuned's loader reads it (configparser: '=' only, '#' comments, the
    last of duplicate options winning; ``${i:PROFILE_DIR}`` is the file's directory)."""
    parser = configparser.ConfigParser(
        delimiters=("=",), inline_comment_prefixes=("#",), strict=False
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, str(path))
    except configparser.Error as exc:
        raise TunedError(f"{path}: tuned cannot parse it: {_first_line(exc)}") from None
    directory = str(path.parent)
    options: dict[str, str] = {}
    units: dict[str, Unit] = {}
    for section in parser.sections():
        values = {
            o: re.sub(
                r"(?<!\\)\$\{i:PROFILE_DIR\}",
                lambda _m: directory,
                parser.get(section, o, raw=True) or "",
            )
            for o in parser.options(section)
        }
        if section == MAIN:
            options = values
            continue
        origins = {o: _origin_of(text, path, section, o) for o in values}
        kind = values.pop("type", section)
        enabled = values.pop("enabled", "True") in _TRUE
        replace = values.pop("replace", "False") in _TRUE
        drop = values.pop("drop", None)
        conditions: dict[str, str] = {
            k: values.pop(k) for k in ("cpuinfo_regex", "uname_regex") if k in values
        }
        for special in _SPECIAL:
            values.pop(special, None)
        units[section] = Unit(
            section,
            kind,
            values,
            origins,
            enabled,
            replace,
            re.split(r"\b\s*[,;]\s*", drop) if drop is not None else None,
            conditions,
        )
    return _Profile(options, units)


def _merge(older: _Profile, newer: _Profile) -> _Profile:
    """tuned's Merger._merge_two."""
    older.options.update(newer.options)
    for name, unit in newer.units.items():
        if unit.replace or name not in older.units:
            older.units[name] = unit
            continue
        kept = older.units[name]
        kept.type, kept.enabled = unit.type, unit.enabled
        kept.conditions = {**kept.conditions, **unit.conditions}
        for option in unit.drop or ():
            kept.options.pop(option, None)
        kept.options.update(unit.options)
        kept.origins.update(unit.origins)
    return older


def _origin_of(text: str, path: PurePosixPath, section: str, option: str) -> Origin:
    """The line of the last ``option =`` in ``[section]`` (the one configparser keeps)."""
    current, found = None, 0
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if stripped.startswith("[") and "]" in stripped:
            current = stripped[1 : stripped.index("]")]
        elif current == section and not line[:1].isspace():
            name = stripped.split("=", 1)[0].strip()
            if name == option:
                found = number
    return Origin(path, found)


def _unquote(value: str) -> str:
    return re.sub(r'^"(.*)"$', r"\1", value)


def expand(value: str, variables: dict[str, tuple[str, list[str]]]) -> tuple[str, list[str]]:
    """``value`` with its variables and static functions expanded (tuned's Variables.expand),
    and the dynamic expressions it holds (non-empty: the value is not known before tuned runs).
    """
    dynamic: list[str] = []
    if variables:
        names = list(variables)
        pattern = re.compile("|".join(f"((?<!\\\\)\\${{{re.escape(n)}}})" for n in names))

        grown = [len(value)]

        def substitute(match: re.Match[str]) -> str:
            text, depends = variables[names[(match.lastindex or 1) - 1]]
            dynamic.extend(d for d in depends if d not in dynamic)
            grown[0] += len(text)
            if grown[0] > MAX_EXPANSION:  # variables made of variables grow exponentially
                raise TunedError(f"a value expands beyond {MAX_EXPANSION // 1024} KiB")
            return text

        value = pattern.sub(substitute, value)
    value = re.sub(r"\\(\$\{\w+\})", r"\1", value)
    value = _functions(value, dynamic)
    return re.sub(r"\\(\$\{f:.*\})", r"\1", value), dynamic


def _functions(text: str, dynamic: list[str]) -> str:
    """tuned's Functions._process: innermost ``${f:...}`` first; an escaped one is kept."""
    stack: list[tuple[bool, int]] = []
    escaped = False
    index = 0
    while index < len(text):
        if text[index] == "}":
            if not stack:
                return text
            was_escaped, start = stack.pop()
            if not was_escaped:
                replaced = _call(text[start:index], dynamic)
                if replaced is not None:
                    text = text[:start] + replaced + text[index + 1 :]
                    index = max(index + len(replaced) - (index - start + 1), 0)
        elif text[index : index + 2] == "${":
            stack.append((escaped, index))
        escaped = text[index : index + 1] == "\\"
        index += 1
    return text


def _call(expression: str, dynamic: list[str]) -> str | None:
    parts = re.split(r"(?<!\\):", expression)
    if parts[0] != "${f" or len(parts) < 2:
        return None
    parts = [p.replace("\\:", ":") for p in parts]
    name, args = parts[1], parts[2:]
    if not re.fullmatch(r"\w+", name):
        return None
    if name not in STATIC_FUNCTIONS:
        said = f"${{f:{name}}}"
        if said not in dynamic:
            dynamic.append(said)
        return None
    low, high = STATIC_FUNCTIONS[name]
    refused = f"${{f:{name}}} (not evaluated)"
    if len(args) < low or (high and len(args) > high):
        dynamic.append(refused)  # tuned logs an error and keeps the text: never a value
        return None
    try:
        if name == "strip":
            return "".join(args).strip()
        if name == "kb2s":
            return str(int(args[0]) * 2)
        if name == "s2kb":
            return str(round(int(args[0]) / 2))
        if _NESTED_REPEAT.search(args[1]) or len(args[0]) > 4096:
            dynamic.append(refused)  # it could run for ever: reported, never run
            return None
        return args[2] if re.search(args[1], args[0]) else args[3]
    except (ValueError, re.error):
        dynamic.append(refused)
        return None
