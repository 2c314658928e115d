"""pam_limits vocabulary (limits.conf(5)): domains and values (items and types: profile.py)."""

from __future__ import annotations

import re

UNLIMITED = "unlimited"
# limits.conf(5): every item takes -1/unlimited/infinity except priority, nice and nonewprivs.
_NO_UNLIMITED = {"priority", "nice", "nonewprivs"}
_LOGIN_ITEMS = {"maxlogins", "maxsyslogins"}
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?"
_USER = re.compile(rf"^{_NAME}$")
_GROUP = re.compile(rf"^@{_NAME}$")
_UID_RANGE = re.compile(r"^(\d*):(\d*)$")
_GID_RANGE = re.compile(r"^@(\d*):(\d*)$")
_PERCENT = re.compile(rf"^%({_NAME})?$|^%:\d+$")


def check_domain(domain: str) -> str:
    """Validate a limits.conf domain; return it unchanged."""
    if domain == "*" or _USER.match(domain) or _GROUP.match(domain) or _PERCENT.match(domain):
        return domain
    for pattern, what in ((_UID_RANGE, "uid"), (_GID_RANGE, "gid")):
        match = pattern.match(domain)
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
    """Canonical text of a limit value: a decimal integer or ``unlimited``."""
    if isinstance(value, bool):
        raise ValueError("booleans are ambiguous here: write a number")
    if isinstance(value, int):
        return UNLIMITED if value == -1 else str(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("unlimited", "infinity", "-1"):
            return UNLIMITED
        if re.fullmatch(r"[+-]?\d+", text):
            return str(int(text))
    raise ValueError(f"expected an integer, unlimited, infinity or -1, got {value!r}")


def check_item_value(item: str, value: str) -> None:
    """Item-specific value checks; raise ValueError with a message naming the item."""
    if value == UNLIMITED:
        if item in _NO_UNLIMITED:
            raise ValueError(f"{item} cannot be unlimited (limits.conf(5))")
        return
    number = int(value)
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
