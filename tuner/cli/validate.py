"""tuner validate: every problem in every named profile, at once."""

from __future__ import annotations

from pathlib import Path

from tuner.app.ops import load_checked
from tuner.base.diagnostics import Diagnostic, has_errors
from tuner.base.errors import ProfileError
from tuner.cli import report
from tuner.cli.common import make_host
from tuner.machine.live import LiveKernel


def run(
    refs: list[str], root: Path | None, proc_sys: Path | None, strict: bool, as_json: bool
) -> int:
    host = make_host(root, proc_sys)
    live = LiveKernel(host)
    found: list[Diagnostic] = []
    results = []
    for ref in refs:
        try:
            _profile, diagnostics = load_checked(ref, host, strict=strict, live=live)
        except ProfileError as exc:
            diagnostics = exc.diagnostics
        fresh = [d for d in diagnostics if d not in found]
        found += fresh
        results.append({"profile": ref, "valid": not has_errors(diagnostics)})
    failed = has_errors(found)
    if as_json:
        report.emit_json(
            "validate",
            {
                "valid": not failed,
                "profiles": results,
                "errors": [d.to_json() for d in found if d.severity == "error"],
                "warnings": [d.to_json() for d in found if d.severity != "error"],
            },
        )
        return 1 if failed else 0
    report.diagnostics(found)
    errors = sum(1 for d in found if d.severity == "error")
    warnings = len(found) - errors
    if failed:
        report.out(
            f"{report.plural(errors, 'error')}, {report.plural(warnings, 'warning')} in "
            f"{report.plural(len(refs), 'profile')}"
        )
        return 1
    report.out(
        f"ok: {report.plural(len(refs), 'profile')} valid"
        + (f", {report.plural(warnings, 'warning')}" if warnings else "")
    )
    return 0
