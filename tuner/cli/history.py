"""tuner history: every generation, oldest first (and pruning of the oldest)."""

from __future__ import annotations

import sys
from pathlib import Path

from tuner.app import ops
from tuner.cli import report, views
from tuner.cli.common import make_host, require_privileges


def run(root: Path | None, proc_sys: Path | None, as_json: bool, keep: int | None = None,
        quarantine: str | None = None) -> int:  # fmt: skip
    host = make_host(root, proc_sys, kernel=False)
    if keep is not None:
        require_privileges(host, "history --prune")
    if quarantine is not None:
        require_privileges(host, "history --quarantine")
    result = ops.history(host, keep, quarantine)
    if as_json:
        if result.quarantined:
            report.out(f"moved the damaged entry to {result.quarantined}", sys.stderr)
        if result.prune_asked:
            report.out(views.pruned(result), sys.stderr)
        report.emit_json("history", result.to_json())
    else:
        views.history(result)
    return 0
