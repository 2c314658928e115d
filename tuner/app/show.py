"""tuner show: a profile after extends, each value with the file and line it came from. It
describes the profile, not this host: no live value is read."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.app.profiles import load_checked
from tuner.machine.host import Host
from tuner.profile.library import ProfileLibrary, display_path
from tuner.profile.ref import ProfileRef
from tuner.profile.resolved import LimitEntry, Profile


@dataclass(frozen=True)
class Shown:
    profile: Profile

    def to_json(self) -> dict[str, object]:
        profile = self.profile
        return {
            "name": profile.name,
            "description": profile.description,
            "path": display_path(profile.path),
            "chain": list(profile.chain),
            "intent": None
            if profile.intent is None
            else profile.intent.to_json() | {"from": str(profile.intent_origin)},
            "sysctl": {
                e.key.name: {"value": e.value, "why": e.why, "from": str(e.origin)}
                for e in profile.sysctl
            },
            "limits": [_limit(e) for e in profile.limits],
            "services": {
                unit: {
                    s.directive: {"value": s.value, "why": s.why, "from": str(s.origin)}
                    for s in profile.services
                    if s.unit == unit
                }
                for unit in sorted({s.unit for s in profile.services})
            },
            "acknowledge": [
                {"rule": a.rule, "reason": a.reason, "from": str(a.origin),
                 "setting": None if a.at is None else str(a.at)}
                for a in profile.acknowledgements()
            ],
        }  # fmt: skip


def _limit(e: LimitEntry) -> dict[str, object]:
    return {"domain": e.domain, "type": e.kind, "item": e.item, "value": e.value, "why": e.why,
            "from": str(e.origin)}  # fmt: skip


def show(ref: ProfileRef, host: Host, library: ProfileLibrary) -> Shown:
    profile, _diagnostics = load_checked(ref, host, library)
    return Shown(profile)
