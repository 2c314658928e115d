"""tuner vendor: flattened profiles into <root>/etc/tuner/profiles/ for offline use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tuner.app.vendor import vendor as vendor_profiles
from tuner.cli import report
from tuner.cli.options import HostOptions, JsonOpt, ProfilesArg, QuietOpt, profile_ref, verb

app = verb()


@app.command("vendor")
def vendor(
    profiles: ProfilesArg,
    *,
    root: Annotated[
        Path,
        typer.Option("--root", help="The image (or host) root to vendor into: required."),
    ],
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Write flattened profiles to ROOT/etc/tuner/profiles/ for offline apply and status."""
    where = HostOptions(root, None, kernel=False)  # vendoring never reads the running kernel
    result = vendor_profiles([profile_ref(p) for p in profiles], where.host(), where.library())
    if json:
        report.emit_json("vendor", result.to_json())
        return 0
    for file in result.files:
        report.out(f"vendored {file.name} -> {file.path} (sha256 {file.sha256[:12]}...)")
    return 0
