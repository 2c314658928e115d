"""tuner validate: every problem in every named profile, at once (each reported once, however
many of the profiles share the file it is in)."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.app.profiles import load_checked
from tuner.base.diagnostics import Diagnostic, has_errors
from tuner.base.errors import ProfileError
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef


@dataclass(frozen=True)
class Validation:
    profiles: tuple[tuple[ProfileRef, bool], ...]  # each profile and whether it is valid
    found: tuple[Diagnostic, ...]

    @property
    def valid(self) -> bool:
        return not has_errors(list(self.found))

    @property
    def errors(self) -> int:
        return sum(1 for d in self.found if d.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.found if d.severity == "warning")

    @property
    def acknowledged(self) -> int:
        return sum(1 for d in self.found if d.severity == "info" and d.rule)

    def to_json(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "profiles": [{"profile": ref.text, "valid": ok} for ref, ok in self.profiles],
            "errors": [d.to_json() for d in self.found if d.severity == "error"],
            "warnings": [d.to_json() for d in self.found if d.severity != "error"],
        }


def validate(
    refs: list[ProfileRef], host: Host, library: ProfileLibrary, *, strict: bool = False
) -> Validation:
    live = LiveKernel(host)
    found: list[Diagnostic] = []
    results = []
    for ref in refs:
        try:
            _profile, diagnostics = load_checked(ref, host, library, strict=strict, live=live)
        except ProfileError as exc:
            diagnostics = exc.diagnostics
        found += [d for d in diagnostics if d not in found]
        results.append((ref, not has_errors(diagnostics)))
    return Validation(tuple(results), tuple(found))
