"""The judge for tests/test_tuned_differential.py: tuned's own profile loader (run by the system
Python that Debian's tuned package installs into), printing for each profile named on the command
line the sysctl settings tuned merges for it, as JSON.

    /usr/bin/python3 tests/tuned_judge.py DIR NAME...

DIR is the profile directory tuned loads from (a copy of /usr/lib/tuned). For each NAME:
``sysctl`` maps each key to the value the sysctl plugin would write (unquoted, variables and
functions expanded by tuned's Variables, later units winning, units in priority order); the
``>N``/``<N`` modifiers are kept; ``conditional`` holds the keys of units that apply only where
their cpuinfo_regex/uname_regex match.
"""

from __future__ import annotations

import json
import logging
import re
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
logging.disable(logging.CRITICAL)

import tuned.profiles.factory  # noqa: E402
import tuned.profiles.loader  # noqa: E402
import tuned.profiles.locator  # noqa: E402
import tuned.profiles.merger  # noqa: E402
import tuned.profiles.variables  # noqa: E402


def judge(directory: str, name: str) -> dict[str, object]:
    variables = tuned.profiles.variables.Variables()
    loader = tuned.profiles.loader.Loader(
        tuned.profiles.locator.Locator([directory]),
        tuned.profiles.factory.Factory(),
        tuned.profiles.merger.Merger(),
        None,
        variables,
    )
    profile = loader.load(name)
    units = [u for u in profile.units.values() if u.enabled and u.type == "sysctl"]
    units.sort(key=lambda u: int(u.options.get("priority", 0)))
    settled: dict[str, str] = {}
    conditional: list[str] = []
    for unit in units:
        options = {k: v for k, v in unit.options.items() if k != "priority"}
        if unit.cpuinfo_regex is not None or unit.uname_regex is not None:
            conditional += list(options)
            continue
        for key, value in options.items():
            settled.pop(key, None)
            settled[key] = variables.expand(re.sub('^"(.*)"$', r"\1", value))
    return {"sysctl": settled, "conditional": conditional}


if __name__ == "__main__":
    print(json.dumps({name: judge(sys.argv[1], name) for name in sys.argv[2:]}))
