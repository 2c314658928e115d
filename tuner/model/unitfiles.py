"""The ``Limit*=`` settings that units under /etc/systemd/system carry, as systemd reads them.

For each unit, systemd reads its unit file, then its drop-ins (``UNIT.d/*.conf``) in lexical order
of file name; within a file, line by line, so the last assignment of a directive wins. A value it
cannot parse, the empty one included, is ignored ("Failed to parse resource value, ignoring") and
the one before stays (observed with systemd 252: tests/test_unitfiles_differential.py). A unit file
that is a link to /dev/null is masked: nothing of it applies. A line ending in a backslash
continues on the next; ``#`` and ``;`` start comments; only the unit type's own section
(``[Service]`` for a service) holds ``Limit*=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from tuner.base import services
from tuner.base.errors import TunerError
from tuner.machine.host import Host

ETC_UNITS = PurePosixPath("/etc/systemd/system")
DEV_NULL = PurePosixPath("/dev/null")
DIRECTIVES = frozenset(services.DIRECTIVES)


@dataclass(frozen=True)
class Assigned:
    unit: str
    directive: str
    value: str
    file: PurePosixPath
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Skipped:
    what: str
    reason: str


def assignments(text: str, unit: str, file: PurePosixPath) -> list[Assigned]:
    """Every ``Limit*=`` of one unit file or drop-in, in order."""
    section = services.section_for(unit)
    current = None
    out = []
    lines = text.split("\n")
    number = 0
    while number < len(lines):
        line = lines[number].strip()
        number += 1
        while line.endswith("\\") and number < len(lines):  # a continued line
            line = line[:-1] + " " + lines[number].strip()
            number += 1
        start = number  # systemd names a continued line by its last line
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        key, equals, value = line.partition("=")
        key = key.strip()
        if equals and current == section and key in DIRECTIVES:
            out.append(Assigned(unit, key, value.strip(), file, start))
    return out


def etc_limits(host: Host) -> tuple[dict[str, dict[str, Assigned]], list[Skipped]]:
    """The ``Limit*=`` in force for each unit configured under /etc/systemd/system (unit files
    and drop-ins there), and what was passed over and why."""
    found: dict[str, dict[str, Assigned]] = {}
    skipped: list[Skipped] = []
    names = host.list_dir(ETC_UNITS)
    units = {n for n in names if _is_unit(n)} | {
        n[:-2] for n in names if n.endswith(".d") and _is_unit(n[:-2])
    }
    for unit in sorted(units):
        path = ETC_UNITS / unit
        try:
            if unit in names and host.resolve(path) == DEV_NULL:
                skipped.append(Skipped(str(path), "masked (a link to /dev/null): nothing applies"))
                continue
            files = [path] if unit in names else []
            files += [
                ETC_UNITS / f"{unit}.d" / n
                for n in host.list_dir(ETC_UNITS / f"{unit}.d")
                if n.endswith(".conf")
            ]
            in_force: dict[str, Assigned] = {}
            for file in files:
                for assigned in assignments(host.read_text(file) or "", unit, file):
                    if _readable(assigned):
                        in_force[assigned.directive] = assigned
                    else:
                        shown = f"{assigned.where}: {assigned.directive}={assigned.value}"
                        skipped.append(Skipped(shown, "systemd ignores the value"))
        except TunerError as exc:  # a FIFO, a device, a file too large: never read, said
            skipped.append(Skipped(str(path), str(exc)))
            continue
        if in_force:
            found[unit] = in_force
    return found, skipped


def _readable(assigned: Assigned) -> bool:
    try:
        services.parse_value(assigned.directive, services.normalize_service_value(assigned.value))
    except ValueError:
        return False
    return True


def _is_unit(name: str) -> bool:
    try:
        services.check_unit(name)
    except ValueError:
        return False
    return True
