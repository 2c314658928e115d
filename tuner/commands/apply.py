"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

from tuner import report, systemd, views
from tuner.commands._common import (
    confirm,
    load_checked,
    make_host,
    refuse_incomplete,
    require_privileges,
    warn_chroot,
)
from tuner.errors import TunerError
from tuner.host import FileState
from tuner.journal import Journal
from tuner.live import LiveKernel
from tuner.plan import Plan, make_plan
from tuner.transaction import Target, run


def target_of(plan: Plan) -> Target:
    owner = (0, 0) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    files = {
        path: None if text is None else FileState(text.encode(), 0o644, *owner)
        for path, text in plan.files.items()
        if any(c.layer == "file" and c.path == str(path) for c in plan.pending)
    }
    values = {c.key: c.desired for c in plan.pending if c.layer == "kernel" and c.key and c.desired}
    return Target(files, values)


def summary_of(plan: Plan) -> list[dict[str, object]]:
    """The pending changes as the journal keeps them (file contents live in the generation)."""
    return [
        {k: v for k, v in c.to_json().items() if k not in ("diff", "current", "desired")}
        | ({} if c.layer == "file" else {"current": c.current, "desired": c.desired})
        for c in plan.pending
    ]


def _blockers(plan: Plan) -> list[str]:
    return [
        f"{c.key}: the running kernel has no such key" if c.action == "missing"
        else f"{c.key}: cannot be read ({c.action})"
        for c in plan.changes
        if c.layer == "kernel" and c.action in ("missing", "unreadable")
    ]  # fmt: skip


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
    journal = Journal(host)
    if not dry_run:
        refuse_incomplete(journal)
    live = LiveKernel(host)  # read once for the rules and the plan shown
    profile, diagnostics = load_checked(ref, host, strict=strict, live=live)
    plan = make_plan(profile, host, diagnostics, live)
    views.plan(plan)
    if dry_run:
        report.out("\nDry run: nothing was changed.")
        return 0
    blockers = _blockers(plan) + [str(d) for d in plan.errors if d.rule == "unsafe-target"]
    if blockers:
        raise TunerError("cannot apply: " + "; ".join(blockers))
    if not plan.has_changes:
        return 0  # the summary line already said "No changes"
    require_privileges(host, "apply")
    warn_chroot(host, plan)
    confirm(yes)
    with host.lock():
        refuse_incomplete(journal, locked=True)
        shown = plan
        plan = make_plan(profile, host, diagnostics)  # the host may have changed meanwhile
        if summary_of(plan) != summary_of(shown):
            raise TunerError(
                "the host changed since the plan was shown: nothing was changed, run again"
            )
        generation = run(
            host,
            journal,
            target_of(plan),
            kind="apply",
            profile=profile.name,
            plan=summary_of(plan),
        )
    report.out(f"\nApplied {profile.name}: generation {generation.number}.")
    changed = [c.path for c in plan.pending if c.layer == "file" and c.path]
    done = f"{profile.name} is applied (generation {generation.number})"
    systemd.reload(host, systemd.units_of(changed), restart_services, done)
    return 0
