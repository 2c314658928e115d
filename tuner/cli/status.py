"""tuner status: the applies in effect, anything unfinished, and whether anything drifted since."""

from __future__ import annotations

from pathlib import Path

from tuner.app import ops
from tuner.base import errors
from tuner.cli import report, views
from tuner.cli.common import make_host


def run(
    root: Path | None,
    proc_sys: Path | None,
    as_json: bool,
    detailed_exitcode: bool,
    *,
    kernel: bool = True,
) -> int:
    result = ops.status(make_host(root, proc_sys, kernel=kernel))
    if as_json:
        report.emit_json("status", result.to_json())
    else:
        views.status(result)
    if detailed_exitcode and result.needs_attention:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
