"""tuner list: the profiles tuner can find, site profiles first, then the bundled ones."""

from __future__ import annotations

from tuner.app.listing import listing
from tuner.cli import report
from tuner.cli.options import HostOptions, JsonOpt, QuietOpt, RootOpt, verb

app = verb()


@app.command("list")
def list_(*, root: RootOpt = None, json: JsonOpt = False, quiet: QuietOpt = False) -> int:
    """List the profiles tuner can find (site profiles first, then bundled ones)."""
    result = listing(HostOptions(root).library())
    if json:
        report.emit_json("list", result.to_json())
        return 0
    if not result.profiles:
        report.out("no profiles found")
        return 0
    table = [["NAME", "FROM", "DESCRIPTION"]]
    for listed in result.profiles:
        entry = listed.entry
        origin = entry.origin + (" (hides bundled)" if entry.shadows_bundled else "")
        described = (
            listed.description
            if listed.description is not None
            else "(invalid: run tuner validate)"
        )
        table.append([entry.name, origin, described])
    for line in report.table(table, indent=""):
        report.out(line)
    return 0
