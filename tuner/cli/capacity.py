"""tuner capacity: how many connections a profile really allows, with the arithmetic shown."""

from __future__ import annotations

from tuner.app.capacity import capacity as capacity_of
from tuner.base import errors
from tuner.cli import report, views
from tuner.cli.options import (
    HostOptions,
    JsonOpt,
    ProcSysOpt,
    ProfileArg,
    QuietOpt,
    RootOpt,
    profile_ref,
    verb,
)

app = verb()


@app.command("capacity")
def capacity(
    profile: ProfileArg,
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """How many connections PROFILE allows, with the arithmetic; exit 1 if its intent is unmet."""
    where = HostOptions(root, proc_sys)
    result = capacity_of(profile_ref(profile), where.host(), where.library())
    if json:
        report.emit_json("capacity", result.to_json())
    else:
        views.capacity(result)
    return errors.EXIT_OK if result.met else errors.EXIT_ERROR
