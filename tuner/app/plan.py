"""tuner plan: what applying a profile would change, read-only; and saving it for apply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuner.app.profiles import incomplete_warnings, load_checked
from tuner.base.diagnostics import Diagnostic
from tuner.changes.plan import Plan, make_plan
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolved import Profile
from tuner.state import savedplan
from tuner.state.journal import Journal, replaced_values


def plan(ref: ProfileRef, host: Host, library: ProfileLibrary, *, strict: bool = False) -> Plan:
    """What applying ``ref`` would change; warnings about unfinished runs and a chroot included."""
    found = incomplete_warnings(host)
    chroot = host.chroot_warning()
    if chroot:
        found.append(Diagnostic("warning", chroot, None, None, "chroot"))
    return prepare(ref, host, library, strict=strict, notes=found)


def prepare(
    ref: ProfileRef,
    host: Host,
    library: ProfileLibrary,
    *,
    strict: bool = False,
    notes: list[Diagnostic] | None = None,
) -> Plan:
    """The plan apply would carry out (no journal check: apply refuses unsettled runs itself)."""
    live = LiveKernel(host)  # read once, for the rules and the plan
    profile, diagnostics = load_checked(ref, host, library, strict=strict, live=live)
    return make_plan(
        profile, host, diagnostics + (notes or []), live, replaced=replaced(profile, host)
    )


def replaced(profile: Profile, host: Host) -> dict[str, tuple[str, str]]:
    """The keys the applies in effect set that ``profile`` does not: they go back to their value
    from before (a second profile replaces the first)."""
    journal = Journal(host)
    stack = journal.in_effect(journal.generations(tolerate_damage=True))
    return replaced_values(stack, {e.key.name for e in profile.sysctl})


@dataclass(frozen=True)
class Refused:
    """A plan that could not be made: the profile has errors (``--json`` still answers)."""

    ref: ProfileRef
    diagnostics: tuple[Diagnostic, ...]

    def to_json(self) -> dict[str, object]:
        found = self.diagnostics
        return {
            "profile": self.ref.text,
            "changes": [],
            "warnings": [d.to_json() for d in found if d.severity != "error"],
            "errors": [d.to_json() for d in found if d.severity == "error"],
        }


@dataclass(frozen=True)
class Saved:
    path: Path
    apply_command: str  # the command that applies exactly this plan


def save(result: Plan, ref: ProfileRef, host: Host, out: Path) -> Saved:
    """Write ``result`` to ``out`` with everything it was computed from (``savedplan``)."""
    basis = savedplan.basis_of(result, ref, host)
    savedplan.save(out, result, basis, summary_of(result))
    return Saved(out, savedplan.apply_command(out, basis))


def summary_of(plan: Plan) -> list[dict[str, object]]:
    """The pending changes as the journal and a saved plan keep them (file contents live in the
    generation)."""
    return [
        {k: v for k, v in c.to_json().items() if k not in ("diff", "current", "desired")}
        | ({} if c.layer == "file" else {"current": c.current, "desired": c.desired})
        for c in plan.pending
    ]


def blockers(plan: Plan) -> list[str]:
    """Why apply cannot carry out ``plan`` at all (nothing would be changed)."""
    found = [
        f"{c.key}: the running kernel has no such key" if c.action == "missing"
        else f"{c.key}: cannot be read ({c.action})"
        for c in plan.changes
        if c.layer == "kernel" and c.action in ("missing", "unreadable")
    ]  # fmt: skip
    return found + [str(d) for d in plan.errors if d.rule == "unsafe-target"]
