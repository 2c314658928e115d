"""systemd resource-limit directives (systemd.exec(5) ``Limit*=``) and unit names.

Each directive is parsed as systemd's own ``rlimit_parse_one`` parses it (src/basic/rlimit-util.c),
so a value tuner accepts is never "Failed to parse resource value, ignoring" at boot:

- counts (NOFILE, NPROC, LOCKS, SIGPENDING, RTPRIO): ASCII digits, below RLIM_INFINITY;
- sizes (FSIZE, DATA, STACK, CORE, RSS, AS, MEMLOCK, MSGQUEUE): digits with an optional
  K, M, G, T, P or E suffix (powers of 1024), in bytes;
- CPU: seconds, with an optional s, min, h, d or w; RTTIME: microseconds, with us, ms, s or min;
- NICE: ``+N``/``-N`` as a nice level (-20..19), or a raw value 0..40;

each may be ``infinity`` (except NICE), and ``soft:hard`` with soft <= hard. The value is parsed
once here (``parse_value``); rules and capacity use the numbers, never the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tuner.base.safetext import check_text

# The unit types whose section takes exec-context settings such as Limit*=.
SECTIONS = {"service": "Service", "socket": "Socket", "mount": "Mount", "swap": "Swap"}
_UNIT = re.compile(r"[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|mount|swap)")
RLIM_INFINITY = 2**64 - 1
INFINITY = "infinity"
_COUNT = frozenset({"LimitNOFILE", "LimitNPROC", "LimitLOCKS", "LimitSIGPENDING", "LimitRTPRIO"})
_SIZE = frozenset({"LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitAS",
                   "LimitMEMLOCK", "LimitMSGQUEUE"})  # fmt: skip
_SIZE_SUFFIX = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50, "E": 2**60}
_SEC = {"": 1, "s": 1, "sec": 1, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_USEC = {"": 1, "us": 1, "usec": 1, "ms": 1000, "msec": 1000, "s": 10**6, "sec": 10**6,
         "min": 60 * 10**6}  # fmt: skip
DIRECTIVES = tuple(
    f"Limit{name}"
    for name in ("CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NOFILE", "AS", "NPROC",
                 "MEMLOCK", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME")
)  # fmt: skip
_ONE = re.compile(r"([0-9]{1,25})([A-Za-z]{0,4})")
_NICE = re.compile(r"([+-]?)([0-9]{1,3})")


@dataclass(frozen=True)
class RlimitValue:
    """A ``Limit*=`` value as numbers in the resource's own unit; None is infinity."""

    soft: int | None
    hard: int | None


MAX_UNIT = 253  # systemd's 255 characters, less the ".d" of the drop-in directory tuner makes


def check_unit(name: str) -> str:
    if len(name) > MAX_UNIT:
        raise ValueError(
            f"a unit name of {len(name)} characters: at most {MAX_UNIT} (its drop-in directory "
            "NAME.d must fit the 255 characters of a file name)"
        )
    if not _UNIT.fullmatch(name):
        check_text(name, what="a unit name")
        raise ValueError(
            f"{name!r} is not a unit that takes resource limits: "
            "expected NAME.service, .socket, .mount or .swap"
        )
    return name


def section_for(unit: str) -> str:
    return SECTIONS[unit.rsplit(".", 1)[1]]


def _one(directive: str, text: str) -> int | None:
    """One side of a value, as systemd parses it for ``directive``; None is infinity."""
    if text == INFINITY:
        if directive == "LimitNICE":
            raise ValueError("LimitNICE cannot be infinity: use a nice level -20..19")
        return None
    if directive == "LimitNICE":
        match = _NICE.fullmatch(text)
        if not match:
            raise ValueError(f"{text!r} is not a nice level: use -20..19 (with a sign) or 0..40")
        sign, number = match[1], int(match[2])
        if sign == "+" and number < 20:
            return 20 - number
        if sign == "-" and number <= 20:
            return 20 + number
        if not sign and number <= 40:
            return number
        raise ValueError(f"{text!r} is outside the nice range -20..19 (raw 0..40)")
    match = _ONE.fullmatch(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a limit value: use a number (ASCII digits), infinity or soft:hard"
        )
    number, suffix = int(match[1]), match[2]
    scale = _scales(directive)
    if suffix not in scale:
        allowed = ", ".join(s for s in scale if s) or "none"
        raise ValueError(f"{text!r}: {directive} takes no unit {suffix!r} (units: {allowed})")
    value = number * scale[suffix]
    if value >= RLIM_INFINITY:
        raise ValueError(f"{text!r} is beyond the largest limit: use infinity")
    return value


def _scales(directive: str) -> dict[str, int]:
    if directive in _SIZE:
        return _SIZE_SUFFIX
    if directive == "LimitCPU":
        return _SEC
    if directive == "LimitRTTIME":
        return _USEC
    return {"": 1}


def parse_value(directive: str, text: str) -> RlimitValue:
    """``text`` (``V`` or ``SOFT:HARD``) as numbers; raise ValueError with the reason."""
    soft_text, colon, hard_text = text.partition(":")
    soft = _one(directive, soft_text)
    hard = _one(directive, hard_text) if colon else soft
    if colon and _above(soft, hard):
        raise ValueError(f"soft limit {soft_text} is above hard limit {hard_text}")
    return RlimitValue(soft, hard)


def _above(soft: int | None, hard: int | None) -> bool:
    if soft is None:
        return hard is not None
    return hard is not None and soft > hard


def normalize_service_value(value: object) -> str:
    """The text of a ``Limit*=`` value: a number, ``infinity`` (``-1``), or ``soft:hard``."""
    if isinstance(value, bool):
        raise ValueError("booleans are ambiguous here: write a number or infinity")
    if isinstance(value, int):
        return INFINITY if value == -1 else str(value)
    if isinstance(value, str):
        return check_text(value.strip(), what="a limit value")
    raise ValueError(f"expected a number, infinity or soft:hard, got {type(value).__name__}")
