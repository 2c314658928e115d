"""Where exceptions become messages and exit codes (the only place).

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

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from tuner.base import errors
from tuner.cli import report, usage
from tuner.machine import signals

_CLICK_USAGE = 2  # the exit code click gives usage errors; tuner maps it to 64


class TunerGroup(TyperGroup):
    """The one place where exceptions become messages and exit codes."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,  # noqa: FBT001, FBT002 - click.Command.main's signature
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Sequence[str] | None, prog_name: str | None, complete_var: str | None,
             **extra: Any) -> int:  # fmt: skip
        report.reset()
        signals.forget()
        try:
            name = prog_name or "tuner"
            result = super().main(args, name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # typer's (vendored click) usage and parameter errors
            usage_error(exc)
            return errors.EXIT_USAGE if exc.exit_code == _CLICK_USAGE else errors.EXIT_ERROR
        except report.PipeClosed:
            return pipe_closed()
        except signals.Interrupted as exc:
            signals.ignore()  # the run is ending: a second signal cannot cut this report short
            said = f": {exc.outcome}" if exc.outcome else ""
            report.error(f"interrupted by {exc.name}{said}")
            return exc.exit_code
        except typer.Abort:
            signals.ignore()
            report.error("interrupted")
            return errors.EXIT_INTERRUPTED
        except errors.Declined as exc:  # the person said no: what they asked for, not an error
            report.out(str(exc))
            return errors.EXIT_OK
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
            signum = signals.raised()
            if signum is not None:  # a library wrapped the signal's Interrupted in its own error
                signals.ignore()
                interrupted = signals.Interrupted(signum)
                report.error(f"interrupted by {interrupted.name}")
                return interrupted.exit_code
            report.error(f"internal error: {type(exc).__name__}: {exc}")
            if os.environ.get("TUNER_DEBUG"):
                traceback.print_exc()
            else:
                report.error("set TUNER_DEBUG=1 for the traceback, and please report it")
            return errors.EXIT_INTERNAL
        return int(result or 0)


def usage_error(exc: typer.TyperException) -> None:
    """The usage line, what is wrong in tuner's words, and where the help is."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # a group asked for nothing
        report.write(ctx.get_help(), sys.stderr)
        return
    if ctx is not None:
        report.write(ctx.get_usage(), sys.stderr)
    report.error(usage.message(exc))
    if ctx is not None:
        report.write(f"See '{ctx.command_path} -h' for help.", sys.stderr)


def pipe_closed() -> int:
    """Point stdout at /dev/null so that nothing, not even the final flush, writes again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to redirect
        pass
    return errors.EXIT_PIPE
