"""YAML with positions: every key and value remembers its line and column.

Three things differ from a plain ``yaml.safe_load``, all so that a profile means what was written
and no input can hang or crash the parser:

- **Duplicates** are errors naming both places (PyYAML silently keeps the last).
- **Scalars are read as YAML 1.2** (the core schema), not as PyYAML's YAML 1.1: ``10:50`` is the
  text ``10:50``, not base-60 650; ``2024-01-01`` and ``yes`` are text, not a date or a boolean.
  Number forms whose meaning differs between the two (``010000``: octal 4096 or decimal 10000;
  ``1_000``; ``0b101``; ``0o17``) are refused with the fix. Explicit tags other than ``!!str`` are
  refused. Integers are bounded in length before conversion.
- **Bounded expansion.** Aliases and merge keys (``<<``) are expanded with a budget of nodes and
  a depth limit, and a node that contains itself is an error, so a few hundred bytes of aliases
  cannot take minutes or gigabytes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tuner.base.diagnostics import Diagnostic, Location

Path_ = tuple[str | int, ...]
MAX_DEPTH = 64
MAX_NODES = 100_000  # values after alias and merge expansion: a 2,000-key profile has ~10,000,
# 10,000 limits lines ~50,000; 100,000 keys are refused here, at once and for the real reason
MAX_BYTES = 4 * 1024 * 1024
MAX_DIGITS = 40  # longer than any 64-bit number (20 digits) with room for a sign and zeros
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_TAG = "tag:tuner,2026:plain"  # every untagged plain scalar: resolved by _plain below
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

try:
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc]
    """Composes nodes only; plain scalars keep their text for ``_plain`` to read as YAML 1.2."""

    yaml_implicit_resolvers: ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        """The tag of an untagged node, without PyYAML's regex scan per scalar (its resolver is
        Python, called for every node): a plain ``<<`` is a merge key, any other plain scalar
        is read by ``_plain``, a quoted one is text."""
        if kind is ScalarNode:
            if implicit[0]:
                return _MERGE_TAG if value == "<<" else _PLAIN_TAG
            return _STR_TAG
        return _SEQ_TAG if kind is SequenceNode else _MAP_TAG


_Loader.add_implicit_resolver(_MERGE_TAG, re.compile(r"^<<$"), ["<"])
_Loader.add_implicit_resolver(_PLAIN_TAG, re.compile(r"(?s).*"), None)

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INFINITY = frozenset({".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})
_NAN = frozenset({".nan", ".NaN", ".NAN"})
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_AMBIGUOUS = (
    (re.compile(r"[-+]?0[0-9]+"), "a number with a leading zero is octal in YAML 1.1 and decimal "
     "in YAML 1.2 (and the kernel reads it as octal)"),
    (re.compile(r"[-+]?0o[0-7]+"), "0o is octal in YAML 1.2 and text in YAML 1.1"),
    (re.compile(r"[-+]?0b[01_]+"), "0b is binary in YAML 1.1 and text in YAML 1.2"),
    (re.compile(r"[-+]?[0-9][0-9_]*_[0-9_]*(\.[0-9_]*)?"),
     "underscores make a number in YAML 1.1 and text in YAML 1.2"),
)  # fmt: skip


@dataclass(frozen=True)
class YamlDocument:
    file: str
    data: object
    # (line, col) of each value and key, 1-based: Locations are made only for what is reported
    value_marks: dict[Path_, Mark] = field(default_factory=dict)
    key_marks: dict[Path_, Mark] = field(default_factory=dict)
    origin: str | None = None  # a library's profile: "site" or "bundled"

    def location(self, path: Path_, *, key: bool = False) -> Location:
        """The position of ``path`` (its key when ``key``), else of its nearest ancestor."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return Location(self.file, *marks[probe], self.origin)
            if probe in self.value_marks:
                return Location(self.file, *self.value_marks[probe], self.origin)
            probe = probe[:-1]
        return Location(self.file, *self.value_marks.get((), (1, 1)), self.origin)


Mark = tuple[int, int]


def _mark(node: Node) -> Mark:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


def _loc(file: str, node: Node) -> Location:
    return Location(file, *_mark(node))


class _Refused(ValueError):
    pass


class Refused:
    """Stands for a scalar that was refused (and reported): not null, and valid nowhere."""

    def __repr__(self) -> str:
        return "<refused value>"


REFUSED = Refused()


def _plain(text: str) -> object:
    """A plain scalar as the YAML 1.2 core schema reads it; ambiguous forms raise _Refused."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    for pattern, why in _AMBIGUOUS:
        if pattern.fullmatch(text):
            raise _Refused(f"{text!r} is ambiguous: {why}; write the number you mean, or quote it")
    if _DECIMAL.fullmatch(text) or _HEX.fullmatch(text):
        if len(text) > MAX_DIGITS:
            raise _Refused(f"a number of {len(text)} digits is beyond any value tuner sets")
        return int(text, 16) if text.startswith("0x") else int(text)
    if text in _INFINITY or text in ("-.inf", "-.Inf", "-.INF"):
        return -math.inf if text.startswith("-") else math.inf
    if text in _NAN:
        return math.nan
    if _FLOAT.fullmatch(text):
        if len(text) > MAX_DIGITS:
            raise _Refused(f"a number of {len(text)} characters is beyond any value tuner sets")
        return float(text)
    return text


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.value_marks: dict[Path_, Mark] = {}
        self.key_marks: dict[Path_, Mark] = {}
        self.diagnostics: list[Diagnostic] = []
        self.built = 0
        self.exhausted = False
        self.active: set[int] = set()  # nodes being built: meeting one again is a cycle
        self.merged: dict[int, list[tuple[Node, Node]]] = {}
        self.expanding: set[int] = set()  # mappings whose merge keys are being expanded
        self.seen: set[int] = set()
        self.shared = False  # an alias or a merge key repeated a node: the budget names them

    def error(self, node: Node, message: str, key: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("error", message, _loc(self.file, node), key))

    def build(self, node: Node, path: Path_, depth: int = 0) -> object:
        """The value of ``node``; REFUSED (never None, which would read as "remove") where a
        problem was reported."""
        if self.exhausted:
            return REFUSED
        self.built += 1
        if id(node) in self.seen:
            self.shared = True
        self.seen.add(id(node))
        if self.built > MAX_NODES:
            self.exhausted = True
            why = (
                "expands to more than {:,} values (aliases or merge keys repeat too much)"
                if self.shared
                else "has more than {:,} values: tuner reads at most that many from one file"
            )
            self.error(node, f"the profile {why.format(MAX_NODES)}")
            return REFUSED
        self.value_marks[path] = _mark(node)
        if depth > MAX_DEPTH:
            self.error(node, f"nesting deeper than {MAX_DEPTH} levels")
            return REFUSED
        if id(node) in self.active:
            self.error(node, "an alias refers to a node that contains it (a cycle)")
            return REFUSED
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            self.error(node, f"explicit YAML tag {node.tag!r} is not supported here")
            return REFUSED
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path, depth)
            assert isinstance(node, SequenceNode)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode) -> object:
        text = str(node.value)
        if node.tag == _STR_TAG:
            return text
        if node.tag != _PLAIN_TAG:
            self.error(node, f"explicit YAML tag {node.tag!r} is not supported here; "
                             "quote the value instead")  # fmt: skip
            return REFUSED
        try:
            return _plain(text)
        except _Refused as exc:
            self.error(node, str(exc))
            return REFUSED

    def mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        seen: dict[str, Mark] = {}
        for key_node, value_node in self._pairs(node):
            if self.exhausted:
                break
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, "a key must be a plain string, not a list or mapping")
                continue
            key = str(key_node.value)
            here = _mark(key_node)
            if key in seen:
                first = seen[key]
                self.error(
                    key_node,
                    f"duplicate key (first set at line {first[0]}); "
                    "YAML would silently keep only the last one",
                    key=key,
                )
                continue
            seen[key] = here
            self.key_marks[(*path, key)] = here
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _pairs(self, node: MappingNode, depth: int = 0) -> list[tuple[Node, Node]]:
        """The mapping's pairs with YAML merge keys (``<<: *anchor``) expanded; own keys win.

        Each mapping is expanded once (aliases share it); a merge that reaches back to a mapping
        being expanded is a cycle, and merges nest at most MAX_DEPTH deep."""
        cached = self.merged.get(id(node))
        if cached is not None:
            return cached
        own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        own_keys = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        merged: list[tuple[Node, Node]] = []
        self.expanding.add(id(node))
        try:
            for k, v in node.value:
                if k.tag == _MERGE_TAG:
                    merged += self._merge(v, own_keys, depth)
        finally:
            self.expanding.discard(id(node))
        self.merged[id(node)] = own + merged
        return own + merged

    def _merge(self, value: Node, own_keys: set[str], depth: int) -> list[tuple[Node, Node]]:
        out: list[tuple[Node, Node]] = []
        for source in value.value if isinstance(value, SequenceNode) else [value]:
            if not isinstance(source, MappingNode):
                self.error(source, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            if id(source) in self.expanding:
                self.error(
                    source, "a merge key (<<) refers to a mapping that contains it (a cycle)"
                )
                continue
            if depth >= MAX_DEPTH:
                self.error(source, f"merge keys (<<) nest deeper than {MAX_DEPTH} levels")
                continue
            pairs = self._pairs(source, depth + 1)
            self.built += len(pairs)
            if self.built > MAX_NODES:
                if not self.exhausted:
                    self.exhausted = True
                    self.error(source, f"the profile expands to more than {MAX_NODES:,} values "
                                       "(merge keys repeat too much)")  # fmt: skip
                break
            for mk, mv in pairs:
                if isinstance(mk, ScalarNode) and mk.value not in own_keys:
                    own_keys.add(mk.value)
                    out.append((mk, mv))
        return out


def load_yaml(text: str, file: str) -> tuple[YamlDocument, list[Diagnostic]]:
    """Parse one YAML document; syntax errors come back as diagnostics, never as exceptions."""
    if len(text) > MAX_BYTES:
        where = Location(file, 1, 1)
        message = f"a profile is at most {MAX_BYTES // (1024 * 1024)} MiB"
        return YamlDocument(file, None), [Diagnostic("error", message, where)]
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        return YamlDocument(file, None), [Diagnostic("error", f"malformed YAML: {problem}", where)]
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        message = f"malformed YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        return YamlDocument(file, None), [Diagnostic("error", message, Location(file, 1, 1))]
    if len(nodes) > 1:
        where = _loc(file, nodes[1])
        return YamlDocument(file, None), [
            Diagnostic("error", "a profile file holds exactly one YAML document", where)
        ]
    if not nodes:
        return YamlDocument(file, None), []
    builder = _Builder(file)
    data = builder.build(nodes[0], ())
    doc = YamlDocument(file, data, builder.value_marks, builder.key_marks)
    return doc, list(dict.fromkeys(builder.diagnostics))  # an alias repeats its node's problems
