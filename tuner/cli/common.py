"""What the commands share on the command line's side: the host from --root and --proc-sys,
the privilege check, the confirmation question, and the chroot warning."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.base.errors import TunerError
from tuner.cli import report
from tuner.machine.host import Host
from tuner.machine.kernel import REAL_PROC_SYS

if TYPE_CHECKING:
    from tuner.changes.plan import Plan


def make_host(root: Path | None, proc_sys: Path | None, *, kernel: bool = True) -> Host:
    """``--root`` and ``--proc-sys`` as a Host: a root other than / never reads the running kernel
    unless ``--proc-sys`` names a tree explicitly; ``kernel=False`` never reads one."""
    root = root or Path("/")
    if not root.is_dir():
        raise TunerError(f"--root {root}: not a directory")
    if proc_sys is not None and not proc_sys.is_dir():
        raise TunerError(f"--proc-sys {proc_sys}: not a directory")
    if proc_sys is None and root.resolve() == Path("/"):
        proc_sys = REAL_PROC_SYS
    return Host(root, proc_sys if kernel else None)


def require_privileges(host: Host, verb: str) -> None:
    if host.is_live_root and os.geteuid() != 0:
        raise TunerError(f"{verb} on / needs root: nothing was changed (try sudo)")


def warn_chroot(host: Host, plan: Plan | None = None) -> None:
    """Loudly, before any live write, when / looks like a chroot."""
    writes_kernel = plan is None or any(c.layer == "kernel" for c in plan.pending)
    warning = host.chroot_warning() if writes_kernel else None
    if warning:
        report.warning(warning.upper()[:1] + warning[1:])


def confirm(yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise TunerError("not a terminal, so not asking: pass --yes to apply without confirmation")
    import typer

    if not typer.confirm("Apply these changes?", default=False):
        raise TunerError("not applied: nothing was changed")
