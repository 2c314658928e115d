"""The command line: parse, dispatch to a command module, and map errors to exit codes.

Exit codes (documented in the README):
  0   success (plan/status with --detailed-exitcode: no changes)
  1   an error the user can act on: invalid profile, not found, host unreadable
  2   only with --detailed-exitcode: changes pending
  3   an internal error (a bug in tuner)
  64  command-line usage error (never 2, so a typo cannot read as "changes pending")
  130 interrupted (SIGINT, Ctrl-C); 143 SIGTERM; 129 SIGHUP: 128 + the signal, as a shell says
  141 the reader of stdout went away (``tuner plan | head``): 128 + SIGPIPE, as a shell reports
      a command that a closed pipe stopped; nothing more is printed
"""

from __future__ import annotations

import enum
import gc
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from tuner import __version__
from tuner.base import errors
from tuner.cli import report
from tuner.machine import signals

_CLICK_USAGE = 2  # the exit code click gives usage errors; tuner maps it to 64


class TunerGroup(TyperGroup):
    """The one place where exceptions become messages and exit codes."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Sequence[str] | None, prog_name: str | None, complete_var: str | None,
             **extra: Any) -> int:  # fmt: skip
        try:
            result = super().main(args, prog_name or "tuner", complete_var, False, **extra)
        except typer.TyperException as exc:  # typer's (vendored click) usage and parameter errors
            show = getattr(exc, "show", None)
            if show is not None:
                show()
            else:
                report.error(exc.format_message())
            return errors.EXIT_USAGE if exc.exit_code == _CLICK_USAGE else errors.EXIT_ERROR
        except report.PipeClosed:
            return _pipe_closed()
        except signals.Interrupted as exc:
            signals.ignore()  # the run is ending: a second signal cannot cut this report short
            said = f": {exc.outcome}" if exc.outcome else ""
            report.error(f"interrupted by {exc.name}{said}")
            return exc.exit_code
        except typer.Abort:
            signals.ignore()
            report.error("interrupted")
            return errors.EXIT_INTERRUPTED
        except errors.ProfileError as exc:
            report.diagnostics(exc.diagnostics, sys.stderr)
            return errors.EXIT_ERROR
        except errors.TunerError as exc:
            report.error(str(exc))
            return errors.EXIT_ERROR
        except KeyboardInterrupt:
            signals.ignore()
            report.error("interrupted")
            return errors.EXIT_INTERRUPTED
        except Exception as exc:  # a bug: say so, briefly, and where to look
            report.error(f"internal error: {type(exc).__name__}: {exc}")
            if os.environ.get("TUNER_DEBUG"):
                traceback.print_exc()
            else:
                report.error("set TUNER_DEBUG=1 for the traceback, and please report it")
            return errors.EXIT_INTERNAL
        return int(result or 0)


COMMANDS: dict[str, typer.Typer] = {}


class RootGroup(TunerGroup):
    """tuner itself. Its commands are built when asked for, each from its own one-command Typer
    app through typer's public ``typer.main.get_command``: typer inspects a command's signature
    (and builds pydantic adapters for it) only for the command being run, which would otherwise
    cost more than a plan."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: Any, name: str) -> Any:
        built = super().get_command(ctx, name)
        if built is None and name in COMMANDS:
            built = typer.main.get_command(COMMANDS[name])
            built.name = name
            self.add_command(built, name)
        return built


Command = TypeVar("Command", bound=Callable[..., int])
CONTEXT = {"help_option_names": ["-h", "--help"]}


def command(name: str) -> Callable[[Command], Command]:
    """Register a command as a one-command app, built only when it is run (see TunerGroup)."""

    def register(function: Command) -> Command:
        single = typer.Typer(
            add_completion=False,
            rich_markup_mode=None,
            pretty_exceptions_enable=False,
            context_settings=CONTEXT,
        )
        single.command(name)(function)
        COMMANDS[name] = single
        return function

    return register


app = typer.Typer(
    cls=RootGroup,
    add_completion=False,
    invoke_without_command=True,
    context_settings=CONTEXT,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Kernel tuning as code: plan, apply and roll back sysctls and resource limits.",
)


def complete_profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """Profile names for shell completion (site profiles of --root, then bundled ones)."""
    from tuner.profile.library import ProfileLibrary

    root = ctx.params.get("root") or Path("/")
    names = [e.name for e in ProfileLibrary.for_root(Path(root)).entries()]
    return [name for name in names if name.startswith(incomplete)]


def complete_subjects(incomplete: str) -> list[str]:
    """Catalog keys and rule ids for ``tuner explain``."""
    from tuner.knowledge import catalog, rules

    names = sorted(catalog.entries()) + sorted(rule.id for rule in rules.RULES)
    return [name for name in names if name.startswith(incomplete)]


ProfileArg = Annotated[
    str,
    typer.Argument(
        metavar="PROFILE",
        help="A profile name (site, then bundled) or a path to a .yaml file.",
        autocompletion=complete_profiles,
        show_default=False,
    ),
]
ProfilesArg = Annotated[
    list[str],
    typer.Argument(
        metavar="PROFILE...",
        help="Profile names or .yaml files.",
        autocompletion=complete_profiles,
        show_default=False,
    ),
]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        help="Filesystem whose /etc tuner reads and writes (default /). "
        "Any other root is an image: the running kernel is not read.",
    ),
]
ProcSysOpt = Annotated[
    Path | None,
    typer.Option(
        "--proc-sys", metavar="DIR", help="Use DIR as the kernel's /proc/sys, whatever the root."
    ),
]
NoKernelOpt = Annotated[
    bool,
    typer.Option(
        "--no-kernel",
        help="Never read or write the running kernel: files only, even with --root / "
        "(image builds inside a chroot, where /proc is the build host's).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON document.")]
DetailedOpt = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when there is nothing to report, 2 when there is (plan: changes pending; "
        "status: drift or an unfinished run; doctor: a warning), 1 on an error.",
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Treat every warning about the profile (its files and the rules) as an error.",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tuner {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Kernel tuning as code."""
    if ctx.invoked_subcommand is None:  # bare `tuner`: the help, and success
        typer.echo(ctx.get_help())
        raise typer.Exit()


@command("list")
def list_(root: RootOpt = None, json: JsonOpt = False) -> int:
    """List the profiles tuner can find (site profiles first, then bundled ones)."""
    from tuner.cli import listing

    return listing.run(root, json)


@command("show")
def show(profile: ProfileArg, root: RootOpt = None, json: JsonOpt = False) -> int:
    """Show a profile resolved after extends, with where each value comes from."""
    from tuner.cli import show as command

    return command.run(profile, root, json)


@command("validate")
def validate(
    profiles: ProfilesArg,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    json: JsonOpt = False,
) -> int:
    """Check profiles: every error at once, as FILE:LINE:COL: key: message."""
    from tuner.cli import validate as command

    return command.run(profiles, root, proc_sys, strict, json)


@command("plan")
def plan(
    profile: ProfileArg,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    no_kernel: NoKernelOpt = False,
    json: JsonOpt = False,
    detailed_exitcode: DetailedOpt = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Show every file diff, why each value, and the capacity "
            "arithmetic (the default is a compact plan).",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Save the plan, with what it was computed from, for `tuner apply FILE`.",
        ),
    ] = None,
) -> int:
    """Show what applying PROFILE would change: live values, files, and boot-time overrides."""
    from tuner.cli import plan as command

    return command.run(
        profile, root, proc_sys, strict, json, detailed_exitcode, not no_kernel, full=diff, out=out
    )


@command("capacity")
def capacity(
    profile: ProfileArg,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
) -> int:
    """How many connections PROFILE allows, with the arithmetic; exit 1 if its intent is unmet."""
    from tuner.cli import capacity as command

    return command.run(profile, root, proc_sys, json)


@command("explain")
def explain(
    subject: Annotated[
        str,
        typer.Argument(
            metavar="KEY|RULE-ID",
            help="A sysctl key from the catalog (net.core.somaxconn) or a rule id.",
            autocompletion=complete_subjects,
            show_default=False,
        ),
    ],
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
) -> int:
    """A key from the catalog or a rule, in plain words, with the live value and who sets it."""
    from tuner.cli import explain as command

    return command.run(subject, root, proc_sys, json)


@command("vendor")
def vendor(
    profiles: ProfilesArg,
    root: Annotated[
        Path,
        typer.Option("--root", help="The image (or host) root to vendor into: required."),
    ],
) -> int:
    """Write flattened profiles to ROOT/etc/tuner/profiles/ for offline apply and status."""
    from tuner.cli import vendor as command

    return command.run(profiles, root)


export_app = typer.Typer(
    cls=TunerGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Export a profile.",
)
COMMANDS["export"] = export_app


@export_app.callback()
def _export() -> None:
    """Export a profile."""


class Mode(enum.StrEnum):
    files = "files"
    apply = "apply"


@export_app.command("cloud-init")
def export_cloud_init(
    profile: ProfileArg,
    mode: Annotated[
        Mode, typer.Option("--mode", help="files: write and apply the files; apply: run tuner.")
    ] = Mode.files,
    root: RootOpt = None,
    pip_spec: Annotated[
        str | None,
        typer.Option(
            "--pip-spec",
            help="apply mode: what pip installs on the instance (a wheel URL, path or "
            "requirement on your index); required there.",
        ),
    ] = None,
) -> int:
    """Print a #cloud-config document that applies PROFILE at first boot."""
    from tuner.cli import export as command

    return command.cloud_init(profile, root, mode.value, pip_spec)


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
RestartOpt = Annotated[
    bool,
    typer.Option(
        "--restart-services",
        help="After daemon-reload, try-restart the units whose limits changed.",
    ),
]


@command("apply")
def apply(
    profile: ProfileArg,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    strict: StrictOpt = False,
    no_kernel: NoKernelOpt = False,
    yes: YesOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and change nothing.")
    ] = False,
    restart_services: RestartOpt = False,
    json: Annotated[
        bool,
        typer.Option("--json", help="Print a JSON document of what changed instead of the plan."),
    ] = False,
) -> int:
    """Apply PROFILE: show the plan, then change exactly that, all or nothing, journaled."""
    from tuner.cli.apply import run_apply

    return run_apply(
        profile,
        root,
        proc_sys,
        strict=strict,
        yes=yes,
        dry_run=dry_run,
        restart_services=restart_services,
        kernel=not no_kernel,
        as_json=json,
    )


@command("rollback")
def rollback(
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    to: Annotated[
        int | None, typer.Option("--to", help="The generation to undo (default: the latest).")
    ] = None,
    no_kernel: NoKernelOpt = False,
    yes: YesOpt = False,
    restart_services: RestartOpt = False,
    json: JsonOpt = False,
) -> int:
    """Restore the state from before a generation (files byte for byte, live values)."""
    from tuner.cli.rollback import run_rollback

    return run_rollback(
        root,
        proc_sys,
        to,
        yes,
        restart_services=restart_services,
        kernel=not no_kernel,
        as_json=json,
    )


@command("history")
def history(
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
    prune: Annotated[
        int | None,
        typer.Option(
            "--prune",
            metavar="KEEP",
            min=1,
            help="First delete all but the newest KEEP generations; the applied one, an "
            "unfinished one and everything after them always stay.",
        ),
    ] = None,
    quarantine: Annotated[
        str | None,
        typer.Option(
            "--quarantine",
            metavar="N",
            help="First move the damaged journal entry N (its number or file name) out of the "
            "journal, into /var/lib/tuner/quarantine, so apply and rollback can go on.",
        ),
    ] = None,
) -> int:
    """Every apply and rollback: when, which profile, what changed, and how it ended."""
    from tuner.cli import history as command

    return command.run(root, proc_sys, json, prune, quarantine)


@command("status")
def status(
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    no_kernel: NoKernelOpt = False,
    json: JsonOpt = False,
    detailed_exitcode: DetailedOpt = False,
) -> int:
    """Which profile is applied, and any drift since (exit 2 with --detailed-exitcode)."""
    from tuner.cli import status as command

    return command.run(root, proc_sys, json, detailed_exitcode, kernel=not no_kernel)


@command("doctor")
def doctor(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", metavar="PROFILE", help="Also say whether PROFILE would fix each finding."
        ),
    ] = None,
    proc_sys: ProcSysOpt = None,
    json: JsonOpt = False,
    top: Annotated[
        int,
        typer.Option("--top", min=1, metavar="N", help="Show the N worst tuples and processes."),
    ] = 5,
    detailed_exitcode: DetailedOpt = False,
) -> int:
    """Why connections fail on this host now: ports per tuple, TIME_WAIT, descriptors, listen
    queues, orphans, conntrack; each finding with the profile setting that fixes it."""
    from tuner.cli import doctor as command

    return command.run(profile, proc_sys, json, top, detailed_exitcode)


@command("schema")
def schema() -> int:
    """Print the JSON Schema of a profile file (draft 2020-12), for editor completion and checks.
    The same file ships as tuner/data/profile.schema.json."""
    import json

    from tuner.app.schema import profile_schema

    report.raw(json.dumps(profile_schema(), indent=2) + "\n")
    return 0


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@command("completion")
def completion(
    shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
) -> int:
    """Print the shell completion script: commands, options, profile names and catalog keys.
    bash: source <(tuner completion bash); zsh and fish: see the README."""
    from typer.completion import get_completion_script  # type: ignore[attr-defined]

    script = get_completion_script(prog_name="tuner", complete_var=COMPLETE_VAR, shell=shell.value)
    report.raw(script.rstrip("\n") + "\n")
    return 0


COMPLETE_VAR = "_TUNER_COMPLETE"


def _pipe_closed() -> int:
    """Point stdout at /dev/null so that nothing, not even the final flush, writes again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to redirect
        pass
    return errors.EXIT_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    signals.install()
    # One short run that builds a few hundred thousand objects at most and frees them at exit:
    # the collector's young-generation passes over a large profile cost more than the parsing
    # (measured: half of a 10,000-line profile's build). Cycles are still collected, rarely.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get(COMPLETE_VAR):  # a shell asking for completions: typer's shells answer
        from typer.completion import completion_init  # type: ignore[attr-defined]

        completion_init()
    command = typer.main.get_command(app)
    code: int = command.main(args, prog_name="tuner", standalone_mode=False)
    try:
        sys.stdout.flush()  # here, not at interpreter exit, where a closed pipe cannot be caught
    except BrokenPipeError:
        return _pipe_closed()
    return code
