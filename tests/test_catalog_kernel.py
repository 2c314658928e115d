"""The catalog against the kernel the tests run on: every per-netns key, in a new namespace.

For each per-network-namespace entry: it exists exactly when the catalog's since/removed say it
does on this kernel; a fresh namespace holds the catalog's default (unless the entry says a new
namespace inherits the initial one's value, or the default depends on the machine); and the
kernel takes the catalog's bounds and refuses one past them. A failure names the stale entries.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from conftest import needs_sandbox
from sandbox import sandbox

from tuner.knowledge import catalog

pytestmark = [pytest.mark.sandbox, needs_sandbox]
PROBE = Path(__file__).with_name("catalog_probe.py")


def test_catalog_matches_this_kernel() -> None:
    result = sandbox(f"{shlex.quote(sys.executable)} {shlex.quote(str(PROBE))}\n")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    release = catalog.version_tuple(os.uname().release)
    stale: list[str] = []
    checked = 0
    for name, probe in found.items():
        entry = catalog.lookup(name)
        assert entry is not None
        since = catalog.version_tuple(entry.since) if entry.since else ()
        removed = catalog.version_tuple(entry.removed) if entry.removed else None
        expected = release >= since and (removed is None or release < removed)
        if entry.module and not probe["exists"]:
            continue  # a module's key exists only while it is loaded
        if probe["exists"] != expected:
            stale.append(f"{name}: exists={probe['exists']} on {os.uname().release}, "
                         f"but since={entry.since} removed={entry.removed}")  # fmt: skip
            continue
        if not probe["exists"]:
            continue
        checked += 1
        default = entry.default_for(os.uname().release)
        if default is not None and not entry.inherited and probe["fresh"] != default:
            stale.append(f"{name}: default {default!r}, this kernel {probe['fresh']!r}")
        for check, ok in probe.get("checks", {}).items():
            if not ok:
                stale.append(f"{name}: the kernel does not agree that it {check}")
    print(f"catalog: {checked} per-netns keys checked on Linux {os.uname().release}")
    assert not stale, "stale catalog entries:\n" + "\n".join(stale)
    assert checked >= 30
