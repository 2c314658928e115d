"""pam_limits vocabulary (limits.conf(5)): domains and values (items and types: profile.py).

pam_limits reads values with ``strtoull``/``strtol`` in base 10 and names with its own
comparisons, so only ASCII is accepted: ``int()`` and ``\\d`` would take other scripts' digits.
Rlimit values run from 0 to 2^64-2 (2^64-1 is RLIM_INFINITY: write ``unlimited``); priority and
the login counts are C ints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tuner.base.safetext import check_text, is_ascii_digits

UNLIMITED = "unlimited"
# What pam_limits reads as RLIM_INFINITY (for every item but nice and priority): pam_limits.c
# compares the value with each of these before it calls strtoull.
UNLIMITED_WORDS = frozenset({"-1", "-", "unlimited", "infinity"})
RLIM_MAX = 2**64 - 2
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_INT_ITEMS = {"priority", "maxlogins", "maxsyslogins"}
# limits.conf(5): every item takes -1/unlimited/infinity except priority, nice and nonewprivs.
_NO_UNLIMITED = {"priority", "nice", "nonewprivs"}
_LOGIN_ITEMS = {"maxlogins", "maxsyslogins"}
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?"
_USER = re.compile(rf"^{_NAME}$")
_GROUP = re.compile(rf"^@{_NAME}$")
_UID_RANGE = re.compile(r"^([0-9]{0,10}):([0-9]{0,10})$")
_GID_RANGE = re.compile(r"^@([0-9]{0,10}):([0-9]{0,10})$")
_PERCENT = re.compile(rf"^%({_NAME})?$|^%:[0-9]{{1,10}}$")


@dataclass(frozen=True)
class Rlimit:
    """A resource limit's value, wherever it is read: a limits line, a systemd ``Limit*=`` (its
    parsed numbers) or /proc/PID/limits. ``number`` is None for unlimited (RLIM_INFINITY)."""

    number: int | None

    @classmethod
    def parse(cls, text: str) -> Rlimit:
        """``unlimited``, ``infinity``, ``-1``, ``-`` or ASCII digits; ValueError otherwise."""
        if text in UNLIMITED_WORDS:
            return cls(None)
        if not is_ascii_digits(text):
            raise ValueError(f"{text!r} is not a limit: digits or unlimited")
        return cls(int(text))

    @property
    def unlimited(self) -> bool:
        return self.number is None

    def above(self, cap: int) -> bool:
        """Whether this is more than ``cap`` (unlimited is more than any number)."""
        return self.number is None or self.number > cap

    def __float__(self) -> float:
        return math.inf if self.number is None else float(self.number)

    def __str__(self) -> str:
        return UNLIMITED if self.number is None else f"{self.number:,}"


def check_domain(domain: str) -> str:
    """Validate a limits.conf domain; return it unchanged."""
    check_text(domain, what="a domain")
    if domain == "*" or any(p.fullmatch(domain) for p in (_USER, _GROUP, _PERCENT)):
        return domain
    for pattern, what in ((_UID_RANGE, "uid"), (_GID_RANGE, "gid")):
        match = pattern.fullmatch(domain)
        if match:
            low, high = match.groups()
            if not low and not high:
                raise ValueError(f"a {what} range needs at least one bound, e.g. 1000:2000")
            if low and high and int(low) > int(high):
                raise ValueError(f"{what} range {domain!r} has its lower bound above the upper")
            return domain
    raise ValueError(
        f"{domain!r} is not a limits.conf domain: use a user, @group, *, %group, "
        "a uid range min:max or a gid range @min:max"
    )


def domain_is_login_only(domain: str) -> bool:
    """``%``-domains apply only to maxlogins/maxsyslogins (limits.conf(5))."""
    return domain.startswith("%")


def normalize_limit_value(value: object) -> str:
    """Canonical text of a limit value: a decimal integer or ``unlimited``. ``-1`` stays -1 here
    (for nice and priority it is a number); ``for_item`` reads it as unlimited for the rest."""
    if isinstance(value, bool):
        raise ValueError("booleans are ambiguous here: write a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = check_text(value.strip().lower(), what="a limit value")
        if text in ("unlimited", "infinity"):
            return UNLIMITED
        digits = text.removeprefix("-").removeprefix("+")
        if is_ascii_digits(digits) and len(digits) <= 20:
            return str(int(text))
    raise ValueError(
        f"expected an integer (ASCII digits), unlimited, infinity or -1, got {value!r}"
    )


def for_item(item: str, value: str) -> str:
    """``value`` as pam_limits reads it for ``item``: -1 is unlimited, except for nice and
    priority, where it is the number -1 (limits.conf(5))."""
    return UNLIMITED if value == "-1" and item not in _SIGNED else value


_SIGNED = {"nice", "priority"}


def check_item_value(item: str, value: str) -> None:
    """Item-specific value checks; raise ValueError with a message naming the item."""
    if value == UNLIMITED:
        if item in _NO_UNLIMITED:
            raise ValueError(f"{item} cannot be unlimited (limits.conf(5))")
        return
    number = int(value)
    if item in _INT_ITEMS and not INT_MIN <= number <= INT_MAX:
        raise ValueError(f"{item} is a C int: {INT_MIN}..{INT_MAX}, got {number}")
    if number > RLIM_MAX:
        raise ValueError(f"{number} is beyond the largest limit {RLIM_MAX}: use unlimited")
    if item == "nice" and not -20 <= number <= 19:
        raise ValueError(f"nice must be between -20 and 19, got {number}")
    if item == "nonewprivs" and number not in (0, 1):
        raise ValueError(f"nonewprivs is 0 or 1, got {number}")
    if item == "rtprio" and not 0 <= number <= 99:
        raise ValueError(f"rtprio must be between 0 and 99, got {number}")
    if item not in ("nice", "priority") and number < 0:
        raise ValueError(f"{item} cannot be negative (use unlimited for no limit)")


def check_domain_item(domain: str, item: str) -> None:
    if domain_is_login_only(domain) and item not in _LOGIN_ITEMS:
        raise ValueError(f"a %-domain ({domain}) applies only to maxlogins and maxsyslogins")


def as_number(value: str) -> float:
    """For comparisons: unlimited is infinitely large."""
    return float("inf") if value == UNLIMITED else float(int(value))
