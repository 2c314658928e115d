"""The one JSON envelope: every ``--json`` document and every saved plan says what wrote it and
which contract it follows (``format_version``; a change that breaks a reader bumps it)."""

from __future__ import annotations

from typing import Any

from tuner import __version__

FORMAT_VERSION = 1


def envelope(command: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` in the envelope."""
    return {"format_version": FORMAT_VERSION, "tuner_version": __version__, "command": command,
            **body}  # fmt: skip
