"""tuner history: every generation, oldest first (and pruning of the oldest)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tuner.app.history import history as history_of
from tuner.app.workflow import require_root
from tuner.cli import report, views
from tuner.cli.options import HostOptions, JsonOpt, ProcSysOpt, QuietOpt, RootOpt, WaitLockOpt, verb

app = verb()


@app.command("history")
def history(
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    wait_lock: WaitLockOpt = 0.0,
    prune: Annotated[
        int | None,
        typer.Option(
            "--prune",
            metavar="KEEP",
            min=1,
            help="First delete all but the newest KEEP generations; the applied one, an "
            "unfinished one and everything after them always stay.",
        ),
    ] = None,
    quarantine: Annotated[
        str | None,
        typer.Option(
            "--quarantine",
            metavar="N",
            help="First move the damaged journal entry N (its number or file name) out of the "
            "journal, into /var/lib/tuner/quarantine, so apply and rollback can go on.",
        ),
    ] = None,
) -> int:
    """Every apply and rollback: when, which profile, what changed, and how it ended."""
    host = HostOptions(root, proc_sys, kernel=False, wait_lock=wait_lock).host()
    if prune is not None:
        require_root(host, "history --prune")
    if quarantine is not None:
        require_root(host, "history --quarantine")
    result = history_of(host, keep=prune, quarantine=quarantine)
    if json:
        if result.quarantined:
            report.out(f"moved the damaged entry to {result.quarantined}", sys.stderr)
        if result.prune_asked:
            report.out(views.pruned(result), sys.stderr)
        report.emit_json("history", result.to_json())
    else:
        views.history(result)
    return 0
