"""What a login gets: pam_limits' reading of the limits files, and which line decides each limit.

pam_limits (modules/pam_limits/pam_limits.c) reads /etc/security/limits.conf, then every
limits.d/*.conf in lexical order of file name. Each line is a source of a rank: a line naming
the user (or a uid range holding them) beats a group line (@group, @gid range), which beats a
%group line, which beats '*'. A line of lower rank never overrides a higher one; a line of the
same rank overrides an earlier one. A '-' line sets soft first and stops at the first of the
two it may not override. '<domain> -' alone means "no limits" for whoever it matches. Debian
applies group and wildcard lines to every user but root (limits.conf on Debian).

Debian's pam_limits (1.5.2) then sets *every* item: what no line sets comes from PID 1's limits
(/proc/1/limits), except the soft nofile limit, which starts at 1024 (observed with su -l:
tests/test_limits_differential.py). A soft limit above the hard one is lowered to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from tuner.base.errors import Unreadable
from tuner.base.limits import UNLIMITED_WORDS
from tuner.base.safetext import is_ascii_digits
from tuner.machine.host import Host

LIMITS_CONF = PurePosixPath("/etc/security/limits.conf")
LIMITS_DIR = PurePosixPath("/etc/security/limits.d")

RANK_USER, RANK_GROUP, RANK_ALLGROUP, RANK_ALL, RANK_DEFAULT = range(5)
_KB_ITEMS = frozenset({"fsize", "data", "stack", "core", "rss", "memlock", "as"})
RLIMIT_ITEMS = (
    "cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as", "locks",
    "sigpending", "msgqueue", "nice", "rtprio", "rttime",
)  # fmt: skip
RLIM_INFINITY = 2**64 - 1


@dataclass(frozen=True)
class Identity:
    """Who logs in: what pam_limits matches domains against."""

    name: str
    uid: int | None = None
    gid: int | None = None
    groups: frozenset[str] = frozenset()
    gids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ConfLine:
    """One line of a limits file, as pam_limits splits it."""

    domain: str
    type: str
    item: str
    value: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Setting:
    """What one item ends up as: soft and hard (None: not set by any line), and the lines."""

    soft: int | None = None
    hard: int | None = None
    soft_from: ConfLine | None = None
    hard_from: ConfLine | None = None
    soft_rank: int = 99
    hard_rank: int = 99


def parse_limits_conf(text: str, file: str) -> list[ConfLine]:
    out = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.lstrip().split("#", 1)[0]
        fields = line.split(None, 3)
        if not fields:
            continue
        value = fields[3].strip(" \t") if len(fields) == 4 else ""
        domain, kind = fields[0], (fields[1].lower() if len(fields) > 1 else "")
        item = fields[2].lower() if len(fields) > 2 else ""
        out.append(ConfLine(domain, kind, item, value.lower(), file, number))
    return out


def _rank(line: ConfLine, who: Identity) -> int | None:
    """The source rank with which ``line`` applies to ``who``; None when it does not."""
    rank = _pam_rank(line.domain, who)
    if who.uid == 0 and rank is not None and rank != RANK_USER:
        return None  # Debian: group and wildcard lines do not apply to root (uid ranges do)
    return rank


def _pam_rank(domain: str, who: Identity) -> int | None:
    if domain == who.name:
        return RANK_USER
    body = domain[1:] if domain[:1] in "@%" else domain
    low, colon, high = body.partition(":")
    if colon and not all(is_ascii_digits(part) or not part for part in (low, high)):
        return None  # pam_limits skips an invalid range
    if domain.startswith("@"):
        if not colon:
            return RANK_GROUP if body in who.groups else None
        if not low:
            return RANK_GROUP if high and int(high) in who.gids else None
        inside = who.gid is not None and int(low) <= who.gid <= int(high or who.gid)
        return RANK_GROUP if inside else None
    if domain.startswith("%"):
        if not colon:
            return RANK_ALL if domain == "%" else RANK_ALLGROUP if body in who.groups else None
        return RANK_ALLGROUP if not low and high and int(high) in who.gids else None
    if not colon:
        return RANK_DEFAULT if domain == "*" else None
    if who.uid is None or (not low and not high):
        return None
    lowest = int(low) if low else int(high)
    return RANK_USER if lowest <= who.uid <= int(high or who.uid) else None


def _number(line: ConfLine, nr_open: int | None) -> int | None:
    """The rlimit value of ``line`` as pam_limits computes it; None when it ignores the line."""
    text = line.value
    if line.item not in ("nice", "priority") and text in UNLIMITED_WORDS:
        number = RLIM_INFINITY
    else:
        match = re.match(r"[ \t]*([+-]?)([0-9]+)", text)
        if not match:
            return None
        number = int(match[2]) * (-1 if match[1] == "-" else 1)
        if line.item == "nice":
            return 20 - min(max(number, -20), 19)
        number %= 2**64  # strtoull wraps a negative number
    if line.item == "cpu" and number != RLIM_INFINITY:
        number = RLIM_INFINITY if number >= RLIM_INFINITY // 60 else number * 60
    elif line.item in _KB_ITEMS and number != RLIM_INFINITY:
        number = RLIM_INFINITY if number >= RLIM_INFINITY // 1024 else number * 1024
    elif line.item == "nofile" and number == RLIM_INFINITY and nr_open is not None:
        number = nr_open
    return number


def effective(
    lines: list[ConfLine], who: Identity, nr_open: int | None = None
) -> dict[str, Setting] | None:
    """Every rlimit item the files set for ``who``, in file order; None: a '<domain> -' line
    applies, and pam_limits sets nothing at all."""
    result: dict[str, Setting] = {}
    for line in lines:
        if line.type == "-" and not line.item:
            if _rank(line, who) is not None:
                return None
            continue
        rank = _rank(line, who)
        if rank is None or line.item not in RLIMIT_ITEMS:
            continue
        if line.type not in ("soft", "hard", "-") or rank in (RANK_ALL, RANK_ALLGROUP):
            continue
        number = _number(line, nr_open)
        if number is None:
            continue
        now = result.get(line.item, Setting())
        if line.type in ("soft", "-"):
            if now.soft_rank < rank:
                continue
            now = Setting(number, now.hard, line, now.hard_from, rank, now.hard_rank)
        if line.type in ("hard", "-"):
            if now.hard_rank < rank:
                result[line.item] = now
                continue
            now = Setting(now.soft, number, now.soft_from, line, now.soft_rank, rank)
        result[line.item] = now
    return result


NOFILE_SOFT_DEFAULT = 1024


def session_limits(
    settings: dict[str, Setting] | None, pid1: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """(soft, hard) of every item a new PAM session asks for, given the files' ``settings`` and
    PID 1's limits; an empty dict when a '<domain> -' line means pam sets nothing."""
    if settings is None:
        return {}
    out = {}
    for item, (base_soft, base_hard) in pid1.items():
        setting = settings.get(item, Setting())
        start = min(base_soft, NOFILE_SOFT_DEFAULT) if item == "nofile" else base_soft
        soft = start if setting.soft is None else setting.soft
        hard = base_hard if setting.hard is None else setting.hard
        out[item] = (min(soft, hard), hard)
    return out


def login_lines(host: Host, overrides: Mapping[PurePosixPath, str | None]) -> list[ConfLine]:
    """Every line pam_limits reads at login, in its order, with ``overrides`` in place of disk."""
    names = {n for n in host.list_dir(LIMITS_DIR) if n.endswith(".conf")}
    names |= {p.name for p, t in overrides.items() if p.parent == LIMITS_DIR and t is not None}
    lines: list[ConfLine] = []
    for path in [LIMITS_CONF, *(LIMITS_DIR / n for n in sorted(names))]:
        if path in overrides:
            text = overrides[path]
        else:
            try:
                text = host.read_text(path)
            except Unreadable:
                text = None
        lines += parse_limits_conf(text or "", str(path))
    return lines


@dataclass(frozen=True)
class Accounts:
    """The root's passwd and group files, read and indexed once."""

    users: Mapping[str, tuple[int, int]]  # name -> (uid, gid)
    group_of_gid: Mapping[int, str]
    groups_of_member: Mapping[str, frozenset[tuple[str, int]]]  # user -> {(group, gid)}


def accounts(host: Host) -> Accounts:
    users: dict[str, tuple[int, int]] = {}
    for line in _read(host, "/etc/passwd").split("\n"):
        fields = line.split(":")
        if len(fields) > 3 and fields[2].isdigit() and fields[3].isdigit():
            users[fields[0]] = (int(fields[2]), int(fields[3]))  # the last line wins
    by_gid: dict[int, str] = {}
    members: dict[str, set[tuple[str, int]]] = {}
    for line in _read(host, "/etc/group").split("\n"):
        fields = line.split(":")
        if len(fields) < 4 or not fields[2].isdigit():
            continue
        gid = int(fields[2])
        by_gid.setdefault(gid, fields[0])
        for member in fields[3].split(","):
            members.setdefault(member, set()).add((fields[0], gid))
    frozen = {name: frozenset(found) for name, found in members.items()}
    return Accounts(users, by_gid, frozen)


def identity_for(domain: str, host: Host, known: Accounts | None = None) -> Identity | None:
    """Someone a limits line for ``domain`` is meant for: the user (from the root's passwd and
    group files), a member of the group, or for '*' anyone named by no other line."""
    if domain == "*":
        return Identity("\0anyone")
    if domain.startswith("@") and ":" not in domain:
        return Identity("\0member", groups=frozenset({domain[1:]}))
    if domain[:1] in "@%" or ":" in domain:
        return None  # ranges and %groups: no single login to stand for them
    known = known or accounts(host)
    uid, gid = known.users.get(domain, (None, None))
    found = set(known.groups_of_member.get(domain, ()))
    if gid is not None and gid in known.group_of_gid:
        found.add((known.group_of_gid[gid], gid))
    groups = frozenset(name for name, _ in found)
    return Identity(domain, uid, gid, groups, frozenset(number for _, number in found))


class LoginIndex:
    """The lines pam_limits reads, indexed once by domain, so that deciding the limits of each of
    thousands of logins looks only at the lines that can name it (its name, its groups, '*',
    '%', and the uid/gid ranges), in file order."""

    def __init__(self, lines: list[ConfLine]) -> None:
        self.lines = lines
        self._by_domain: dict[str, list[int]] = {}
        self._ranges: list[int] = []
        for index, line in enumerate(lines):
            if ":" in line.domain:
                self._ranges.append(index)
            else:
                self._by_domain.setdefault(line.domain, []).append(index)
        self._settings: dict[tuple[Identity, int | None], dict[str, Setting] | None] = {}

    def lines_for(self, who: Identity) -> list[ConfLine]:
        names = {who.name, "*", "%"} | {f"{mark}{g}" for g in who.groups for mark in "@%"}
        chosen = sorted(
            [*self._ranges, *(i for name in names for i in self._by_domain.get(name, ()))]
        )
        return [self.lines[i] for i in chosen]

    def effective(self, who: Identity, nr_open: int | None = None) -> dict[str, Setting] | None:
        """``effective(lines, who, nr_open)``, from the lines that can name ``who``."""
        key = (who, nr_open)
        if key not in self._settings:
            self._settings[key] = effective(self.lines_for(who), who, nr_open)
        return self._settings[key]


def _read(host: Host, path: str) -> str:
    try:
        return host.read_text(PurePosixPath(path)) or ""
    except Unreadable:
        return ""


def rlimit_number(item: str, value: str, nr_open: int | None = None) -> int | None:
    """A limits.conf value as pam_limits turns it into an rlimit (kB, minutes, unlimited)."""
    return _number(ConfLine("", "-", item, value, "", 0), nr_open)
