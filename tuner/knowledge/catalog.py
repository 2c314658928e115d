"""The key catalog (data/catalog.yaml): what each sysctl means, its shape, unit and bounds.

Validation checks values against it, plan shows units, rules read scope and kernel versions,
and ``tuner explain`` prints it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from tuner.base.keys import parse_key
from tuner.machine.cache import file_key, memo

CATALOG = Path(__file__).parent.parent / "data" / "catalog.yaml"


@dataclass(frozen=True)
class Entry:
    key: str
    shape: str  # int | vector | enum | string | portlist
    meaning: str
    source: str
    scope: str  # netns | global
    unit: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    elements: tuple[str, ...] = ()
    values: dict[int, str] = field(default_factory=dict)
    default: str | None = None
    default_note: str | None = None
    since: str | None = None
    removed: str | None = None
    module: str | None = None
    inherited: bool = False  # a new network namespace copies the initial one's value
    default_since: tuple[tuple[tuple[int, ...], str], ...] = ()  # (version, value) from then on

    def default_for(self, release: str | None) -> str | None:
        """The boot default on kernel ``release`` (the newest known one when it is unknown)."""
        found = self.default
        version = version_tuple(release) if release else None
        for since, value in sorted(self.default_since):
            if version is None or version >= since:
                found = value
        return found

    def to_json(self, release: str | None = None) -> dict[str, object]:
        """The entry as ``tuner explain KEY --json`` prints it."""
        return {
            "key": self.key,
            "shape": self.shape,
            "unit": self.unit,
            "min": self.minimum,
            "max": self.maximum,
            "elements": list(self.elements),
            "values": {str(k): v for k, v in self.values.items()},
            "default": self.default_for(release),
            "default_note": self.default_note,
            "inherited_from_initial_netns": self.inherited,
            "scope": self.scope,
            "since": self.since,
            "removed": self.removed,
            "module": self.module,
            "meaning": self.meaning,
            "source": self.source,
            "running_kernel": release,
        }

    def check(self, value: str) -> str | None:
        """Why ``value`` is not valid for this key, or None when it is."""
        if self.shape == "string":
            return None
        if self.shape == "portlist":
            return _check_portlist(value)
        parts = value.split()
        expected = len(self.elements) if self.shape == "vector" else 1
        if len(parts) != expected:
            names = ", ".join(self.elements)
            what = f"{expected} integers ({names})" if self.shape == "vector" else "one integer"
            return f"expected {what}, got {value!r}"
        for name, part in zip(self.elements or (None,), parts, strict=True):
            label = f"{name} " if name else ""
            if not re.fullmatch(r"-?\d+", part):
                return f"{label}{part!r} is not an integer"
            number = int(part)
            if self.shape == "enum" and number not in self.values:
                allowed = ", ".join(f"{k} ({v})" for k, v in sorted(self.values.items()))
                return f"{number} is not one of {allowed}"
            if self.minimum is not None and number < self.minimum:
                return f"{label}{number} is below the minimum {self.minimum}"
            if self.maximum is not None and number > self.maximum:
                return f"{label}{number} is above the maximum {self.maximum}"
        return None


def _check_portlist(value: str) -> str | None:
    for part in filter(None, value.replace(" ", "").split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            return f"{part!r} is not a port or a range low-high"
        low, high = int(match[1]), int(match[2] or match[1])
        if not 1 <= low <= high <= 65535:
            return f"{part!r} is not within 1-65535 in ascending order"
    return None


@functools.cache
def entries() -> dict[str, Entry]:
    return memo("catalog", file_key(CATALOG), _parse, dict[str, Entry])


def _parse() -> dict[str, Entry]:
    import yaml  # only on a cache miss: a cached plan never loads PyYAML

    loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(CATALOG.read_text(), Loader=loader)
    out = {}
    for key, data in raw.items():
        name = parse_key(key).name
        out[name] = Entry(
            key=name,
            shape=data["shape"],
            meaning=" ".join(data["meaning"].split()),
            source=data["source"],
            scope=data["scope"],
            unit=data.get("unit"),
            minimum=data.get("min"),
            maximum=data.get("max"),
            elements=tuple(data.get("elements", ())),
            values={int(k): str(v) for k, v in data.get("values", {}).items()},
            default=data.get("default"),
            default_note=data.get("default_note"),
            since=data.get("since"),
            removed=data.get("removed"),
            module=data.get("module"),
            inherited=bool(data.get("inherited", False)),
            default_since=tuple(
                (version_tuple(str(v)), str(value))
                for v, value in (data.get("default_since") or {}).items()
            ),
        )
    return out


def lookup(name: str) -> Entry | None:
    return entries().get(name)


def version_tuple(release: str) -> tuple[int, ...]:
    """``6.1.0-18-amd64`` -> (6, 1, 0); for comparing kernel versions."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release)
    if not match:
        return ()
    return tuple(int(g) for g in match.groups() if g is not None)
