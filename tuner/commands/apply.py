"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import typer

from tuner import render, report
from tuner.commands._common import (
    load_checked,
    make_host,
    refuse_incomplete,
    require_privileges,
)
from tuner.commands.plan import print_plan
from tuner.errors import HostError, TunerError
from tuner.host import FileState, Host
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


def warn_chroot(host: Host, plan: Plan | None = None) -> None:
    """Loudly, before any live write, when / looks like a chroot."""
    writes_kernel = plan is None or any(c.layer == "kernel" for c in plan.pending)
    warning = host.chroot_warning() if writes_kernel else None
    if warning:
        report.warning(warning.upper()[:1] + warning[1:])


def confirm(yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise TunerError("not a terminal, so not asking: pass --yes to apply without confirmation")
    if not typer.confirm("Apply these changes?", default=False):
        raise TunerError("not applied: nothing was changed")


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
    print_plan(plan)
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
    reload_systemd(host, units_of(changed), restart_services, done)
    return 0


def units_of(paths: Iterable[str | PurePosixPath]) -> list[str]:
    """The systemd units whose drop-ins are among ``paths``."""
    dropins = [PurePosixPath(p) for p in paths if str(p).startswith(f"{render.SYSTEMD_DIR}/")]
    return sorted({path.parent.name.removesuffix(".d") for path in dropins})


def reload_systemd(host: Host, units: list[str], restart: bool, done: str) -> None:
    """Make systemd read the changed drop-ins of ``units`` (``done`` says what already happened,
    for the message if systemctl fails): daemon-reload, then restart them or say they need it."""
    if not units:
        return
    if host.image_mode or not host.is_live_root:
        report.out("Image root: no daemon-reload; the units read their drop-ins at boot.")
        return
    if not host.systemd_is_pid1():
        report.out("PID 1 is not systemd: skipped `systemctl daemon-reload`.")
        report.out(f"New limits take effect when these start under systemd: {', '.join(units)}")
        return
    steps: dict[tuple[str, ...], str] = {("daemon-reload",): "Ran `systemctl daemon-reload`."}
    if restart:
        steps |= {("try-restart", unit): f"Restarted {unit} (if it was running)." for unit in units}
    for step, said in steps.items():
        try:
            host.systemctl(*step)
        except HostError as exc:
            raise HostError(
                f"{done}, but {exc}. Run `systemctl {' '.join(step)}` once the cause is fixed"
            ) from None
        report.out(said)
    if not restart:
        report.out(f"Restart for the new limits to take effect: {', '.join(units)}")
