"""The lazy registry of commands: each verb is a module of ``tuner.cli`` with a one-command Typer
``app``, and only the verb being run is imported (typer inspects a signature, and the verb's
imports load, only for the command that runs). ``COMMANDS`` is the whole list.

With ``cli/profiles.py`` (the profile parser, loaded on the first cache miss), the only import of
tuner's own modules that waits for a function (``tests/test_architecture`` holds every other
module to that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

COMMANDS = {
    "list": "listing", "show": "show", "validate": "validate", "plan": "plan",
    "capacity": "capacity", "explain": "explain", "vendor": "vendor", "export": "export",
    "import": "importing",
    "apply": "apply", "rollback": "rollback", "history": "history", "status": "status",
    "doctor": "doctor", "schema": "schema", "completion": "completion",
}  # fmt: skip


def command(name: str) -> typer.Typer:
    """The Typer app of the verb ``name`` (a key of COMMANDS)."""
    app: typer.Typer = importlib.import_module(f"tuner.cli.{COMMANDS[name]}").app
    return app
