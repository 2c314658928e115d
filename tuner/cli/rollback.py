"""tuner rollback: walk back through the applies in effect, or settle an unfinished run."""

from __future__ import annotations

from typing import Annotated

import typer

from tuner.app.rollback import rollback as roll_back
from tuner.cli import report, views
from tuner.cli.options import (
    HostOptions,
    JsonOpt,
    NoKernelOpt,
    ProcSysOpt,
    QuietOpt,
    RestartOpt,
    RootOpt,
    WaitLockOpt,
    YesOpt,
    verb,
)
from tuner.cli.review import TerminalReview

app = verb()


@app.command("rollback")
def rollback(
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    to: Annotated[
        int | None,
        typer.Option("--to", metavar="N", help="The generation to undo (default: the latest)."),
    ] = None,
    no_kernel: NoKernelOpt = False,
    yes: YesOpt = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --yes: also discard changes made by hand since the applies it undoes "
            "(it lists them; without --yes, the confirmation asks).",
        ),
    ] = False,
    restart_services: RestartOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    wait_lock: WaitLockOpt = 0.0,
) -> int:
    """Restore the state from before a generation (files byte for byte, live values)."""
    host = HostOptions(root, proc_sys, kernel=not no_kernel, wait_lock=wait_lock).host()
    review = TerminalReview(quiet=json or quiet)
    result = roll_back(host, review, to=to, yes=yes, force=force,
                       restart_services=restart_services)  # fmt: skip
    if json:
        report.emit_json("rollback", result.to_json())
    else:
        views.rolled_back(result)
    return 0
