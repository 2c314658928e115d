"""The completion table (``tuner/data/completion.json``) built from the real commands: each
command's options and arguments, what each value is (told by its metavar, the contract of the
help), and the catalog keys and rule ids ``explain`` takes. ``tests/test_completion.py`` holds
the shipped file to it; after changing a command, rewrite it:

    .venv/bin/python tests/completion_table.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import typer

from tuner.cli import registry, usage
from tuner.cli.completer import TABLE
from tuner.cli.main import app
from tuner.knowledge import catalog, rules

KINDS = {  # what a value is, by the name the help gives it
    "PROFILE": "profile", "PROFILE...": "profile", "PROFILE|PLAN": "profile",
    "KEY|RULE-ID": "subject", "NAME|DIR": "tuned",
}  # fmt: skip


def _help(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _kind(param: Any) -> Any:
    choices = usage.choices_of(param)
    if choices:
        return choices
    return KINDS.get(usage.metavar(param), "other")


def _command(command: Any, ctx: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"help": command.get_short_help_str(limit=45), "options": {}}
    arguments = []
    for number, param in enumerate(command.get_params(ctx)):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            arguments.append({"value": _kind(param), "many": param.nargs != 1})
            continue
        takes = None if (param.is_flag or param.count) else _kind(param)
        for name in [*param.opts, *param.secondary_opts]:
            node["options"][name] = {"id": number, "help": _help(param.help), "value": takes}
    if arguments:
        node["arguments"] = arguments
    subcommands = getattr(command, "list_commands", None)
    if subcommands is not None:
        node["commands"] = {}
        for name in subcommands(ctx):
            sub = command.get_command(ctx, name)
            settings = sub.context_settings
            node["commands"][name] = _command(
                sub, typer.Context(sub, info_name=name, parent=ctx, **settings)
            )
    return node


def build() -> dict[str, Any]:
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="tuner", **root.context_settings)
    table = _command(root, ctx)
    assert set(table["commands"]) == set(registry.COMMANDS)
    table["subjects"] = sorted(catalog.entries()) + sorted(
        r.id for r in (*rules.RULES, *rules.HOST_FINDINGS)
    )
    return table


def text() -> str:
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    Path(TABLE).write_text(text())
    print(f"wrote {TABLE}", file=sys.stderr)
