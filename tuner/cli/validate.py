"""tuner validate: every problem in every named profile, at once."""

from __future__ import annotations

from tuner.app.validate import validate as validate_profiles
from tuner.base.wording import plural
from tuner.cli import report
from tuner.cli.options import (
    HostOptions,
    JsonOpt,
    ProcSysOpt,
    ProfilesArg,
    RootOpt,
    StrictOpt,
    profile_ref,
    verb,
)

app = verb()


@app.command("validate")
def validate(
    profiles: ProfilesArg,
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> int:
    """Check profiles: every error at once, as FILE:LINE:COL: key: message."""
    where = HostOptions(root, proc_sys)
    refs = [profile_ref(p) for p in profiles]
    result = validate_profiles(refs, where.host(), where.library(), strict=strict)
    if json:
        report.emit_json("validate", result.to_json())
        return 0 if result.valid else 1
    report.diagnostics(result.found)
    counted = plural(len(refs), "profile")
    if not result.valid:
        report.out(f"{plural(result.errors, 'error')}, {plural(result.warnings, 'warning')} in "
                   f"{counted}")  # fmt: skip
        return 1
    warned = f", {plural(result.warnings, 'warning')}" if result.warnings else ""
    report.out(f"ok: {counted} valid{warned}")
    return 0
