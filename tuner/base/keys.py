"""Sysctl key names and values: syntax, the sysctl.d(5) dot/slash rule, normalisation.

A key names a file under /proc/sys. Written with dots, a literal dot inside a component (an
interface such as ``eth0.100``) is written as ``/``; written with slashes, the other way round.
The canonical form is the dotted one that ``sysctl -a`` prints:
``net.ipv4.conf.eth0/100.forwarding``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from tuner.base.safetext import describe

_COMPONENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]*")
# Characters that would break out of a `key = value` line, or out of a comment in a rendered file;
# anything outside printable ASCII is refused too (the kernel's string sysctls take bytes, and
# systemd and procps read them differently).
_FORBIDDEN_VALUE = re.compile(r"[=#;]|[^\x20-\x7e]")
_NUMBER = re.compile(r"-?[0-9]+")
VALUE_MIN, VALUE_MAX = -(2**63), 2**64 - 1  # what the kernel's integer handlers can hold
MAX_KEY_LENGTH = 512
# Keys several modules reason about by name (rules, capacity, the write order).
PORT_RANGE = "net.ipv4.ip_local_port_range"
PORT_START = "net.ipv4.ip_unprivileged_port_start"
MAX_VALUE_LENGTH = 4096


class KeySyntaxError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class SysctlKey:
    components: tuple[str, ...]

    @functools.cached_property
    def name(self) -> str:
        """Canonical dotted form, as ``sysctl`` prints it."""
        return ".".join(c.replace(".", "/") for c in self.components)

    @functools.cached_property
    def path(self) -> PurePosixPath:
        """The path below /proc/sys."""
        return PurePosixPath(*self.components)

    def __str__(self) -> str:
        return self.name


def split_key(text: str) -> list[str]:
    """Split a key into components by the sysctl.d(5) rule, with no validation."""
    text = text.strip().lstrip("/") if text.startswith("/") else text.strip()
    dot, slash = text.find("."), text.find("/")
    dotted = dot != -1 and (slash == -1 or dot < slash)
    if dotted:
        return [part.replace("/", ".") for part in text.split(".")]
    return text.split("/")


def parse_key(text: object) -> SysctlKey:
    """Parse a key written in dotted or slashed form; raise KeySyntaxError when it is not one."""
    if not isinstance(text, str):
        raise KeySyntaxError("a sysctl key must be a string")
    return _parse_key(text)


@functools.lru_cache(maxsize=262_144)  # more than the keys of the largest profile read
def _parse_key(text: str) -> SysctlKey:
    if text != text.strip() or not text:
        raise KeySyntaxError("a sysctl key cannot be empty or have spaces around it")
    if len(text) > MAX_KEY_LENGTH:
        raise KeySyntaxError(f"a sysctl key is at most {MAX_KEY_LENGTH} characters")
    if text.startswith("/"):
        raise KeySyntaxError("a sysctl key is relative to /proc/sys; drop the leading '/'")
    components = split_key(text)
    if len(components) < 2:
        raise KeySyntaxError("not a sysctl key: expected at least two components (e.g. fs.nr_open)")
    for component in components:
        if component in ("", ".", ".."):
            raise KeySyntaxError("not a sysctl key: empty, '.' or '..' component")
        if not _COMPONENT.fullmatch(component):
            raise KeySyntaxError(
                f"not a sysctl key: component {component!r} may only use letters, digits and _.:@+-"
            )
    return SysctlKey(tuple(components))


def check_value_text(text: str) -> str:
    """Reject text that could inject lines or comments into a rendered file."""
    if "\n" in text or "\r" in text:
        raise ValueError("a value cannot contain a newline")
    bad = _FORBIDDEN_VALUE.search(text)
    if bad:
        char = bad.group()
        if char in "=#;":
            raise ValueError(f"a value cannot contain {char!r} (it would change the rendered file)")
        raise ValueError(f"a value cannot contain {describe(char)}: values are printable ASCII")
    if len(text) > MAX_VALUE_LENGTH:
        raise ValueError(f"a value is at most {MAX_VALUE_LENGTH} characters")
    for part in text.split():
        if not _NUMBER.fullmatch(part):
            continue
        if len(part) > 21 or not VALUE_MIN <= int(part) <= VALUE_MAX:
            raise ValueError(f"{part} is beyond any integer the kernel holds (64 bits)")
        if re.fullmatch(r"-?0[0-9]+", part):
            raise ValueError(
                f"{part}: the kernel reads a leading 0 as octal; write the decimal number"
            )
    return text


def normalize_value(value: object) -> str:
    """The canonical text of a sysctl value: elements separated by one space.

    The kernel prints multi-value keys (tcp_rmem, ip_local_port_range) tab-separated; a profile may
    write them as a string or a list. Both compare equal once normalised.
    """
    if isinstance(value, bool):
        raise ValueError("booleans are ambiguous here: write 1 or 0")
    if isinstance(value, int):
        return check_value_text(str(value))
    if isinstance(value, str):
        check_value_text(value.replace("\t", " "))
        text = " ".join(value.split())
        if not text:
            raise ValueError("a value cannot be empty")
        return check_value_text(text)
    if isinstance(value, list):
        if not value:
            raise ValueError("a list value needs at least one element")
        parts = []
        for element in value:
            if isinstance(element, bool) or not isinstance(element, int | str):
                raise ValueError("list elements must be integers or strings")
            part = normalize_value(element)
            if " " in part:
                raise ValueError("a list element cannot contain spaces")
            parts.append(part)
        return " ".join(parts)
    if value is None:
        raise ValueError("a value is required")
    kind = type(value).__name__
    raise ValueError(f"expected an integer, a string or a list of them, got {kind}")


def normalize_live(text: str) -> str:
    """Normalise what the kernel prints (tabs between elements, trailing newline)."""
    return " ".join(text.split())


def integers(text: str | None) -> list[int] | None:
    """A sysctl value's whitespace-separated integers (None: absent, empty or not numbers)."""
    try:
        return [int(p) for p in (text or "").split()] or None
    except ValueError:
        return None
