"""The profile library as the command line builds it: the root's site profiles, then the bundled
ones, resolved from the per-user cache when nothing changed. A cached profile needs neither YAML
nor pydantic, so the parser (``profile.resolve``) is imported on the first cache miss, here:
with the registry of commands, the only import of tuner's own modules that waits for a function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tuner.profile.library import ProfileLibrary

if TYPE_CHECKING:
    from tuner.base.diagnostics import Diagnostic
    from tuner.profile.ref import ProfileRef
    from tuner.profile.resolved import Profile


def for_root(root: Path) -> ProfileLibrary:
    return ProfileLibrary.for_root(root, resolve)


def resolve(
    ref: ProfileRef, library: ProfileLibrary, *, partial: bool = False
) -> tuple[Profile | None, list[Diagnostic]]:
    """``profile.resolve.resolve``, loaded on first use."""
    from tuner.profile.resolve import resolve as parse_and_resolve

    return parse_and_resolve(ref, library, partial=partial)
