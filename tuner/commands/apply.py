"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

from pathlib import Path

from tuner import ops, report, systemd, views
from tuner.commands._common import confirm, make_host, require_privileges, warn_chroot
from tuner.errors import TunerError
from tuner.journal import Journal


def run_apply(
    ref: str,
    root: Path | None,
    proc_sys: Path | None,
    *,
    strict: bool,
    yes: bool,
    dry_run: bool,
    restart_services: bool,
    kernel: bool = True,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    if not dry_run:
        ops.refuse_unsettled(Journal(host))
    plan = ops.prepare_apply(ref, host, strict=strict)
    views.plan(plan)
    if dry_run:
        report.out("\nDry run: nothing was changed.")
        return 0
    blockers = ops.blockers(plan)
    if blockers:
        raise TunerError("cannot apply: " + "; ".join(blockers))
    if not plan.has_changes:
        return 0  # the summary line already said "No changes"
    require_privileges(host, "apply")
    warn_chroot(host, plan)
    confirm(yes)
    result = ops.apply_commit(plan, host)
    name, number = result.generation.profile, result.generation.number
    report.out(f"\nApplied {name}: generation {number}.")
    done = f"{name} is applied (generation {number})"
    systemd.reload(host, list(result.units), restart_services, done)
    return 0
