"""Resolving ``extends``: parents in order, the child on top, ``null`` removing what was inherited.

The result is a flat ``Profile`` (``resolved``) in which every value remembers the file and line
it came from. This module parses (pydantic, through ``document``); a profile answered from the
cache never loads it (``cached``: the library's resolver is given by the CLI's lazy registry).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from tuner.base.diagnostics import Diagnostic, Location
from tuner.base.errors import NotFoundError
from tuner.base.keys import parse_key
from tuner.profile.document import ProfileDoc, ProfileSource, limit_label, load_profile
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef, looks_like_path
from tuner.profile.resolved import (
    Acknowledged,
    Acknowledgement,
    Intent,
    LimitEntry,
    Profile,
    ServiceLimit,
    SysctlEntry,
)
from tuner.profile.yamlsrc import YamlDocument


@dataclass
class _Layer:
    sysctl: dict[str, SysctlEntry] = field(default_factory=dict)
    limits: dict[tuple[str, str, str], LimitEntry] = field(default_factory=dict)
    services: dict[tuple[str, str], ServiceLimit] = field(default_factory=dict)
    chain: list[str] = field(default_factory=list)
    intent: Intent | None = None
    intent_origin: Location | None = None
    acknowledged: dict[str, Acknowledgement] = field(default_factory=dict)


MAX_EXTENDS_DEPTH = 256
MAX_PROFILES = 1000


class _Resolver:
    """Loads each file once and resolves each profile's layer once (a diamond of any depth is
    linear); ``partial`` resolves from what is valid in files with errors (for validate)."""

    def __init__(self, library: ProfileLibrary, *, partial: bool = False) -> None:
        self.library = library
        self.partial = partial
        self.loaded: dict[Path, tuple[ProfileSource, list[Diagnostic]]] = {}
        self.layers: dict[Path, _Layer | None] = {}
        self.diagnostics: list[Diagnostic] = []
        self.reported: set[Path] = set()
        self.digests: dict[Path, str] = {}

    def read(self, path: Path) -> bytes:
        """A profile file's bytes through the library (inside its root), digested as read: what
        a saved plan and the cache rest on is exactly what was parsed."""
        raw = self.library.read(path)
        self.digests[path.resolve()] = hashlib.sha256(raw).hexdigest()
        return raw

    def load(self, path: Path) -> ProfileSource:
        key = path.resolve()
        if key not in self.loaded:
            self.loaded[key] = load_profile(path, self.read, self.library.origin_of(path))
        source, problems = self.loaded[key]
        if key not in self.reported:
            self.reported.add(key)
            self.diagnostics.extend(problems)
        return source

    def layer(self, path: Path, stack: tuple[Path, ...]) -> _Layer | None:
        key = path.resolve()
        if key not in self.layers:
            self.layers[key] = self._layer(path, stack)
        return self.layers[key]

    def _layer(self, path: Path, stack: tuple[Path, ...]) -> _Layer | None:
        source = self.load(path)
        model = source.best if self.partial else source.model
        merged = _Layer()
        here = (*stack, path.resolve())
        ok = model is not None
        if len(here) > MAX_EXTENDS_DEPTH or len(self.loaded) > MAX_PROFILES:
            where = source.doc.location(("extends",), key=True)
            limit = f"{MAX_EXTENDS_DEPTH} levels deep" if len(here) > MAX_EXTENDS_DEPTH else (
                f"{MAX_PROFILES} profiles")  # fmt: skip
            message = f"extends reaches more than {limit}"
            self.diagnostics.append(Diagnostic("error", message, where, "extends"))
            return None
        parents = _extends(source)
        if len(parents) > MAX_PROFILES:  # refused before any of them is looked for
            where = source.doc.location(("extends",), key=True)
            message = f"extends names {len(parents):,} profiles; at most {MAX_PROFILES} in all"
            self.diagnostics.append(Diagnostic("error", message, where, "extends"))
            return None
        for index, parent in enumerate(parents):
            where = source.doc.location(("extends", index))
            try:
                parent_path = self.library.find(ProfileRef.name(parent), near=path.parent)
            except NotFoundError as exc:
                self.diagnostics.append(Diagnostic("error", str(exc), where, "extends"))
                ok = False
                continue
            if parent_path.resolve() in here:
                cycle = " -> ".join([*(p.stem for p in here), parent_path.stem])
                message = f"extends cycle: {cycle}"
                self.diagnostics.append(Diagnostic("error", message, where, "extends"))
                ok = False
                continue
            inherited = self.layer(parent_path, here)
            if inherited is None:
                ok = False
                continue
            _overlay(merged, inherited)
        if not ok or model is None:
            return None  # parents were still loaded, so their errors are reported too
        self._apply_own(merged, model, source)
        return merged

    def _apply_own(self, merged: _Layer, model: ProfileDoc, source: ProfileSource) -> None:
        doc = source.doc
        for raw, setting in model.sysctl.items():
            key = parse_key(raw)
            if setting is None:
                self._removal(merged.sysctl.pop(key.name, None), doc.location(("sysctl", raw)), raw)
                continue
            where = doc.location(("sysctl", raw, "value"))
            acked = _acknowledged(setting.acknowledge, doc, ("sysctl", raw), where)
            merged.sysctl[key.name] = SysctlEntry(
                key, setting.value, setting.why, where, setting.source, acked
            )
        for row, rule in enumerate(model.limits):
            index = source.limit_row(row)
            where = doc.location(("limits", index, "value"))
            for kind in ("soft", "hard") if rule.type == "-" else (rule.type,):
                ident = (rule.domain, rule.item, kind)
                if rule.value is None:
                    label = limit_label(index)
                    self._removal(merged.limits.pop(ident, None), where, label)
                    continue
                acked = _acknowledged(rule.acknowledge, doc, ("limits", index), where)
                entry = LimitEntry(
                    rule.domain, kind, rule.item, rule.value, rule.why, where, rule.source, acked
                )
                merged.limits[ident] = entry
        for unit, directives in model.services.items():
            if directives is None:
                gone = [k for k in merged.services if k[0] == unit]
                for k in gone:
                    del merged.services[k]
                self._removal(gone or None, doc.location(("services", unit)), unit)
                continue
            for directive, service_setting in directives.items():
                path = ("services", unit, directive)
                if service_setting is None:
                    previous = merged.services.pop((unit, directive), None)
                    self._removal(previous, doc.location(path), f"{unit}.{directive}")
                    continue
                where = doc.location((*path, "value"))
                value, why = service_setting.value, service_setting.why
                acked = _acknowledged(service_setting.acknowledge, doc, path, where)
                limit = ServiceLimit(
                    unit, directive, value, why, where, service_setting.source, acked
                )
                merged.services[(unit, directive)] = limit
        if "intent" in model.model_fields_set:  # a child's intent replaces; null removes it
            declared = model.intent
            merged.intent = None if declared is None else declared
            merged.intent_origin = None if declared is None else doc.location(("intent",))
        for rule_id, reason in model.acknowledge.items():
            here = doc.location(("acknowledge", rule_id), key=True)
            if reason is None:  # a child withdraws an inherited acknowledgement
                self._removal(merged.acknowledged.pop(rule_id, None), here, "acknowledge")
                continue
            merged.acknowledged[rule_id] = Acknowledgement(rule_id, reason, here)
        merged.chain.append(model.name)

    def _removal(self, removed: object, where: Location, key: str) -> None:
        if removed is None:
            message = "null removes an inherited setting, but no parent sets this"
            self.diagnostics.append(Diagnostic("warning", message, where, key))


def _acknowledged(
    given: dict[str, str], doc: YamlDocument, path: tuple[str | int, ...], at: Location
) -> Acknowledged:
    """A setting's acknowledgements: each covers the findings at that setting's value."""
    return tuple(
        Acknowledgement(
            rule_id, reason, doc.location((*path, "acknowledge", rule_id), key=True), at
        )
        for rule_id, reason in given.items()
    )


def _extends(source: ProfileSource) -> list[str]:
    """The parents to load: from the model, or from the raw YAML when the file has errors."""
    if source.best is not None:
        return source.best.extends
    raw = source.doc.data.get("extends") if isinstance(source.doc.data, dict) else None
    if isinstance(raw, list) and all(isinstance(r, str) for r in raw):
        return [r for r in raw if not looks_like_path(r)]
    return []


def _overlay(base: _Layer, top: _Layer) -> None:
    base.sysctl.update(top.sysctl)
    base.limits.update(top.limits)
    base.services.update(top.services)
    base.acknowledged.update(top.acknowledged)
    known = set(base.chain)
    base.chain.extend(name for name in top.chain if name not in known)
    if top.intent is not None:
        base.intent, base.intent_origin = top.intent, top.intent_origin


def resolve(
    ref: ProfileRef, library: ProfileLibrary, *, partial: bool = False
) -> tuple[Profile | None, list[Diagnostic]]:
    """Load ``ref`` and its parents; the profile is None when any file has an error.

    With ``partial``, a profile is still built from whatever is valid, for reporting only:
    the diagnostics then hold errors and the profile must never be applied."""
    resolver = _Resolver(library, partial=partial)
    try:
        path = library.find(ref)
    except NotFoundError as exc:
        return None, [Diagnostic("error", str(exc))]
    layer = resolver.layer(path, ())
    diagnostics = resolver.diagnostics
    if layer is None or (not partial and any(d.severity == "error" for d in diagnostics)):
        return None, diagnostics
    model = resolver.load(path).best
    assert model is not None
    profile = Profile(
        name=model.name,
        description=model.description,
        path=path,
        chain=tuple(layer.chain),
        sysctl=tuple(sorted(layer.sysctl.values(), key=lambda e: e.key.name)),
        limits=tuple(sorted(layer.limits.values(), key=lambda e: (e.domain, e.item, e.kind))),
        services=tuple(sorted(layer.services.values(), key=lambda e: (e.unit, e.directive))),
        intent=layer.intent,
        intent_origin=layer.intent_origin,
        acknowledged=tuple(layer.acknowledged.values()),
        sources=tuple(sorted((str(p), d) for p, d in resolver.digests.items())),
    )
    return profile, diagnostics
