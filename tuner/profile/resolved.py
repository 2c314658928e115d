"""A profile with ``extends`` resolved: the plain, frozen values everything after parsing reads.

Nothing here needs pydantic: a profile answered from the cache or a saved plan is built from these
classes alone. ``Intent`` is also the schema of a profile's ``intent:`` block: pydantic validates
it at parse time through the annotations (``Bounds``, ``Checked``), which only pydantic reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from tuner.base import limits
from tuner.base.diagnostics import Location
from tuner.base.keys import SysctlKey
from tuner.base.services import RlimitValue, parse_value

MAX_CONNECTIONS = 10**12  # far beyond any host; keeps the arithmetic in exact integers
MAX_TUPLES = 2**32
MAX_MEMORY_GIB = 2**20  # 1 PiB


@dataclass(frozen=True)
class Bounds:
    """Annotation: the number's bounds, enforced by pydantic when a profile is parsed."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        schema = handler(source)
        schema.update({k: v for k, v in dataclasses.asdict(self).items() if v is not None})
        if schema.get("type") == "float":
            schema["allow_inf_nan"] = False
        return schema


@dataclass(frozen=True)
class Checked:
    """Annotation: ``check`` runs after the type's own validation (raising ValueError)."""

    check: Callable[[str], str]

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        from pydantic_core import core_schema  # only ever called while pydantic builds a model

        return core_schema.no_info_after_validator_function(self.check, handler(source))


@dataclass(frozen=True)
class Acknowledgement:
    """A rule a team has decided about, with its reason: the rule's findings become info lines.

    ``at`` is the value of the setting it is attached to (None: the whole profile); ``origin`` is
    where the acknowledgement itself is written."""

    rule: str
    reason: str
    origin: Location
    at: Location | None = None

    def covers(self, rule: str | None, where: Location | None) -> bool:
        return rule == self.rule and (self.at is None or self.at == where)


Acknowledged = tuple[Acknowledgement, ...]


@dataclass(frozen=True)
class SysctlEntry:
    key: SysctlKey
    value: str
    why: str | None
    origin: Location
    source: str | None = None
    acknowledged: Acknowledged = ()


@dataclass(frozen=True)
class LimitEntry:
    domain: str
    kind: str  # "soft" or "hard": a "-" rule becomes one of each
    item: str
    value: str
    why: str | None
    origin: Location
    source: str | None = None
    acknowledged: Acknowledged = ()


@dataclass(frozen=True)
class ServiceLimit:
    unit: str
    directive: str
    value: str
    why: str | None
    origin: Location
    source: str | None = None
    acknowledged: Acknowledged = ()

    @property
    def numbers(self) -> RlimitValue:
        """The value as systemd reads it (validated when the profile was loaded)."""
        return parse_value(self.directive, self.value)


@dataclass(frozen=True)
class Intent:
    """The workload a profile is for; the capacity model and the rules check it."""

    # Validated by pydantic when a profile file is parsed (``document``): the types and bounds
    # below are the schema, so the same class serves a parsed, a cached and a saved profile.

    __pydantic_config__: ClassVar[dict[str, object]] = {"extra": "forbid", "strict": False}

    role: Literal["proxy", "client", "server"]
    concurrent_connections: Annotated[int, Bounds(ge=0, le=MAX_CONNECTIONS)]
    new_connections_per_second: Annotated[int, Bounds(ge=0, le=MAX_CONNECTIONS)] | None = None
    backends: Annotated[int, Bounds(ge=1, le=MAX_TUPLES)] | None = (
        None  # proxy: backend (IP, port)s
    )
    destinations: Annotated[int, Bounds(ge=1, le=MAX_TUPLES)] | None = None  # client: (IP, port)s
    source_ips: Annotated[int, Bounds(ge=1, le=MAX_TUPLES)] = 1
    target: Literal["host", "container", "kubernetes"] = "host"
    # RAM of the machines it is for
    memory_gib: Annotated[float, Bounds(gt=0, le=MAX_MEMORY_GIB)] | None = None
    # processes the connections are spread over (each has its own descriptor limit)
    processes: Annotated[int, Bounds(ge=1, le=MAX_TUPLES)] = 1
    user: Annotated[str, Checked(limits.check_domain)] | None = None  # who runs them

    def to_json(self) -> dict[str, object]:
        """The declared intent, as JSON shows it."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def tuples(self) -> int:
        """(src IP, dst IP, dst port) tuples outbound connections spread over."""
        return (self.backends or self.destinations or 1) * self.source_ips


@dataclass(frozen=True)
class Profile:
    """A profile with its ``extends`` flattened."""

    name: str
    description: str
    path: Path
    chain: tuple[str, ...]  # every profile file that contributed, parents first
    sources: tuple[tuple[str, str], ...] = ()  # (path, sha256) of every file read, as read
    sysctl: tuple[SysctlEntry, ...] = ()
    limits: tuple[LimitEntry, ...] = ()
    services: tuple[ServiceLimit, ...] = ()
    intent: Intent | None = None
    intent_origin: Location | None = None  # where the intent in force was declared
    acknowledged: Acknowledged = ()  # for the whole profile (each setting carries its own)

    def acknowledgements(self) -> Acknowledged:
        """Every acknowledgement in force: the profile's and those of the settings in force."""
        entries: list[SysctlEntry | LimitEntry | ServiceLimit] = [
            *self.sysctl,
            *self.limits,
            *self.services,
        ]
        return self.acknowledged + tuple(a for e in entries for a in e.acknowledged)

    def sysctl_value(self, name: str) -> str | None:
        for entry in self.sysctl:
            if entry.key.name == name:
                return entry.value
        return None


@dataclass(frozen=True)
class LimitLine:
    domain: str
    type: str
    item: str
    value: str
    why: str | None
    source: str | None
    acknowledged: dict[str, str] = dataclasses.field(default_factory=dict)  # rule -> reason


def limit_lines(entries: tuple[LimitEntry, ...]) -> list[LimitLine]:
    """One line per rule; a soft and a hard rule with the same value and why become one ``-``."""
    by_ident: dict[tuple[str, str], dict[str, LimitEntry]] = {}
    for entry in entries:
        by_ident.setdefault((entry.domain, entry.item), {})[entry.kind] = entry
    lines = []
    for (domain, item), kinds in sorted(by_ident.items()):
        soft, hard = kinds.get("soft"), kinds.get("hard")
        if soft and hard and _same_rule(soft, hard):
            lines.append(
                LimitLine(domain, "-", item, soft.value, soft.why, soft.source, _reasons(soft))
            )
            continue
        lines += [
            LimitLine(domain, e.kind, item, e.value, e.why, e.source, _reasons(e))
            for e in (hard, soft)
            if e is not None
        ]
    return lines


def _same_rule(soft: LimitEntry, hard: LimitEntry) -> bool:
    return (soft.value, soft.why, _reasons(soft)) == (hard.value, hard.why, _reasons(hard))


def _reasons(entry: LimitEntry) -> dict[str, str]:
    return {a.rule: a.reason for a in entry.acknowledged}
