"""tuner schema: the JSON Schema of a profile file."""

from __future__ import annotations

from json import dumps

from tuner.app.schema import profile_schema
from tuner.cli import report
from tuner.cli.options import JsonOpt, QuietOpt, verb

app = verb()


@app.command("schema")
def schema(*, json: JsonOpt = False, quiet: QuietOpt = False) -> int:
    """Print the JSON Schema of a profile file (draft 2020-12), for editor completion and checks.
    The same file ships as tuner/data/profile.schema.json. --json: in tuner's JSON envelope."""
    if json:
        report.emit_json("schema", {"schema": profile_schema()})
    else:
        report.raw(dumps(profile_schema(), indent=2) + "\n")
    return 0
