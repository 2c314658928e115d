"""What the verbs share on the command line: the options every verb spells the same way, the
host and profile library they describe (``HostOptions``), completion, and the one-command app
each verb module declares (``verb``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from tuner.base.errors import TunerError
from tuner.cli import profiles, report
from tuner.cli.usage import TunerCommand
from tuner.machine.host import Host
from tuner.machine.kernel import REAL_PROC_SYS
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef

CONTEXT = {"help_option_names": ["-h", "--help"]}


class Verbs(typer.Typer):
    """A Typer app whose commands are ``TunerCommand``s: help and errors in tuner's words."""

    def command(self, name: str | None = None, *, cls: Any = None, **settings: Any) -> Any:
        return super().command(name, cls=cls or TunerCommand, **settings)


def verb(**settings: Any) -> typer.Typer:
    """The one-command app a verb module declares its command on (built only when it runs);
    ``settings`` make it a group of subcommands (``export``)."""
    return Verbs(
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings=CONTEXT,
        **settings,
    )


@dataclass(frozen=True)
class HostOptions:
    """``--root``, ``--proc-sys`` and ``--no-kernel``: where tuner reads and writes."""

    root: Path | None = None
    proc_sys: Path | None = None
    kernel: bool = True
    wait_lock: float = 0.0  # --wait-lock: how long apply, rollback and prune wait for the lock

    def host(self) -> Host:
        """A root other than / never reads the running kernel unless ``--proc-sys`` names a tree
        explicitly; ``--no-kernel`` never reads one."""
        root = self.root or Path("/")
        if not root.is_dir():
            raise TunerError(f"--root {root}: not a directory")
        proc_sys = self.proc_sys
        if proc_sys is not None and not proc_sys.is_dir():
            raise TunerError(f"--proc-sys {proc_sys}: not a directory")
        if proc_sys is None and root.resolve() == Path("/"):
            proc_sys = REAL_PROC_SYS
        return Host(root, proc_sys if self.kernel else None, lock_wait=self.wait_lock)

    def library(self) -> ProfileLibrary:
        """The profiles found by name: the root's site profiles, then the bundled ones."""
        return profiles.for_root(self.root or Path("/"))


def profile_ref(text: str) -> ProfileRef:
    return ProfileRef.parse(text)


ProfileArg = Annotated[
    str,
    typer.Argument(
        metavar="PROFILE",
        help="A profile name (site, then bundled) or a path to a .yaml file.",
        show_default=False,
    ),
]
ProfilesArg = Annotated[
    list[str],
    typer.Argument(
        metavar="PROFILE...",
        help="Profile names or .yaml files.",
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
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


WaitLockOpt = Annotated[
    float,
    typer.Option(
        "--wait-lock",
        metavar="SECONDS",
        min=0,
        help="When another tuner run holds the lock, wait up to SECONDS for it (default: refuse "
        "at once).",
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        callback=report.be_quiet,
        help="Print nothing on stdout but a --json document; errors and warnings still go to "
        "stderr, and the exit code says how it went.",
    ),
]
RestartOpt = Annotated[
    bool,
    typer.Option(
        "--restart-services",
        help="After daemon-reload, try-restart the units whose limits changed.",
    ),
]
