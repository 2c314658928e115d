"""What fixes a doctor finding: the settings a profile would carry (sysctl values, limits lines,
a unit's ``Limit*=``), and what only the application can change (a listen() backlog). One type
for all findings, so that its reader (a view, the bundled profiles that set it, a verdict) never
takes a dictionary apart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tuner.base.keys import integers
from tuner.profile.resolved import Profile


@dataclass(frozen=True)
class LimitsLine:
    """A pam_limits line of a fix: ``domain type item value``."""

    domain: str
    type: str  # soft, hard or -
    item: str
    value: int

    def to_json(self) -> dict[str, object]:
        return {"domain": self.domain, "type": self.type, "item": self.item, "value": self.value}


@dataclass(frozen=True)
class Backlog:
    """The accept queue a listener's application must ask listen() for: no sysctl raises it."""

    listener: str  # address:port
    listen_backlog: int

    def to_json(self) -> dict[str, object]:
        return {"listener": self.listener, "listen_backlog": self.listen_backlog}


@dataclass(frozen=True)
class Fix:
    sysctl: Mapping[str, str] = field(default_factory=dict)
    limits: tuple[LimitsLine, ...] = ()
    services: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    application: Backlog | None = None

    def __bool__(self) -> bool:
        return bool(self.sysctl or self.limits or self.services or self.application)

    def __or__(self, other: Fix) -> Fix:
        """Both fixes; ``other``'s values win where both set one."""
        return Fix(
            {**self.sysctl, **other.sysctl},
            self.limits + other.limits,
            {**self.services, **other.services},
            other.application or self.application,
        )

    def to_json(self) -> dict[str, object]:
        """Only what is set: ``{"sysctl": {...}}``, ``{"limits": [...]}`` ..."""
        found: dict[str, object] = {}
        if self.application is not None:
            found["application"] = self.application.to_json()
        if self.services:
            found["services"] = {unit: dict(d) for unit, d in self.services.items()}
        if self.limits:
            found["limits"] = [line.to_json() for line in self.limits]
        if self.sysctl:
            found["sysctl"] = dict(self.sysctl)
        return found

    def settings(self) -> dict[str, str]:
        """The fix as flat settings, the way a profile is compared with it: "fs.file-max",
        "limits * nofile" (a soft or ``-`` line), "services haproxy.service LimitNOFILE"."""
        found = dict(self.sysctl)
        found |= {f"limits {e.domain} {e.item}": str(e.value) for e in self.limits
                  if e.type != "hard"}  # fmt: skip
        for unit, directives in self.services.items():
            found |= {f"services {unit} {k}": v for k, v in directives.items()}
        return found

    def lines(self) -> list[str]:
        """The fix as the lines a profile would carry."""
        lines = [f"sysctl {key} = {value}" for key, value in self.sysctl.items()]
        lines += [f"limits {e.domain} {e.type} {e.item} {e.value}" for e in self.limits]
        for unit, directives in self.services.items():
            lines += [f"services {unit} {k}={v}" for k, v in directives.items()]
        if self.application is not None:
            app = self.application
            lines.append(f"the application's listen() backlog on {app.listener}: at least "
                         f"{app.listen_backlog:,} (no sysctl raises it)")  # fmt: skip
        return lines


def satisfies(have: str | None, want: str) -> bool:
    """A profile value does what a fix asks: equal, or (one number) at least as large, or (a
    port range) at least as wide."""
    if have is None:
        return False
    if have == want:
        return True
    got, need = integers(have), integers(want)
    if got is None or need is None:
        return False
    if len(got) == len(need) == 1:
        return got[0] >= need[0]
    if len(got) == len(need) == 2:
        return got[0] <= need[0] and got[1] >= need[1]
    return False


def profile_settings(profile: Profile) -> dict[str, str]:
    """What a profile sets, flattened as ``Fix.settings`` flattens a fix (its soft lines)."""
    found = {e.key.name: e.value for e in profile.sysctl}
    found |= {f"limits {e.domain} {e.item}": e.value for e in profile.limits if e.kind == "soft"}
    found |= {f"services {s.unit} {s.directive}": s.value for s in profile.services}
    return found


def sets(profile_values: Mapping[str, str], fix: Fix) -> bool:
    """Whether a profile's settings (``profile_settings``) do everything ``fix`` asks."""
    wanted = fix.settings()
    return bool(wanted) and all(satisfies(profile_values.get(k), v) for k, v in wanted.items())
