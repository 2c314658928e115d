"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

from pathlib import Path

from tuner import ops, report, systemd, views
from tuner.commands._common import confirm, make_host, require_privileges, warn_chroot
from tuner.errors import TunerError
from tuner.journal import Journal
from tuner.plan import Plan


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
    as_json: bool = False,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    if not dry_run:
        ops.refuse_unsettled(Journal(host))
    plan = ops.prepare_apply(ref, host, strict=strict)
    if not as_json:
        views.plan(plan)
    if dry_run or not plan.has_changes:
        if as_json:
            report.emit_json("apply", _body(plan, None, []))
        elif dry_run:
            report.out("\nDry run: nothing was changed.")
        return 0  # with no changes, the summary line already said "No changes"
    blockers = ops.blockers(plan)
    if blockers:
        raise TunerError("cannot apply: " + "; ".join(blockers))
    require_privileges(host, "apply")
    warn_chroot(host, plan)
    confirm(yes)
    result = ops.apply_commit(plan, host)
    name, number = result.generation.profile, result.generation.number
    done = f"{name} is applied (generation {number})"
    said = systemd.reload(host, list(result.units), restart_services, done)
    if as_json:
        report.emit_json("apply", _body(plan, result, said))
        return 0
    report.out(f"\nApplied {name}: generation {number}.")
    for line in said:
        report.out(line)
    return 0


def _body(plan: Plan, result: ops.Applied | None, said: list[str]) -> dict[str, object]:
    """``apply --json``: whether anything changed, what (the plan's pending changes), the
    generation, and what systemd was asked to do."""
    body: dict[str, object] = {"changed": result is not None, "profile": plan.profile.name,
                               "mode": plan.mode, "root": plan.root}  # fmt: skip
    body |= result.to_json() if result else {"generation": None, "units": []}
    return body | {"changes": [c.to_json() for c in plan.pending], "systemd": said}
