"""tuner import: write a profile from a host or image root, a single file, or a tuned profile."""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated

import typer

from tuner.app import importing
from tuner.cli import report
from tuner.cli.options import HostOptions, JsonOpt, ProcSysOpt, QuietOpt, RootOpt, verb

app = verb()


class Format(enum.StrEnum):
    sysctl = "sysctl"
    limits = "limits"


@app.command("import")
def import_(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[FILE] NAME",
            help="NAME: the profile to write. With a FILE (a sysctl.conf, sysctl.d or "
            "limits.conf file) before it, that file is imported; without, the root's boot and "
            "login configuration (or --tuned).",
            show_default=False,
        ),
    ] = None,
    *,
    root: RootOpt = None,
    proc_sys: ProcSysOpt = None,
    tuned: Annotated[
        str | None,
        typer.Option(
            "--tuned",
            metavar="NAME|DIR",
            help="Import a tuned profile: a name (ROOT/etc/tuned, then ROOT/usr/lib/tuned) or "
            "a directory holding tuned.conf.",
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also import live values that differ from the kernel default and that no file "
            "sets (marked 'live only: not persisted').",
        ),
    ] = False,
    fmt: Annotated[
        Format | None,
        typer.Option("--format", help="The FILE's format, when its content does not say."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the profile here ('-': print it) instead of ROOT/etc/tuner/profiles/"
            "NAME.yaml.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a profile that already exists.")
    ] = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Write a profile from what a host already has: its sysctl.d, sysctl.conf, limits.conf,
    limits.d and systemd Limit*= files; one such file; or a tuned profile."""
    given = list(sources or [])
    if len(given) > 2:
        raise typer.BadParameter("tuner import takes at most two arguments: [FILE] NAME")
    file: Path | None = None
    if len(given) == 2 or (len(given) == 1 and tuned is None and _is_file(given[0])):
        file = Path(given.pop(0))
    if file is not None and tuned is not None:
        raise typer.BadParameter("import either a FILE or --tuned, not both")
    if fmt is not None and file is None:
        raise typer.BadParameter("--format is for a FILE")
    if live and (file is not None or tuned is not None):
        raise typer.BadParameter("--live is for an import from the root")
    name = given[0] if given else _default_name(file, tuned)
    where = HostOptions(root, proc_sys, kernel=live)
    host = where.host()
    if file is not None:
        draft = importing.from_file(file, fmt.value if fmt else None)
    elif tuned is not None:
        draft = importing.from_tuned(tuned, host)
    else:
        draft = importing.from_root(host, live=live)
    result = importing.write(draft, name, host, where.library(), out, force=force)
    if json:
        report.emit_json("import", result.to_json())
        return 0
    if result.written is None:
        report.raw(result.text)
        return 0
    counts = result.counts
    report.out(
        f"imported {counts['sysctl']} sysctl keys, {counts['limits']} login limits and "
        f"{counts['services']} service limits -> {result.written}"
    )
    if result.left_out:
        report.out(f"left out ({len(result.left_out)}; also listed at the top of the profile):")
        for line in result.left_out:
            report.out(f"  {line}")
    if result.acknowledged:
        report.out("acknowledged for review (rules that find fault with what the host runs):")
        for line in result.acknowledged:
            report.out(f"  {line}")
    report.out(f"next: tuner plan {name}{' --root ' + str(root) if root else ''}")
    return 0


def _is_file(text: str) -> bool:
    """A FILE rather than a NAME: a path (it has a '/') or a file here by that name."""
    return "/" in text or Path(text).is_file()


def _default_name(file: Path | None, tuned: str | None) -> str:
    if tuned is not None:
        return "tuned-" + re.sub(r"[^A-Za-z0-9._-]", "-", Path(tuned).name)
    if file is not None:
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", file.name.rsplit(".", 1)[0]).lstrip("._-")
        return stem or "imported"
    raise typer.BadParameter("name the profile to write: tuner import NAME")
