"""tuner status: the applies in effect, anything unfinished, and whether anything drifted since."""

from __future__ import annotations

from pathlib import Path

from tuner import errors, ops, report, views
from tuner.commands._common import make_host


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
