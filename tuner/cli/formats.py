"""--format text|json|prometheus and --textfile (status, doctor): what each asks for, and the one
place a result is printed in the format asked for."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from tuner.app import metrics
from tuner.cli import report


class Format(enum.StrEnum):
    text = "text"
    json = "json"
    prometheus = "prometheus"


FormatOpt = Annotated[
    Format | None,
    typer.Option(
        "--format",
        help="text (the default), json (as --json), or prometheus: the text exposition format "
        "for node_exporter's textfile collector.",
    ),
]
TextfileOpt = Annotated[
    Path | None,
    typer.Option(
        "--textfile",
        metavar="FILE.prom",
        help="Write the Prometheus metrics to this file, replaced whole (for node_exporter's "
        "textfile collector); implies --format prometheus, and prints nothing.",
    ),
]


def output_format(fmt: Format | None, *, json: bool, textfile: Path | None) -> Format:
    """What --format, --json and --textfile ask for together (one answer, or a usage error)."""
    if textfile is not None and fmt not in (None, Format.prometheus):
        raise typer.BadParameter("--textfile writes Prometheus metrics: not with --format "
                                 f"{fmt.value}")  # fmt: skip
    if json and fmt not in (None, Format.json):
        raise typer.BadParameter(f"--json and --format {fmt.value} ask for two formats")
    if textfile is not None:
        return Format.prometheus
    return Format.json if json else fmt or Format.text


def emit(
    shown: Format,
    command: str,
    body: Callable[[], dict[str, object]],
    families: Callable[[], list[metrics.Family]],
    textfile: Path | None,
    human: Callable[[], None],
) -> None:
    """A result in the format asked for: human text, JSON (its figures as ``metrics``), or
    Prometheus metrics, on stdout or into ``--textfile``."""
    if shown is Format.prometheus:
        text = metrics.exposition(families())
        if textfile is not None:
            metrics.write_textfile(textfile, text)
        else:
            report.raw(text)
    elif shown is Format.json:
        report.emit_json(command, body() | {"metrics": [f.to_json() for f in families()]})
    else:
        human()
