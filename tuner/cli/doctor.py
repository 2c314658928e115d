"""tuner doctor: what limits this host's connections now (ports per tuple, TIME_WAIT,
descriptors, listen queues, orphans, conntrack), each finding with the profile setting that fixes
it; with --profile, whether that profile does."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from tuner.app.doctor import doctor as diagnose
from tuner.app.doctor import families as doctor_metrics
from tuner.base import errors
from tuner.cli import views
from tuner.cli.formats import FormatOpt, TextfileOpt, emit, output_format
from tuner.cli.options import (
    DetailedOpt,
    HostOptions,
    JsonOpt,
    ProcSysOpt,
    QuietOpt,
    profile_ref,
    verb,
)

app = verb()


class Progress:
    """Sockets counted so far, on stderr, only on a terminal and only once it takes a while."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.shown = 0.0
        self.drawn = False

    def __call__(self, count: int) -> None:
        now = time.monotonic()
        if now - self.start < 0.5 or now - self.shown < 0.1:
            return
        self.shown = now
        self.drawn = True
        sys.stderr.write(f"\rcounting sockets: {count:,}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


@app.command("doctor")
def doctor(
    *,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="PROFILE",
            help="Also say whether PROFILE would fix each finding.",
        ),
    ] = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    top: Annotated[
        int,
        typer.Option("--top", min=1, metavar="N", help="Show the N worst tuples and processes."),
    ] = 5,
    detailed_exitcode: DetailedOpt = False,
    fmt: FormatOpt = None,
    textfile: TextfileOpt = None,
) -> int:
    """Why connections fail on this host now: ports per tuple, TIME_WAIT, descriptors, listen
    queues, orphans, conntrack; each finding with the profile setting that fixes it."""
    shown = output_format(fmt, json=json, textfile=textfile)
    where = HostOptions(None, proc_sys)
    progress = Progress() if sys.stderr.isatty() else None
    ref = None if profile is None else profile_ref(profile)
    try:
        result = diagnose(where.host(), where.library(), ref, top=top, progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    emit(shown, "doctor", result.to_json, lambda: doctor_metrics(result), textfile,
         lambda: views.doctor(result, top))  # fmt: skip
    if detailed_exitcode and result.needs_attention:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
