"""The lazy registry: the two things a command line must not load before it needs them.

- **Commands.** Each verb is a module of ``tuner.cli`` with a one-command Typer ``app``; only the
  verb being run is imported (typer inspects a signature, and the verb's imports load, only for
  the command that runs). ``COMMANDS`` is the whole list, in the order help shows them.
- **The profile parser.** A profile answered from the cache (``profile.cached``) needs neither
  YAML nor pydantic; ``resolve`` here stands in for ``profile.resolve.resolve`` and imports it on
  the first cache miss. The command line gives it to every ``ProfileLibrary`` it builds.

These are the only imports of tuner's own modules inside a function (``tests/test_architecture``
holds every other module to that).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from tuner.base.diagnostics import Diagnostic
    from tuner.profile.library import ProfileLibrary
    from tuner.profile.ref import ProfileRef
    from tuner.profile.resolved import Profile

COMMANDS = {
    "list": "listing", "show": "show", "validate": "validate", "plan": "plan",
    "capacity": "capacity", "explain": "explain", "vendor": "vendor", "export": "export",
    "apply": "apply", "rollback": "rollback", "history": "history", "status": "status",
    "doctor": "doctor", "schema": "schema", "completion": "completion",
}  # fmt: skip


def command(name: str) -> typer.Typer:
    """The Typer app of the verb ``name`` (a key of COMMANDS)."""
    app: typer.Typer = importlib.import_module(f"tuner.cli.{COMMANDS[name]}").app
    return app


def resolve(
    ref: ProfileRef, library: ProfileLibrary, *, partial: bool = False
) -> tuple[Profile | None, list[Diagnostic]]:
    """``profile.resolve.resolve``, loaded on first use."""
    from tuner.profile.resolve import resolve as parse_and_resolve

    return parse_and_resolve(ref, library, partial=partial)
