"""tuner validate: every problem in every named profile, at once."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.app.validate import validate as validate_profiles
from tuner.base.wording import plural
from tuner.cli import report
from tuner.cli.options import (
    HostOptions,
    JsonOpt,
    ProcSysOpt,
    ProfilesArg,
    QuietOpt,
    RootOpt,
    StrictOpt,
    profile_ref,
    verb,
)

app = verb()


@app.command("validate")
def validate(
    profiles: ProfilesArg,
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    host: Annotated[
        bool,
        typer.Option(
            "--host",
            help="Also judge the profile against this host (its live values, listeners and "
            "limits); without it, the result is the same on every machine.",
        ),
    ] = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Check profiles: every error at once, as FILE:LINE:COL: key: message."""
    # the profile alone, unless asked: --host, or a /proc/sys tree named explicitly
    where = HostOptions(root, proc_sys, kernel=host or proc_sys is not None)
    refs = [profile_ref(p) for p in profiles]
    result = validate_profiles(refs, where.host(), where.library(), strict=strict)
    if json:
        report.emit_json("validate", result.to_json())
        return 0 if result.valid else 1
    report.diagnostics(result.found)
    counted = plural(len(refs), "profile")
    if not result.valid:
        report.out(f"{plural(result.errors, 'error')}, {plural(result.warnings, 'warning')} in "
                   f"{counted}")  # fmt: skip
        return 1
    warned = f", {plural(result.warnings, 'warning')}" if result.warnings else ""
    acked = f", {result.acknowledged} acknowledged" if result.acknowledged else ""
    report.out(f"ok: {counted} valid{warned}{acked}")
    return 0
