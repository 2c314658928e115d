"""Loading a profile for an operation: resolved (from the cache when nothing changed), every
rule run on it, and every diagnostic at once; plus the warnings every operation shares (a run
that was killed and left a generation unfinished, a damaged journal entry)."""

from __future__ import annotations

import dataclasses

from tuner.base.diagnostics import Diagnostic, has_errors
from tuner.base.errors import ProfileError
from tuner.knowledge import rules
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.cached import resolve_for_check
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolved import Profile
from tuner.state.journal import Journal, incomplete_message


def load_checked(
    ref: ProfileRef,
    host: Host,
    library: ProfileLibrary,
    *,
    strict: bool = False,
    live: LiveKernel | None = None,
    rule_errors_fail: bool = True,
) -> tuple[Profile, list[Diagnostic]]:
    """Resolve ``ref`` and run every rule; raise ProfileError with all diagnostics on an error
    (only on errors in the profile files themselves when ``rule_errors_fail`` is False).

    Everything is reported at once: when a file has errors, the rules still run on the part
    of the profile that is valid. ``strict`` makes every warning an error."""
    profile, checked, diagnostics = resolve_for_check(ref, library)
    if checked is not None:
        ctx = rules.Context(checked, live or LiveKernel(host), strict=strict)
        diagnostics = diagnostics + rules.check(ctx)
    if strict:
        diagnostics = [_strict(d) for d in diagnostics]
    if profile is None or (rule_errors_fail and has_errors(diagnostics)):
        raise ProfileError(diagnostics)
    return profile, diagnostics


def _strict(diagnostic: Diagnostic) -> Diagnostic:
    if diagnostic.severity != "warning":
        return diagnostic
    message = f"{diagnostic.message} (an error with --strict)"
    return dataclasses.replace(diagnostic, severity="error", message=message)


def incomplete_warnings(host: Host) -> list[Diagnostic]:
    """A warning for each generation a killed run left unfinished."""
    journal = Journal(host)
    generations = journal.generations(tolerate_damage=True)
    return [
        Diagnostic("warning", incomplete_message(g), None, None, "incomplete-generation")
        for g in journal.unsettled(generations)
    ] + [Diagnostic("warning", d.message(), None, None, "damaged-journal") for d in journal.damaged]
