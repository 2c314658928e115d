"""tuner plan: what apply would change, read-only."""

from __future__ import annotations

from pathlib import Path

from tuner import errors, report, views
from tuner.commands._common import incomplete_warnings, load_checked, make_host
from tuner.diagnostics import Diagnostic
from tuner.errors import ProfileError
from tuner.live import LiveKernel
from tuner.plan import make_plan


def run(
    ref: str,
    root: Path | None,
    proc_sys: Path | None,
    strict: bool,
    as_json: bool,
    detailed_exitcode: bool,
    kernel: bool = True,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    live = LiveKernel(host)  # read once, for the rules and the plan
    try:
        profile, diagnostics = load_checked(ref, host, strict=strict, live=live)
    except ProfileError as exc:
        if not as_json:
            raise
        report.emit_json(
            "plan",
            {
                "profile": ref,
                "changes": [],
                "warnings": [d.to_json() for d in exc.diagnostics if d.severity != "error"],
                "errors": [d.to_json() for d in exc.diagnostics if d.severity == "error"],
            },
        )
        return errors.EXIT_ERROR
    found = diagnostics + incomplete_warnings(host)
    chroot = host.chroot_warning()
    if chroot:
        found.append(Diagnostic("warning", chroot, None, None, "chroot"))
    result = make_plan(profile, host, found, live)
    if as_json:
        report.emit_json("plan", result.to_json())
    else:
        views.plan(result)
    if result.errors:
        return errors.EXIT_ERROR
    if detailed_exitcode and result.has_changes:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
