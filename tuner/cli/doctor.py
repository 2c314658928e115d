"""tuner doctor: what limits this host's connections now (ports per tuple, TIME_WAIT,
descriptors, listen queues, orphans, conntrack), each finding with the profile setting that fixes
it; with --profile, whether that profile does."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tuner.app import ops
from tuner.base import errors
from tuner.cli import report, views
from tuner.cli.common import make_host


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


def run(
    profile: str | None, proc_sys: Path | None, as_json: bool, top: int, detailed_exitcode: bool
) -> int:
    progress = Progress() if sys.stderr.isatty() else None
    try:
        result = ops.doctor(make_host(None, proc_sys), profile, top=top, progress=progress)
    finally:
        if progress is not None:
            progress.clear()
    if as_json:
        report.emit_json("doctor", result.to_json())
    else:
        views.doctor(result, top)
    if detailed_exitcode and result.needs_attention:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
