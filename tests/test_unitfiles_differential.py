"""The Limit*= tuner import reads from unit files and drop-ins, against systemd's own parser.

Generated units under a scratch /etc/systemd/system (a unit file, then drop-ins in name order;
continued lines, comments, other sections, empty and unreadable values, values of every shape)
are loaded by ``systemd-analyze verify`` at debug level. Every directive ``tuner.model.unitfiles``
says is in force must hold what systemd holds; every directive it says is not set must be unset
for systemd too; and the lines it says systemd ignores are exactly the ones systemd says it
ignores.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from systemd_view import systemd_view

from tuner.base import services
from tuner.machine.host import Host
from tuner.model import unitfiles

pytestmark = pytest.mark.skipif(
    not shutil.which("systemd-analyze"), reason="needs systemd-analyze (see .ci/run)"
)
DIRECTIVES = ("LimitNOFILE", "LimitNPROC", "LimitCORE", "LimitMEMLOCK", "LimitSTACK")
IGNORED = r"^(\S+:\d+): (?:Failed to parse resource value|Soft resource limit chosen higher)"
VALUES = ("1024", "65536", "infinity", "4096:8192", "8M", "1G", "", "12x", "0", "100:50")


def _line(rng: random.Random) -> str:
    directive, value = rng.choice(DIRECTIVES), rng.choice(VALUES)
    if rng.random() < 0.1:
        return f"{directive}=\\\n  {value}"  # a continued line
    return f"{directive}{rng.choice(('=', ' = ', '= '))}{value}"


def _file(rng: random.Random, *, main: bool) -> str:
    lines = ["[Unit]", "Description=x"] if main else []
    if rng.random() < 0.2:
        lines += ["[Unit]", _line(rng)]  # the wrong section: not a limit
    lines.append("[Service]")
    if main:
        lines.append("ExecStart=/bin/true")
    for _ in range(rng.randint(0, 3)):
        lines.append(_line(rng) if rng.random() < 0.85 else f"# {_line(rng)}")
    return "\n".join(lines) + "\n"


def test_unit_limits_are_read_as_systemd_reads_them(tmp_path: Path) -> None:
    rng = random.Random(1402)
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    names = []
    for index in range(150):
        name = f"u{index}.service"
        names.append(name)
        (units / name).write_text(_file(rng, main=True))
        for drop in rng.sample(["10-a.conf", "50-b.conf", "zz.conf"], rng.randint(0, 3)):
            (units / f"{name}.d").mkdir(exist_ok=True)
            (units / f"{name}.d" / drop).write_text(_file(rng, main=False))
    (units / "plain.service").write_text("[Service]\nExecStart=/bin/true\n")
    found, skipped = unitfiles.etc_limits(Host(tmp_path, None))
    output, parsed = systemd_view(units, [*names, "plain.service"])
    refused = {
        m[1].removeprefix(str(tmp_path))
        for m in re.finditer(
            r"^(\S+:\d+): (?:Failed to parse resource value|Soft resource limit chosen higher)",
            output,
            re.MULTILINE,
        )
    }
    assert {s.reason for s in skipped} == {"systemd ignores the value"}
    assert {s.what.split(": ", 1)[0] for s in skipped} == refused  # the same lines, ignored
    default = parsed["plain.service"]
    compared = 0
    wrong = []
    for name in names:
        seen = parsed[name]
        for directive in DIRECTIVES:
            assigned = found.get(name, {}).get(directive)
            if assigned is None:  # never set, or reset by an empty assignment
                expected = {k: default.get(k) for k in (directive, f"{directive}Soft")}
            else:
                try:
                    numbers = services.parse_value(directive, assigned.value)
                except ValueError:
                    continue  # tuner leaves such a directive as it is (import says so)
                expected = {
                    directive: services.RLIM_INFINITY if numbers.hard is None else numbers.hard,
                    f"{directive}Soft": services.RLIM_INFINITY
                    if numbers.soft is None
                    else numbers.soft,
                }
            compared += 1
            got = {k: seen.get(k) for k in expected}
            if got != expected:
                wrong.append((name, directive, assigned, expected, got))
    assert not wrong, wrong[:3]
    assert compared > 500
