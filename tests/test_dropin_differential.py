"""Limit*= values against the real systemd parser: what tuner accepts, systemd reads the same.

Every candidate value (generated, plus the hostile cases of issue 8) goes through a profile, and
the drop-ins tuner renders for the accepted ones are loaded by ``systemd-analyze verify`` at debug
level, which prints each unit's parsed limits. For every accepted value systemd must say nothing
("Failed to parse resource value, ignoring") and hold exactly the numbers tuner parsed; every
value systemd ignores must be one tuner refused.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest
from systemd_view import systemd_view

from tuner.base import services
from tuner.changes.render import render_files
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve

DIRECTIVES = (
    "LimitCPU", "LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitNOFILE",
    "LimitAS", "LimitNPROC", "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE",
    "LimitNICE", "LimitRTPRIO", "LimitRTTIME",
)  # fmt: skip
HOSTILE = [
    ("LimitNOFILE", "64K"),
    ("LimitNOFILE", "4096abc"),
    ("LimitNOFILE", "-5"),
    ("LimitNOFILE", "\u0664\u0660\u0669\u0666"),  # Arabic-Indic digits
    ("LimitNOFILE", str(2**70)),
    ("LimitNPROC", "1.5"),
    ("LimitAS", "4Gb"),
    ("LimitNICE", "infinity"),
    ("LimitNICE", "+20"),
    ("LimitNICE", "41"),
    ("LimitNOFILE", "10:5"),
]
SUFFIXES = ("", "", "", "K", "M", "G", "T", "P", "E", "s", "min", "h", "d", "w", "ms", "us",
            "Kb", "KB", "k", "x", "sec", "usec")  # fmt: skip
pytestmark = pytest.mark.skipif(
    not shutil.which("systemd-analyze"), reason="needs systemd-analyze (see .ci/run)"
)


def candidates() -> list[tuple[str, str]]:
    rng = random.Random(8)
    out = list(HOSTILE)
    for _ in range(700):
        directive = rng.choice(DIRECTIVES)
        number = rng.choice((0, 1, 7, 99, 1024, 65536, 10**6, 2**31, 2**40, 2**63, 2**64 - 2))
        sign = rng.choice(("", "", "", "+", "-"))
        one = f"{sign}{number}{rng.choice(SUFFIXES)}" if rng.random() < 0.9 else "infinity"
        if rng.random() < 0.3:
            other = rng.choice((str(number * 2), "infinity", str(max(number - 1, 0))))
            one = f"{one}:{other}"
        out.append((directive, one))
    return out


def test_accepted_limit_values_mean_to_systemd_what_they_mean_to_tuner(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    units = tmp_path / "units"
    units.mkdir()
    library = ProfileLibrary((("site", profiles),))
    accepted: dict[str, tuple[str, str, services.RlimitValue]] = {}
    refused: dict[str, tuple[str, str]] = {}
    for index, (directive, value) in enumerate(candidates()):
        unit = f"u{index}.service"
        (units / unit).write_text("[Service]\nExecStart=/bin/true\n")
        text = f"name: c{index}\nservices:\n  {unit}: {{{directive}: {json.dumps(value)}}}\n"
        (profiles / f"c{index}.yaml").write_text(text)
        profile, _problems = resolve(ProfileRef.parse(f"c{index}"), library)
        dropin = units / f"{unit}.d" / "99-tuner.conf"
        dropin.parent.mkdir()
        if profile is None:
            refused[unit] = (directive, value)
            dropin.write_text(f"[Service]\n{directive}={value}\n")
            continue
        (text,) = render_files(profile).values()
        dropin.write_text(text)
        accepted[unit] = (directive, value, services.parse_value(directive, value))
    output, parsed = systemd_view(units, sorted(accepted) + sorted(refused))
    ignored = {
        m[1]
        for m in re.finditer(r"/(u\d+\.service)\.d/99-tuner\.conf:\d+: Failed to parse", output)
    }
    wrong = []
    for unit, (directive, value, numbers) in accepted.items():
        seen = parsed.get(unit, {})
        expected = {
            directive: services.RLIM_INFINITY if numbers.hard is None else numbers.hard,
            f"{directive}Soft": services.RLIM_INFINITY if numbers.soft is None else numbers.soft,
        }
        if unit in ignored or {k: seen.get(k) for k in expected} != expected:
            wrong.append((directive, value, expected, {k: seen.get(k) for k in expected}))
    assert not wrong, wrong[:5]
    assert not ignored - set(refused)
    hostile_units = {f"u{i}.service" for i in range(len(HOSTILE))}
    assert hostile_units <= set(refused)  # tuner refuses every hostile case...
    # ...and systemd ignores each of them too, but for 10:5 (it lowers the soft limit to 5)
    assert {refused[u] for u in hostile_units - ignored} == {("LimitNOFILE", "10:5")}
    assert len(accepted) > 100
    print(f"{len(accepted)} accepted values read identically by systemd; "
          f"{len(refused)} refused, {len(ignored)} of them ignored by systemd too")  # fmt: skip
