"""What a profile argument names, decided once where it is read (the command line): a profile by
name (site, then bundled), a profile file (anything with a ``/`` or a .yaml/.yml ending), or a
plan saved by ``tuner plan --out`` (a ``.json`` file, or a JSON document that says it is one; a
flow-style YAML profile ``{name: ...}`` is not)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tuner.base.errors import HostError
from tuner.machine.rootfs import read_path

SUFFIXES = (".yaml", ".yml")
SAVED_PLAN = "tuner saved plan"  # a saved plan's "saved" field
MAX_PLAN_BYTES = 16 * 1024 * 1024


def looks_like_path(text: str) -> bool:
    return "/" in text or text.endswith(SUFFIXES)


@dataclass(frozen=True)
class ProfileRef:
    text: str
    kind: Literal["name", "path", "plan"]

    @classmethod
    def parse(cls, text: str, *, plans: bool = False) -> ProfileRef:
        """``text`` classified; a saved plan only where one is accepted (``plans``: apply)."""
        if plans and _saved_plan(text):
            return cls(text, "plan")
        return cls(text, "path" if looks_like_path(text) else "name")

    @property
    def path(self) -> Path | None:
        return None if self.kind == "name" else Path(self.text)

    @classmethod
    def name(cls, text: str) -> ProfileRef:
        """A profile named in ``extends`` (always a name)."""
        return cls(text, "name")

    def __str__(self) -> str:
        return self.text


def _saved_plan(text: str) -> bool:
    if text.endswith(".json"):
        return True
    try:
        head = read_path(Path(text), MAX_PLAN_BYTES)
    except (OSError, HostError):
        return False
    if not head.lstrip().startswith(b"{"):
        return False
    try:
        document = json.loads(head)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and document.get("saved") == SAVED_PLAN
