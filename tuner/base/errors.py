"""The exceptions tuner raises, and the exit code each one means.

    TunerError                 exit 1: anything the user can act on
     ├── ProfileError          a profile (or several) failed validation: carries every Diagnostic
     ├── NotFoundError         a profile, rule or key that does not exist
     ├── HostError             the host could not be read or written (permissions, a full disk)
     │    └── Unreadable       a file or key that exists but cannot be read
     └── Declined              exit 0: the person said no at the prompt, so nothing was changed

Only ``tuner.cli.main`` turns these into exit codes and messages; nothing else calls ``sys.exit``.
Any other exception is a bug in tuner (exit 3).
"""

from __future__ import annotations

from tuner.base.diagnostics import Diagnostic

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2  # --detailed-exitcode: changes pending / drift
EXIT_INTERNAL = 3
EXIT_USAGE = 64  # a command-line usage error (sysexits.h EX_USAGE), never 2
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # 128 + SIGPIPE: stdout's reader went away


class TunerError(Exception):
    """An error the user can act on; its message is printed without a traceback."""


class ProfileError(TunerError):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity == "error"]
        count = len(errors)
        super().__init__(f"{count} error{'' if count == 1 else 's'} in the profile")


class NotFoundError(TunerError):
    pass


class HostError(TunerError):
    pass


class Unreadable(HostError):
    """A sysctl or file that exists but cannot be read."""


class Declined(TunerError):
    """The person answered no: not an error (exit 0), and nothing was changed."""
