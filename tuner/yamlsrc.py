"""YAML with positions: every key and value remembers its line and column.

PyYAML keeps the last of two equal keys without a word; here a duplicate is an error that names
both places. Values are built by PyYAML's safe constructor, so the types are YAML 1.1's as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tuner.diagnostics import Diagnostic, Location

Path_ = tuple[str | int, ...]
_MAX_DEPTH = 64
_MERGE_TAG = "tag:yaml.org,2002:merge"
try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class YamlDocument:
    file: str
    data: object
    value_marks: dict[Path_, Location] = field(default_factory=dict)
    key_marks: dict[Path_, Location] = field(default_factory=dict)

    def location(self, path: Path_, *, key: bool = False) -> Location:
        """The position of ``path`` (its key when ``key``), else of its nearest ancestor."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(path)
        while probe:
            if probe in marks:
                return marks[probe]
            if probe in self.value_marks:
                return self.value_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), Location(self.file, 1, 1))


def _loc(file: str, node: Node) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.constructor = SafeConstructor()
        self.value_marks: dict[Path_, Location] = {}
        self.key_marks: dict[Path_, Location] = {}
        self.diagnostics: list[Diagnostic] = []

    def error(self, node: Node, message: str, key: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("error", message, _loc(self.file, node), key))

    def build(self, node: Node, path: Path_, depth: int = 0) -> object:
        self.value_marks[path] = _loc(self.file, node)
        if depth > _MAX_DEPTH:
            self.error(node, f"nesting deeper than {_MAX_DEPTH} levels")
            return None
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            return self.constructor.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.error(node, f"cannot read this value: {exc.problem}")
            return None

    def mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        seen: dict[str, Location] = {}
        for key_node, value_node in self._pairs(node):
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, "a key must be a plain string, not a list or mapping")
                continue
            key = str(key_node.value)
            here = _loc(self.file, key_node)
            if key in seen:
                first = seen[key]
                self.error(
                    key_node,
                    f"duplicate key (first set at line {first.line}); "
                    "YAML would silently keep only the last one",
                    key=key,
                )
                continue
            seen[key] = here
            self.key_marks[(*path, key)] = here
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def _pairs(self, node: MappingNode) -> list[tuple[Node, Node]]:
        """The mapping's pairs with YAML merge keys (``<<: *anchor``) expanded; own keys win."""
        own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        own_keys = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        merged: list[tuple[Node, Node]] = []
        for k, v in node.value:
            if k.tag != _MERGE_TAG:
                continue
            sources = v.value if isinstance(v, SequenceNode) else [v]
            for source in sources:
                if not isinstance(source, MappingNode):
                    self.error(source, "a merge key (<<) takes a mapping or a list of mappings")
                    continue
                for mk, mv in self._pairs(source):
                    if isinstance(mk, ScalarNode) and mk.value not in own_keys:
                        own_keys.add(mk.value)
                        merged.append((mk, mv))
        return own + merged


def load_yaml(text: str, file: str) -> tuple[YamlDocument, list[Diagnostic]]:
    """Parse one YAML document; syntax errors come back as diagnostics, never as exceptions."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        return YamlDocument(file, None), [Diagnostic("error", f"malformed YAML: {problem}", where)]
    except yaml.YAMLError as exc:
        return YamlDocument(file, None), [
            Diagnostic("error", f"malformed YAML: {exc}", Location(file, 1, 1))
        ]
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
    return doc, builder.diagnostics
