"""tuner capacity: how many connections a profile really allows, with the arithmetic shown."""

from __future__ import annotations

from pathlib import Path

from tuner.app import ops
from tuner.base import errors
from tuner.cli import report, views
from tuner.cli.common import make_host


def run(ref: str, root: Path | None, proc_sys: Path | None, as_json: bool) -> int:
    result = ops.capacity(ref, make_host(root, proc_sys))
    if as_json:
        report.emit_json("capacity", result.to_json())
    else:
        views.capacity(result)
    return errors.EXIT_OK if result.met else errors.EXIT_ERROR
