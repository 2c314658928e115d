"""Everything tuner prints: human text (colour only on a terminal, never with NO_COLOR) and JSON.

All of it goes through ``write``, which shows any control character, line separator or bidi
control as an escape (``\\x1b``, ``\\u202e``), whatever text it came from (a file on disk, a
live value, a key in an error): only tuner's own colour codes reach the terminal. A closed pipe
(``tuner plan | head``) raises ``PipeClosed``, which the CLI ends quietly with status 141.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from collections.abc import Iterable
from typing import IO, Any

from tuner.base.diagnostics import Diagnostic, sorted_diagnostics
from tuner.base.envelope import envelope
from tuner.base.safetext import escape
from tuner.base.wording import one_of

_CODES = {"add": "32", "change": "33", "remove": "31", "warn": "35", "dim": "2", "bold": "1"}
_OWN_CODES = re.compile(r"(\x1b\[(?:" + "|".join(_CODES.values()) + r"|0)m)")
# In JSON, control characters are already escaped; these are not, and would still reach a terminal.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class PipeClosed(Exception):
    """The reader of stdout went away (``| head``): stop printing, end quietly."""


def write(text: str, stream: IO[str] | None = None, *, styled: bool = False) -> None:
    """Print one line of text made safe for a terminal; ``styled`` keeps tuner's colour codes."""
    stream = stream or sys.stdout
    if styled:
        text = "".join(
            part if _OWN_CODES.fullmatch(part) else escape(part) for part in _OWN_CODES.split(text)
        )
    else:
        text = escape(text)
    try:
        print(text, file=stream)
    except BrokenPipeError:
        raise PipeClosed from None


class Style:
    def __init__(self, stream: IO[str]) -> None:
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")

    def __call__(self, text: str, kind: str) -> str:
        if not self.enabled or not text:
            return text
        return f"\x1b[{_CODES[kind]}m{text}\x1b[0m"


class _Settings:
    quiet = False  # --quiet: nothing on stdout but a --json document (one run per process)


_SETTINGS = _Settings()


def be_quiet(value: bool) -> bool:  # noqa: FBT001 - typer calls it with the option's value
    """``--quiet``'s callback: from now on, human text is not printed on stdout."""
    _SETTINGS.quiet = bool(value)
    return value


def reset() -> None:
    """A new run (the CLI's start): not quiet until --quiet says so."""
    _SETTINGS.quiet = False


def quiet() -> bool:
    return _SETTINGS.quiet


def out(text: str = "", stream: IO[str] | None = None) -> None:
    stream = stream or sys.stdout
    if _SETTINGS.quiet and stream is sys.stdout:
        return
    write(text, stream, styled=Style(stream).enabled)


def error(message: str) -> None:
    style = Style(sys.stderr)
    write(f"{style('tuner: error:', 'remove')} {escape(message)}", sys.stderr, styled=True)


def warning(message: str) -> None:
    style = Style(sys.stderr)
    write(f"{style('tuner: warning:', 'warn')} {escape(message)}", sys.stderr, styled=True)


def emit_json(command: str, body: dict[str, Any]) -> None:
    """Print ``body`` in the envelope, as JSON safe for a terminal."""
    text = json.dumps(envelope(command, body), indent=2, ensure_ascii=False)
    text = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    try:
        print(text)
    except BrokenPipeError:
        raise PipeClosed from None


def raw(text: str) -> None:
    """A document printed byte for byte (an export); it was built from checked values only."""
    if _SETTINGS.quiet:
        return
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        raise PipeClosed from None


def diagnostics(found: Iterable[Diagnostic], stream: IO[str] | None = None) -> None:
    """One line per finding, its rule id at the end; then, once per rule, the reason its
    findings share (the machine's cap, say) with the lines it covers."""
    stream = stream or sys.stdout
    if _SETTINGS.quiet and stream is sys.stdout:
        return
    style = Style(stream)
    ordered = sorted_diagnostics(list(found))
    for diagnostic in ordered:
        kind = "remove" if diagnostic.severity == "error" else "warn"
        text = str(diagnostic)
        if diagnostic.location is None and diagnostic.key is None:  # not about a file: say who
            text = f"tuner: {text}" if diagnostic.severity != "error" else f"tuner: error: {text}"
        write(style(escape(text, newlines=False), kind), stream, styled=True)
    for (rule, detail), covered in _shared_details(ordered).items():
        label = f"[{rule}]" if rule else "why"
        write(style(escape(f"  {label} {covered}: {detail}", newlines=False), "dim"), stream,
              styled=True)  # fmt: skip


def _shared_details(ordered: list[Diagnostic]) -> dict[tuple[str | None, str], str]:
    """Each (rule, detail) pair and where it applies: "lines 89, 98 and 104" within one file,
    ``FILE:LINE`` across files."""
    places: dict[tuple[str | None, str], list[Diagnostic]] = {}
    for diagnostic in ordered:
        if diagnostic.detail:
            places.setdefault((diagnostic.rule, diagnostic.detail), []).append(diagnostic)
    covered = {}
    for pair, group in places.items():
        located = [d.location for d in group if d.location is not None]
        files = {loc.file for loc in located}
        if not located:
            covered[pair] = "for all of the above"
        elif len(files) == 1:
            lines = [str(n) for n in dict.fromkeys(loc.line for loc in located)]
            covered[pair] = f"{'line' if len(lines) == 1 else 'lines'} {one_of(lines, 'and')}"
        else:
            covered[pair] = ", ".join(dict.fromkeys(f"{loc.file}:{loc.line}" for loc in located))
    return covered


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
