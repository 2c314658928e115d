"""Which nofile limit a process gets, and the fix that raises it without lowering anything.

The one decision capacity, the rules and doctor ask (docs/kernel-facts.md, "File descriptors"):

- A systemd service gets its unit's LimitNOFILE= (a drop-in's wins); pam_limits is not on its
  path, so limits.conf and limits.d never reach it.
- A login (su, ssh, login) gets what pam_limits decides (pamlimits.py): the user's own line beats
  a group line, which beats '*'; on Debian group and '*' lines never apply to root.
- A process starts with its *soft* limit; it may raise the soft limit up to the hard one itself
  (Go programs and HAProxy do), never the hard one without CAP_SYS_RESOURCE.
- No hard limit can exceed fs.nr_open (setrlimit fails with EPERM).

A fix names the process's own user (root included), or its unit, sets the soft limit the process
needs and a hard limit no lower than the one it has: it never lowers a hard limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuner.base.limits import Rlimit
from tuner.base.services import INFINITY
from tuner.knowledge.fixes import Fix, LimitsLine
from tuner.model import pamlimits
from tuner.model.pamlimits import ConfLine, Identity

if TYPE_CHECKING:
    from tuner.base.diagnostics import Location
    from tuner.profile.resolved import LimitEntry, Profile, ServiceLimit


@dataclass(frozen=True)
class Granted:
    """The nofile limits a process would start with, and the setting that decides them."""

    soft: int | None  # None: unlimited (which means fs.nr_open)
    hard: int | None
    source: str  # "haproxy.service LimitNOFILE=4194304", "root - nofile 262144 (file:line)"

    @property
    def soft_number(self) -> float:
        return math.inf if self.soft is None else float(self.soft)


def for_unit(unit: str, services: Iterable[ServiceLimit]) -> Granted | None:
    """The LimitNOFILE= a profile gives ``unit`` (None: it sets none)."""
    found = None
    for limit in services:
        if limit.unit == unit and limit.directive == "LimitNOFILE":
            found = limit  # a later one overrides an earlier one, as systemd reads them
    if found is None:
        return None
    numbers = found.numbers
    return Granted(numbers.soft, numbers.hard, f"{found.unit} LimitNOFILE={found.value}")


@dataclass(frozen=True)
class Setting:
    """A nofile number a profile sets: a limits line's, or a unit's LimitNOFILE soft or hard."""

    value: Rlimit
    where: Location
    label: str  # "* soft nofile 65536", "haproxy.service LimitNOFILE=65536"
    subject: str  # what a message says sets it: "nofile 65536 for *"
    key: str  # a diagnostic's key: "* nofile", "haproxy.service.LimitNOFILE"
    unit: str | None = None  # a service's (its limits come from the unit, not pam_limits)


def settings(profile: Profile) -> list[Setting]:
    """Every nofile number a profile sets (limits lines, LimitNOFILE soft and hard)."""
    found = []
    for entry in profile.limits:
        if entry.item == "nofile":
            found.append(Setting(
                Rlimit.parse(entry.value), entry.origin,
                f"{entry.domain} {entry.kind} nofile {entry.value}",
                f"nofile {entry.value} for {entry.domain}", f"{entry.domain} nofile",
            ))  # fmt: skip
    for limit in profile.services:
        if limit.directive == "LimitNOFILE":
            said = f"{limit.unit} LimitNOFILE={limit.value}"
            for number in {limit.numbers.soft, limit.numbers.hard}:
                found.append(Setting(Rlimit(number), limit.origin, said, said,
                                     f"{limit.unit}.LimitNOFILE", limit.unit))  # fmt: skip
    return found


def conf_lines(entries: Iterable[LimitEntry]) -> list[ConfLine]:
    """A profile's limits entries as pam_limits reads the file tuner renders from them."""
    return [
        ConfLine(e.domain, e.kind, e.item, e.value, str(e.origin.file), e.origin.line)
        for e in entries
    ]


def for_login(lines: list[ConfLine], who: Identity, nr_open: int | None = None) -> Granted | None:
    """What pam_limits gives ``who`` for nofile from ``lines`` (None: no line applies)."""
    settings = pamlimits.effective(lines, who, nr_open)
    if settings is None or "nofile" not in settings:
        return None
    setting = settings["nofile"]
    line = setting.soft_from or setting.hard_from
    if line is None:
        return None

    def number(value: int | None) -> int | None:
        return None if value is None or value >= pamlimits.RLIM_INFINITY else value

    soft, hard = number(setting.soft), number(setting.hard)
    if soft is not None and hard is not None:
        soft = min(soft, hard)
    source = f"{line.domain} {line.type} nofile {line.value}" + (
        f" ({line.where})" if line.file else ""
    )
    return Granted(soft, hard, source)


def of_profile(
    profile: Profile, who: Identity | None, unit: str | None, nr_open: int | None = None
) -> Granted | None:
    """What a process (of ``unit``, or a login of ``who``) would get under ``profile``; None:
    the profile sets nothing that reaches it."""
    if unit is not None:
        return for_unit(unit, profile.services)
    if who is None:
        return None
    return for_login(conf_lines(profile.limits), who, nr_open)


def identity(name: str, uid: int | None = None) -> Identity:
    """Someone to ask pam_limits about by name alone (root by uid 0 or name)."""
    if uid is None and name == "root":
        uid = 0
    return Identity(name, uid)


def fix(
    *, user: str | None, unit: str | None, want: int, hard: int | None, nr_open: int | None
) -> Fix:
    """Settings that give a process ``want`` descriptors at start: its unit's LimitNOFILE, or
    pam_limits lines for its own user; the hard limit never below the one it has now (None:
    unlimited, left as it is)."""
    top = None if hard is None else max(want, hard)
    services: dict[str, dict[str, str]] = {}
    lines: tuple[LimitsLine, ...] = ()
    if unit is not None:
        value = str(want) if top == want else f"{want}:{INFINITY if top is None else top}"
        services = {unit: {"LimitNOFILE": value}}
    elif user is not None:
        lines = (LimitsLine(user, "soft", "nofile", want),)
        if top is not None and top == want:
            lines = (LimitsLine(user, "-", "nofile", want),)
        elif top is not None:
            lines += (LimitsLine(user, "hard", "nofile", top),)
    ceiling = want if top is None else top
    sysctl = (
        {"fs.nr_open": str(_round_up(ceiling))} if nr_open is not None and ceiling > nr_open else {}
    )
    return Fix(sysctl, lines, services)


def _round_up(number: int) -> int:
    return 1 << max(math.ceil(math.log2(max(number, 1))), 10)
