"""A per-user cache: a repeated plan skips YAML parsing and validation.

``memo`` keeps any picklable result under a key that must cover everything the result depends
on. Two users: resolved profiles (``resolve_cached``), keyed by the tuner version, the reference,
the working directory (messages name files relative to it), and the name, size, mtime and inode of
every profile file in every folder resolution can read from: the reference's own folder and the
search folders; and the parsed key catalog, keyed by its file. Any change to any of them is a
different key, so an entry is never stale. Only profiles that resolved without errors are kept.

The cache lives in ``$XDG_CACHE_HOME/tuner`` (``~/.cache/tuner``), a directory that must belong
to the user and be private to them; otherwise nothing is cached. ``TUNER_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tuner import __version__
from tuner.diagnostics import Diagnostic
from tuner.library import ProfileLibrary, looks_like_path
from tuner.resolve import Profile, resolve

MAX_ENTRIES = 64
T = TypeVar("T")
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


def memo(
    kind: str,
    key: str,
    compute: Callable[[], T],
    valid: Callable[[object], bool],
    keep: Callable[[T], bool] = lambda _: True,
) -> T:
    """``compute()``, or what it returned before under ``key``; ``valid`` vets a loaded entry."""
    directory = cache_dir()
    if directory is None:
        return compute()
    entry = directory / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:40]}.pickle"
    with contextlib.suppress(Exception):  # a missing, truncated or foreign entry: compute anew
        loaded = pickle.loads(entry.read_bytes())
        if valid(loaded):
            return loaded  # type: ignore[no-any-return]
    result = compute()
    if keep(result):
        _store(directory, entry, pickle.dumps(result))
    return result


def file_key(*paths: Path) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in paths:
        digest.update(_stat_line(path))
    return digest.hexdigest()


def resolve_cached(ref: str, library: ProfileLibrary) -> tuple[Profile | None, list[Diagnostic]]:
    """``resolve``, answered from the cache when nothing it depends on has changed."""

    def valid(entry: object) -> bool:
        return isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], Profile)

    def keep(result: tuple[Profile | None, list[Diagnostic]]) -> bool:
        profile, diagnostics = result
        return profile is not None and not any(d.severity == "error" for d in diagnostics)

    return memo("profile", fingerprint(ref, library), lambda: resolve(ref, library), valid, keep)


def _store(directory: Path, entry: Path, data: bytes) -> None:
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temporary).replace(entry)
        entries = sorted(directory.glob("*.pickle"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        return
