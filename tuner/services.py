"""systemd resource-limit directives (systemd.exec(5) ``Limit*=``) and unit names."""

from __future__ import annotations

import re

# The unit types whose section takes exec-context settings such as Limit*=.
SECTIONS = {"service": "Service", "socket": "Socket", "mount": "Mount", "swap": "Swap"}
_UNIT = re.compile(r"^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?\.(service|socket|mount|swap)$")
_ONE = r"(infinity|-?\d+(\.\d+)?[A-Za-z]{0,3})"
_VALUE = re.compile(rf"^{_ONE}(:{_ONE})?$")
_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


def check_unit(name: str) -> str:
    if len(name) > 255 or not _UNIT.match(name):
        raise ValueError(
            f"{name!r} is not a unit that takes resource limits: "
            "expected NAME.service, .socket, .mount or .swap"
        )
    return name


def section_for(unit: str) -> str:
    return SECTIONS[unit.rsplit(".", 1)[1]]


def normalize_service_value(value: object) -> str:
    """``infinity``, a number (with a unit suffix where systemd takes one), or ``soft:hard``."""
    if isinstance(value, bool):
        raise ValueError("booleans are ambiguous here: write a number or infinity")
    if isinstance(value, int):
        text = "infinity" if value == -1 else str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"expected a number, infinity or soft:hard, got {type(value).__name__}")
    if not _VALUE.match(text):
        raise ValueError(f"{text!r} is not a limit value: use a number, infinity or soft:hard")
    if ":" in text:
        soft, hard = text.split(":")
        if _magnitude(soft) > _magnitude(hard):
            raise ValueError(f"soft limit {soft} is above hard limit {hard}")
    return text


def _magnitude(text: str) -> float:
    if text == "infinity":
        return float("inf")
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)([A-Za-z]*)", text)
    assert match is not None
    number, suffix = match.groups()
    return float(number) * _SUFFIXES.get(suffix.upper(), 1)
