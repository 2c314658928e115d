"""A located message about a profile: ``FILE:LINE:COL: key: message``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Location:
    file: str  # a library's profile: its file name; any other file: its path as messages say it
    line: int  # 1-based
    col: int  # 1-based
    origin: str | None = None  # the library a profile was found in: "site" or "bundled"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        return f"{where} ({self.origin})" if self.origin else where


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    location: Location | None = None
    key: str | None = None
    rule: str | None = None
    # why, when it is the same for every finding of the rule (the machine's cap on nofile):
    # said once under them, not on every line
    detail: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.key:
            parts.append(self.key)
        prefix = ": ".join(parts)
        label = "" if self.severity == "error" else f"{self.severity}: "
        rule = f" [{self.rule}]" if self.rule else ""  # the id a profile can acknowledge
        text = f"{label}{self.message}{rule}"
        return f"{prefix}: {text}" if prefix else text

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "severity": self.severity,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "col": loc.col if loc else None,
            "key": self.key,
            "origin": loc.origin if loc else None,
            "rule": self.rule,
            "message": self.message,
            "detail": self.detail,
        }


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def sorted_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    def order(d: Diagnostic) -> tuple[str, int, int, str]:
        loc = d.location
        return (loc.file, loc.line, loc.col, d.message) if loc else ("", 0, 0, d.message)

    return sorted(diagnostics, key=order)
