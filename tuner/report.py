"""Everything tuner prints: human text (colour only on a terminal, never with NO_COLOR) and JSON."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterable
from typing import IO, Any

from tuner.diagnostics import Diagnostic, sorted_diagnostics

_CODES = {"add": "32", "change": "33", "remove": "31", "warn": "35", "dim": "2", "bold": "1"}


class Style:
    def __init__(self, stream: IO[str]) -> None:
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")

    def __call__(self, text: str, kind: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{_CODES[kind]}m{text}\x1b[0m"


def out(text: str = "", stream: IO[str] | None = None) -> None:
    print(text, file=stream or sys.stdout)


def error(message: str) -> None:
    style = Style(sys.stderr)
    print(f"{style('tuner: error:', 'remove')} {message}", file=sys.stderr)


def warning(message: str) -> None:
    style = Style(sys.stderr)
    print(f"{style('tuner: warning:', 'warn')} {message}", file=sys.stderr)


def emit_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def diagnostics(found: Iterable[Diagnostic], stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    style = Style(stream)
    for diagnostic in sorted_diagnostics(list(found)):
        kind = "remove" if diagnostic.severity == "error" else "warn"
        text = str(diagnostic)
        if diagnostic.location is None and diagnostic.key is None:  # not about a file: say who
            text = f"tuner: {text}" if diagnostic.severity != "error" else f"tuner: error: {text}"
        print(style(text, kind), file=stream)


def wrap(text: str, indent: str, width: int = 100) -> str:
    return textwrap.fill(
        " ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=indent
    )


def table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append((indent + "  ".join([*cells, row[-1]])).rstrip())
    return lines
