"""tuner apply: show the plan, then change exactly what it shows, all or nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.app.apply import apply as apply_profile
from tuner.cli import report, views
from tuner.cli.options import (
    HostOptions,
    NoKernelOpt,
    ProcSysOpt,
    QuietOpt,
    RestartOpt,
    RootOpt,
    StrictOpt,
    WaitLockOpt,
    YesOpt,
    verb,
)
from tuner.cli.review import TerminalReview
from tuner.profile.ref import ProfileRef

app = verb()


@app.command("apply")
def apply(
    profile: Annotated[
        str,
        typer.Argument(
            metavar="PROFILE|PLAN",
            help="A profile name or .yaml file, or a plan saved by `tuner plan --out`.",
            show_default=False,
        ),
    ],
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    no_kernel: NoKernelOpt = False,
    yes: YesOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    restart_services: RestartOpt = False,
    json: Annotated[
        bool,
        typer.Option("--json", help="Print a JSON document of what changed instead of the plan."),
    ] = False,
    quiet: QuietOpt = False,
    wait_lock: WaitLockOpt = 0.0,
) -> int:
    """Apply PROFILE: show the plan, then change exactly that, all or nothing, journaled."""
    where = HostOptions(root, proc_sys, kernel=not no_kernel, wait_lock=wait_lock)
    result = apply_profile(
        ProfileRef.parse(profile, plans=True),
        where.host(),
        where.library(),
        TerminalReview(quiet=json or quiet),
        strict=strict,
        yes=yes,
        dry_run=dry_run,
        restart_services=restart_services,
    )
    if json:
        report.emit_json("apply", result.to_json())
    else:
        views.applied(result)
    return 0
