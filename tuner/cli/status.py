"""tuner status: the applies in effect, anything unfinished, and whether anything drifted since."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.app.status import status as status_of
from tuner.base import errors
from tuner.cli import report, views
from tuner.cli.options import (
    DetailedOpt,
    HostOptions,
    JsonOpt,
    NoKernelOpt,
    ProcSysOpt,
    QuietOpt,
    RootOpt,
    verb,
)

app = verb()


@app.command("status")
def status(
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    no_kernel: NoKernelOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    detailed_exitcode: DetailedOpt = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Show each managed file's changes since it was applied as a unified diff.",
        ),
    ] = False,
) -> int:
    """Which profile is applied, and any drift since (exit 2 with --detailed-exitcode)."""
    result = status_of(HostOptions(root, proc_sys, kernel=not no_kernel).host())
    if json:
        report.emit_json("status", result.to_json())
    else:
        views.status(result, full=diff)
    if detailed_exitcode and result.needs_attention:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
