"""``tuner``: the root command, its ``--version``, and ``main`` (the console script).

Each verb is a module of this package, loaded only when it runs (``registry``); exceptions
become messages and exit codes in one place (``group``, which lists the exit codes).
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from tuner import __version__
from tuner.base.wording import did_you_mean
from tuner.cli import completer, registry, report
from tuner.cli.group import TunerGroup, pipe_closed
from tuner.cli.options import CONTEXT
from tuner.machine import signals


class RootGroup(TunerGroup):
    """tuner itself. Its commands are built when asked for, each from its own one-command Typer
    app through typer's public ``typer.main.get_command``: typer inspects a command's signature
    (and builds pydantic adapters for it) only for the command being run, which would otherwise
    cost more than a plan."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(registry.COMMANDS))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in registry.COMMANDS:
            guess = did_you_mean(name, registry.COMMANDS)
            ctx.fail(f"no command {name!r}" + (f" (did you mean {guess}?)" if guess else ""))
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, name: str) -> Any:
        built = super().get_command(ctx, name)
        if built is None and name in registry.COMMANDS:
            built = typer.main.get_command(registry.command(name))
            built.name = name
            self.add_command(built, name)
        return built


app = typer.Typer(
    cls=RootGroup,
    add_completion=False,
    invoke_without_command=True,
    context_settings=CONTEXT,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Kernel tuning as code: plan, apply and roll back sysctls and resource limits.",
)


def _version(value: bool) -> None:  # noqa: FBT001 - typer calls it with the value
    if value:
        typer.echo(f"tuner {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    *,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Kernel tuning as code."""
    if ctx.invoked_subcommand is None:  # bare `tuner`: the help, and success
        typer.echo(ctx.get_help())
        raise typer.Exit()


def main(argv: Sequence[str] | None = None) -> int:
    signals.install()
    # One short run that builds a few hundred thousand objects at most and frees them at exit:
    # the collector's young-generation passes over a large profile cost more than the parsing
    # (measured: half of a 10,000-line profile's build). Cycles are still collected, rarely.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get(completer.VARIABLE):  # a shell asking for completions: never a command
        return completer.answer(os.environ)
    try:
        command = typer.main.get_command(app)
    except signals.Interrupted as exc:  # before the group's handler: nothing was done yet
        signals.ignore()
        report.error(f"interrupted by {exc.name}")
        return exc.exit_code
    code: int = command.main(args, prog_name="tuner", standalone_mode=False)
    signals.ignore()  # the run has ended, and how is decided: a late signal changes nothing
    try:
        sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe cannot be caught
    except BrokenPipeError:
        return pipe_closed()
    return code
