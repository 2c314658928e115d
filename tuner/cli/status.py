"""tuner status: the applies in effect, anything unfinished, and whether anything drifted since."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.app import metrics
from tuner.app.status import status as status_of
from tuner.base import errors
from tuner.cli import views
from tuner.cli.formats import FormatOpt, TextfileOpt, emit, output_format
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
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Show each managed file's changes since it was applied as a unified diff.",
        ),
    ] = False,
) -> int:
    """Which profile is applied, and any drift since (exit 2 with --detailed-exitcode)."""
    shown = output_format(fmt, json=json, textfile=textfile)
    result = status_of(HostOptions(root, proc_sys, kernel=not no_kernel).host())
    emit(shown, "status", result.to_json, lambda: metrics.status_families(result), textfile,
         lambda: views.status(result, full=diff))  # fmt: skip
    if detailed_exitcode and result.needs_attention:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
