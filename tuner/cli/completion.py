"""tuner completion SHELL: the script that makes a shell complete tuner's commands, options,
profile names and catalog keys (typer's scripts; the shell calls tuner back with
``_TUNER_COMPLETE`` set, and ``cli/completer`` answers)."""

from __future__ import annotations

import enum
from typing import Annotated

import typer
from typer.completion import get_completion_script  # type: ignore[attr-defined]

from tuner.cli import report
from tuner.cli.completer import VARIABLE
from tuner.cli.options import JsonOpt, QuietOpt, verb

app = verb()


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completion")
def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
    *,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Print the shell completion script: commands, options, profile names and catalog keys.
    bash: source <(tuner completion bash); zsh and fish: see docs/profiles.md."""
    script = get_completion_script(prog_name="tuner", complete_var=VARIABLE, shell=shell.value)
    script = script.rstrip("\n") + "\n"
    if json:
        report.emit_json("completion", {"shell": shell.value, "script": script})
    else:
        report.raw(script)
    return 0
