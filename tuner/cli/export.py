"""tuner export cloud-init: a #cloud-config document for first boot."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from tuner.app import export as exporting
from tuner.cli import report
from tuner.cli.group import TunerGroup
from tuner.cli.options import (
    HostOptions,
    JsonOpt,
    ProfileArg,
    QuietOpt,
    RootOpt,
    profile_ref,
    verb,
)

app = verb(cls=TunerGroup, no_args_is_help=True, help="Export a profile.")


@app.callback()
def _export() -> None:
    """Export a profile."""


class Mode(enum.StrEnum):
    files = "files"
    apply = "apply"


@app.command("cloud-init")
def cloud_init(
    profile: ProfileArg,
    *,
    mode: Annotated[
        Mode, typer.Option("--mode", help="files: write and apply the files; apply: run tuner.")
    ] = Mode.files,
    root: RootOpt = None,
    pip_spec: Annotated[
        str | None,
        typer.Option(
            "--pip-spec",
            metavar="SPEC",
            help="apply mode: what pip installs on the instance (a wheel URL, path or "
            "requirement on your index); required there.",
        ),
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Print a #cloud-config document that applies PROFILE at first boot."""
    where = HostOptions(root, None, kernel=False)
    text = exporting.cloud_init(
        profile_ref(profile), where.host(), where.library(), mode=mode.value, pip_spec=pip_spec
    )
    if json:
        report.emit_json("export", {"format": "cloud-init", "profile": profile,
                                    "mode": mode.value, "document": text})  # fmt: skip
    else:
        report.raw(text)
    return 0
