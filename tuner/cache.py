"""A per-user cache of resolved profiles: a repeated plan skips YAML parsing and validation.

An entry is keyed by everything resolution depends on: the tuner version, the reference, the
working directory (messages name files relative to it), and the name, size, mtime and inode of
every profile file in every folder resolution can read from: the reference's own folder and the
search folders. Any change to any of them is a different key, so an entry is never stale.
Entries hold only profiles that resolved without errors.

The cache lives in ``$XDG_CACHE_HOME/tuner`` (``~/.cache/tuner``), a directory that must belong
to the user and be private to them; otherwise nothing is cached. ``TUNER_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from tuner import __version__
from tuner.diagnostics import Diagnostic
from tuner.library import ProfileLibrary, looks_like_path
from tuner.resolve import Profile, resolve

MAX_ENTRIES = 64
_SUFFIXES = (".yaml", ".yml")


def cache_dir() -> Path | None:
    if os.environ.get("TUNER_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    directory = Path(base) / "tuner"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return None
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        return None  # someone else could plant an entry: do not trust it
    return directory


def fingerprint(ref: str, library: ProfileLibrary) -> str:
    folders = [d for _, d in library.search_dirs]
    digest = hashlib.sha256(f"{__version__}\0{ref}\0{Path.cwd()}".encode())
    if looks_like_path(ref):
        path = Path(ref).absolute()
        folders.insert(0, path.parent)
        digest.update(_stat_line(path))
    for folder in folders:
        digest.update(f"\0dir {folder}\0".encode())
        try:
            names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(_SUFFIXES))
        except OSError:
            continue
        for name in names:
            digest.update(_stat_line(folder / name))
    return digest.hexdigest()


def _stat_line(path: Path) -> bytes:
    try:
        info = path.stat()
    except OSError:
        return f"{path} missing\0".encode()
    return f"{path} {info.st_size} {info.st_mtime_ns} {info.st_ino}\0".encode()


def resolve_cached(ref: str, library: ProfileLibrary) -> tuple[Profile | None, list[Diagnostic]]:
    """``resolve``, answered from the cache when nothing it depends on has changed."""
    directory = cache_dir()
    if directory is None:
        return resolve(ref, library)
    entry = directory / f"profile-{fingerprint(ref, library)[:40]}.pickle"
    with contextlib.suppress(Exception):  # a missing, truncated or foreign entry: resolve anew
        profile, diagnostics = pickle.loads(entry.read_bytes())
        if isinstance(profile, Profile) and isinstance(diagnostics, list):
            return profile, diagnostics
    profile, diagnostics = resolve(ref, library)
    if profile is not None and not any(d.severity == "error" for d in diagnostics):
        _store(directory, entry, pickle.dumps((profile, diagnostics)))
    return profile, diagnostics


def _store(directory: Path, entry: Path, data: bytes) -> None:
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temporary).replace(entry)
        entries = sorted(directory.glob("profile-*.pickle"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        return
