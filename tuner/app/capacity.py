"""tuner capacity: how many connections a profile allows, with the arithmetic."""

from __future__ import annotations

from dataclasses import dataclass, field

from tuner.app.profiles import load_checked
from tuner.base.diagnostics import Diagnostic
from tuner.knowledge import capacity as capacity_model
from tuner.knowledge.facts import Facts
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolved import Profile


@dataclass(frozen=True)
class CapacityReport:
    profile: Profile
    ceiling: capacity_model.Ceiling
    checks: tuple[capacity_model.Check, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def met(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        intent = self.profile.intent
        return {
            "profile": self.profile.name,
            "intent": None if intent is None else intent.to_json(),
            "ceiling": self.ceiling.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "met": self.met,
        }


def capacity(ref: ProfileRef, host: Host, library: ProfileLibrary) -> CapacityReport:
    """How many connections ``ref`` allows; rule errors are findings here, not refusals."""
    live = LiveKernel(host)
    profile, diagnostics = load_checked(ref, host, library, live=live, rule_errors_fail=False)
    facts = Facts(profile, live)
    return CapacityReport(
        profile,
        capacity_model.ceiling(profile, facts),
        tuple(capacity_model.checks(profile, facts)),
        tuple(diagnostics),
    )
