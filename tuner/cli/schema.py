"""tuner schema: the JSON Schema of a profile file."""

from __future__ import annotations

import json

from tuner.app.schema import profile_schema
from tuner.cli import report
from tuner.cli.options import verb

app = verb()


@app.command("schema")
def schema() -> int:
    """Print the JSON Schema of a profile file (draft 2020-12), for editor completion and checks.
    The same file ships as tuner/data/profile.schema.json."""
    report.raw(json.dumps(profile_schema(), indent=2) + "\n")
    return 0
