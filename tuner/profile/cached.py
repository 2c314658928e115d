"""Resolved profiles from the per-user cache (``machine.cache``): a repeated plan neither parses
YAML nor loads pydantic. An entry is keyed by the reference, the working directory and every
profile file resolution can read (``fingerprint``), and served only while each file it was read
from still has the content it had (its sha256)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tuner import __version__
from tuner.base.diagnostics import Diagnostic
from tuner.machine.cache import memo, stat_line
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import SUFFIXES, ProfileRef
from tuner.profile.resolved import Profile


def fingerprint(ref: ProfileRef, library: ProfileLibrary) -> str:
    folders = [d for _, d in library.search_dirs]
    digest = hashlib.sha256(f"{__version__}\0{ref.kind}:{ref}\0{Path.cwd()}".encode())
    if ref.path is not None:
        path = ref.path.absolute()
        folders.insert(0, path.parent)
        digest.update(stat_line(path))
    for folder in folders:
        digest.update(f"\0dir {folder}\0".encode())
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(SUFFIXES))
        except OSError:
            continue
        for name in names:
            digest.update(stat_line(folder / name))
    return digest.hexdigest()


def resolve_cached(
    ref: ProfileRef, library: ProfileLibrary
) -> tuple[Profile | None, list[Diagnostic]]:
    """``resolve``, answered from the cache when nothing it depends on has changed."""
    profile, _checked, diagnostics = resolve_for_check(ref, library)
    return profile, diagnostics


def resolve_for_check(
    ref: ProfileRef, library: ProfileLibrary
) -> tuple[Profile | None, Profile | None, list[Diagnostic]]:
    """The profile (None when any file has an error), the profile to run the rules on (built
    from what is valid, when there are errors) and the diagnostics, from one resolution: a
    profile with errors is parsed once, not once for the verdict and again for the rules."""
    partial: list[Profile | None] = [None]

    def compute() -> tuple[Profile | None, list[Diagnostic]]:
        found, diagnostics = library.resolve(ref, partial=True)
        if any(d.severity == "error" for d in diagnostics):
            partial[0] = found
            return None, diagnostics
        return found, diagnostics

    def keep(result: tuple[Profile | None, list[Diagnostic]]) -> bool:
        return result[0] is not None and not any(d.severity == "error" for d in result[1])

    def fresh(result: tuple[Profile | None, list[Diagnostic]]) -> bool:
        profile = result[0]
        return profile is not None and all(
            hashlib.sha256(library.read(Path(path))).hexdigest() == digest
            for path, digest in profile.sources
        )

    shape = tuple[Profile | None, list[Diagnostic]]
    profile, diagnostics = memo("profile", fingerprint(ref, library), compute, shape, keep, fresh)
    return profile, profile or partial[0], diagnostics
