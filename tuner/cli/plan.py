"""tuner plan: what apply would change, read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tuner.app import plan as planning
from tuner.base import errors
from tuner.base.errors import ProfileError
from tuner.cli import report, views
from tuner.cli.options import (
    DetailedOpt,
    HostOptions,
    JsonOpt,
    NoKernelOpt,
    ProcSysOpt,
    ProfileArg,
    QuietOpt,
    RootOpt,
    StrictOpt,
    profile_ref,
    verb,
)

app = verb()


@app.command("plan")
def plan(
    profile: ProfileArg,
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    no_kernel: NoKernelOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    detailed_exitcode: DetailedOpt = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Show every file diff, why each value, and the capacity "
            "arithmetic (the default is a compact plan).",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Save the plan, with what it was computed from, for `tuner apply FILE`.",
        ),
    ] = None,
) -> int:
    """Show what applying PROFILE would change: live values, files, and boot-time overrides."""
    where = HostOptions(root, proc_sys, kernel=not no_kernel)
    host, ref = where.host(), profile_ref(profile)
    try:
        result = planning.plan(ref, host, where.library(), strict=strict)
    except ProfileError as exc:
        if not json:
            raise
        report.emit_json("plan", planning.Refused(ref, tuple(exc.diagnostics)).to_json())
        return errors.EXIT_ERROR
    saved = None
    if out is not None and not result.errors:
        saved = planning.save(result, ref, host, out)
    if json:
        report.emit_json("plan", result.to_json())
    else:
        views.plan(result, full=diff, ref=None if out else profile)
        if saved is not None:
            report.out(f"Saved to {out}. Nothing was changed. To apply exactly this plan: "
                       f"{saved.apply_command}")  # fmt: skip
    if result.errors:
        return errors.EXIT_ERROR
    if detailed_exitcode and result.has_changes:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
