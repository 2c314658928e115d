"""tuner plan: what apply would change, read-only."""

from __future__ import annotations

from pathlib import Path

from tuner.app import ops
from tuner.base import errors
from tuner.base.errors import ProfileError
from tuner.cli import report, views
from tuner.cli.common import make_host


def run(
    ref: str,
    root: Path | None,
    proc_sys: Path | None,
    strict: bool,
    as_json: bool,
    detailed_exitcode: bool,
    kernel: bool = True,
    *,
    full: bool = False,
    out: Path | None = None,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    try:
        result = ops.plan(ref, host, strict=strict)
    except ProfileError as exc:
        if not as_json:
            raise
        found = exc.diagnostics
        report.emit_json(
            "plan",
            {
                "profile": ref,
                "changes": [],
                "warnings": [d.to_json() for d in found if d.severity != "error"],
                "errors": [d.to_json() for d in found if d.severity == "error"],
            },
        )
        return errors.EXIT_ERROR
    apply_saved = None
    if out is not None and not result.errors:
        from tuner.state import savedplan

        basis = savedplan.basis_of(result, ref, host)
        savedplan.save(out, result, basis, ops.summary_of(result))
        apply_saved = savedplan.apply_command(out, basis)
    if as_json:
        report.emit_json("plan", result.to_json())
    else:
        views.plan(result, full=full, ref=None if out else ref)
        if out is not None and not result.errors:
            report.out(f"Saved to {out}. Nothing was changed. To apply exactly this plan: "
                       f"{apply_saved}")  # fmt: skip
    if result.errors:
        return errors.EXIT_ERROR
    if detailed_exitcode and result.has_changes:
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
