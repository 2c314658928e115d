"""tuner show: a profile after extends, each value with the file and line it came from."""

from __future__ import annotations

from pathlib import Path

from tuner.app.ops import load_checked
from tuner.cli import report
from tuner.cli.common import make_host
from tuner.profile.library import display_path
from tuner.profile.resolve import Profile


def profile_json(profile: Profile) -> dict[str, object]:
    return {
        "name": profile.name,
        "description": profile.description,
        "path": display_path(profile.path),
        "chain": list(profile.chain),
        "intent": None
        if profile.intent is None
        else profile.intent.to_json() | {"from": str(profile.intent.origin)},
        "sysctl": {
            e.key.name: {"value": e.value, "why": e.why, "from": str(e.origin)}
            for e in profile.sysctl
        },
        "limits": [
            {
                "domain": e.domain,
                "type": e.kind,
                "item": e.item,
                "value": e.value,
                "why": e.why,
                "from": str(e.origin),
            }
            for e in profile.limits
        ],
        "services": {
            unit: {
                s.directive: {"value": s.value, "why": s.why, "from": str(s.origin)}
                for s in profile.services
                if s.unit == unit
            }
            for unit in sorted({s.unit for s in profile.services})
        },
    }


def run(ref: str, root: Path | None, as_json: bool) -> int:
    # show describes the profile, not this host: no live checks
    profile, _diagnostics = load_checked(ref, make_host(root, None, kernel=False))
    if as_json:
        report.emit_json("show", profile_json(profile))
        return 0
    chain = " <- ".join(reversed(profile.chain))
    report.out(f"{profile.name}: {profile.description}")
    report.out(f"resolved: {chain}   ({display_path(profile.path)})")
    if profile.sysctl:
        report.out("\nsysctl:")
        rows = [["KEY", "VALUE", "FROM"]]
        rows += [[e.key.name, e.value, str(e.origin)] for e in profile.sysctl]
        for line in report.table(rows):
            report.out(line)
    if profile.limits:
        report.out("\nlimits:")
        rows = [["DOMAIN", "TYPE", "ITEM", "VALUE", "FROM"]]
        rows += [[e.domain, e.kind, e.item, e.value, str(e.origin)] for e in profile.limits]
        for line in report.table(rows):
            report.out(line)
    if profile.services:
        report.out("\nservices:")
        rows = [["UNIT", "SETTING", "FROM"]]
        rows += [[s.unit, f"{s.directive}={s.value}", str(s.origin)] for s in profile.services]
        for line in report.table(rows):
            report.out(line)
    return 0
