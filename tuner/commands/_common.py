"""What the commands share: building the host, and loading a profile with every check."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tuner import report, rules
from tuner.cache import resolve_cached
from tuner.diagnostics import Diagnostic, has_errors
from tuner.errors import ProfileError, TunerError
from tuner.host import Host
from tuner.library import ProfileLibrary
from tuner.live import LiveKernel
from tuner.resolve import Profile, resolve

if TYPE_CHECKING:
    from tuner.journal import Journal
    from tuner.plan import Plan

REAL_PROC_SYS = Path("/proc/sys")


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


def load_checked(
    ref: str,
    host: Host,
    *,
    strict: bool = False,
    live: LiveKernel | None = None,
    rule_errors_fail: bool = True,
) -> tuple[Profile, list[Diagnostic]]:
    """Resolve ``ref`` and run every rule; raise ProfileError with all diagnostics on an error
    (only on errors in the profile files themselves when ``rule_errors_fail`` is False).

    Everything is reported at once: when a file has errors, the rules still run on the part
    of the profile that is valid. ``strict`` makes every warning an error."""
    library = ProfileLibrary.for_root(host.root)
    profile, diagnostics = resolve_cached(ref, library)
    checked = profile
    if profile is None:
        checked, diagnostics = resolve(ref, library, partial=True)
    if checked is not None:
        ctx = rules.Context(checked, live or LiveKernel(host), strict)
        diagnostics = diagnostics + rules.check(ctx)
    if strict:
        diagnostics = [_strict(d) for d in diagnostics]
    if profile is None or (rule_errors_fail and has_errors(diagnostics)):
        raise ProfileError(diagnostics)
    return profile, diagnostics


def _strict(diagnostic: Diagnostic) -> Diagnostic:
    if diagnostic.severity == "error":
        return diagnostic
    message = f"{diagnostic.message} (an error with --strict)"
    return dataclasses.replace(diagnostic, severity="error", message=message)


def incomplete_warnings(host: Host) -> list[Diagnostic]:
    """A warning for each generation a killed run left unfinished."""
    from tuner.journal import Journal, incomplete_message

    return [
        Diagnostic("warning", incomplete_message(g), None, None, "incomplete-generation")
        for g in Journal(host).unsettled()
    ]


def refuse_incomplete(journal: Journal, *, locked: bool = False) -> None:
    """Apply refuses while a generation is unsettled (``locked``: the caller holds the lock)."""
    from tuner.journal import incomplete_message

    pending = journal.unsettled(ignore_lock=locked)
    if pending:
        raise TunerError(incomplete_message(pending[-1]) + " apply refuses until then.")


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
