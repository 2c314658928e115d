"""tuner capacity: how many connections a profile really allows, with the arithmetic shown."""

from __future__ import annotations

from pathlib import Path

from tuner import capacity, errors, report, views
from tuner.commands._common import load_checked, make_host
from tuner.facts import Facts
from tuner.live import LiveKernel
from tuner.resolve import Profile


def sections(profile: Profile, live: LiveKernel) -> tuple[capacity.Ceiling, list[capacity.Check]]:
    facts = Facts(profile, live)
    return capacity.ceiling(profile, facts), capacity.checks(profile, facts)


def print_capacity(profile: Profile, live: LiveKernel) -> bool:
    """Print the capacity report; True when the intent is met."""
    ceiling, checks = sections(profile, live)
    views.capacity_report(ceiling, checks, profile)
    return all(c.ok for c in checks)


def run(ref: str, root: Path | None, proc_sys: Path | None, as_json: bool) -> int:
    host = make_host(root, proc_sys)
    live = LiveKernel(host)
    # rule errors are findings here: the report shows the gap they are about
    profile, diagnostics = load_checked(ref, host, live=live, rule_errors_fail=False)
    if as_json:
        ceiling, checks = sections(profile, live)
        report.emit_json(
            "capacity",
            {
                "profile": profile.name,
                "intent": None if profile.intent is None else profile.intent.to_json(),
                "ceiling": ceiling.to_json(),
                "checks": [c.to_json() for c in checks],
                "met": all(c.ok for c in checks),
            }
        )  # fmt: skip
        return errors.EXIT_OK if all(c.ok for c in checks) else errors.EXIT_ERROR
    report.out(f"Capacity: {profile.name}")
    met = print_capacity(profile, live)
    if profile.intent is None:
        report.out(
            "No intent declared: add intent: {role, concurrent_connections, ...} to check it."
        )
    if diagnostics:
        report.out("\nFindings:")
        report.diagnostics(diagnostics)
    report.out("Intent met." if met else "Intent NOT met: see the gaps above.")
    return errors.EXIT_OK if met else errors.EXIT_ERROR
