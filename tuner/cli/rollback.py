"""tuner rollback: walk back through the applies in effect, or settle an unfinished run."""

from __future__ import annotations

from pathlib import Path

from tuner.app import ops
from tuner.cli import report, views
from tuner.cli.common import confirm, make_host, require_privileges, warn_chroot
from tuner.machine import systemd


def run_rollback(
    root: Path | None,
    proc_sys: Path | None,
    to: int | None,
    yes: bool,
    *,
    restart_services: bool = False,
    kernel: bool = True,
    as_json: bool = False,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    require_privileges(host, "rollback")
    choice = ops.prepare_rollback(host, to)
    if not as_json:
        views.rollback_choice(choice, choice.skipped_values)
    if choice.target.sysctl:
        warn_chroot(host)
    confirm(yes)
    result = ops.rollback_commit(choice, host, to)
    done = views.rolled_back(result, quiet=as_json)
    said = systemd.reload(host, list(result.units), restart_services, done)
    if as_json:
        report.emit_json("rollback", {"changed": True} | result.to_json() | {"systemd": said})
        return 0
    for line in said:
        report.out(line)
    return 0
