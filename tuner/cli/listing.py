"""tuner list: the profiles tuner can find, site profiles first, then the bundled ones."""

from __future__ import annotations

from pathlib import Path

from tuner.cli import report
from tuner.profile.document import load_profile
from tuner.profile.library import ProfileLibrary


def run(root: Path | None, as_json: bool) -> int:
    library = ProfileLibrary.for_root(root or Path("/"))
    entries = library.entries()
    rows = []
    for entry in entries:
        source, _problems = load_profile(entry.path, library.read)
        description = source.model.description if source.model else "(invalid: run tuner validate)"
        rows.append((entry, description))
    if as_json:
        report.emit_json(
            "list",
            {
                "profiles": [
                    {
                        "name": e.name,
                        "origin": e.origin,
                        "path": str(e.path),
                        "shadows_bundled": e.shadows_bundled,
                        "description": d,
                    }
                    for e, d in rows
                ]
            },
        )
        return 0
    if not rows:
        report.out("no profiles found")
        return 0
    table = [["NAME", "FROM", "DESCRIPTION"]]
    for entry, description in rows:
        origin = entry.origin + (" (hides bundled)" if entry.shadows_bundled else "")
        table.append([entry.name, origin, description])
    for line in report.table(table, indent=""):
        report.out(line)
    return 0
