"""A per-user cache: a repeated plan skips YAML parsing and validation.

``memo`` keeps a result under a key that must cover everything the result depends on. Its users:
resolved profiles (``profile.cached``), keyed by the tuner version, the reference, the working
directory (messages name files relative to it), and the name, size, mtime, ctime, device and
inode of every profile file in every folder resolution can read from; a kept profile also records
the sha256 of every file it was read from, and is served only while each file still has that
content (a file rewritten in place with its size and mtime restored is parsed again); the
rendered files; and the parsed key catalog. Only profiles that resolved without errors are kept.

Entries are plain data (``plaindata``: JSON read back only into the expected dataclasses, every
field type-checked), never pickle: nothing in the cache can run code, whoever wrote it.

The cache lives in ``$XDG_CACHE_HOME/tuner`` (``~/.cache/tuner``). It is opened once as a
directory fd, without following a link, and trusted only when that fd's directory belongs to
the user and is private to them; entries are opened through the fd (no link, regular files of
the user's, at most 16 MiB). Whoever owns the parent cannot swap the directory under a check:
the check and every read are on the same fd. A cache that fails any check is ignored, never
trusted. ``TUNER_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tuner import __version__
from tuner.base import plaindata
from tuner.base.errors import TunerError

MAX_ENTRIES = 64
MAX_ENTRY_BYTES = 16 * 1024 * 1024
T = TypeVar("T")
_ENTRY = ".json"


@contextlib.contextmanager
def cache_dir() -> Iterator[int | None]:
    """The cache directory as an open fd, or None when there is none to trust."""
    fd = _open_dir()
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _open_dir() -> int | None:
    if os.environ.get("TUNER_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    directory = Path(base) / "tuner"
    try:
        Path(base).mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)
        return None  # someone else could plant or swap an entry: do not trust it
    return fd


def stat_line(path: Path) -> bytes:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return f"{path} missing\0".encode()
    return (f"{path} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns} {info.st_dev} "
            f"{info.st_ino}\0").encode()  # fmt: skip


def memo(
    kind: str,
    key: str,
    compute: Callable[[], T],
    shape: Any,
    keep: Callable[[T], bool] = lambda _: True,
    fresh: Callable[[T], bool] = lambda _: True,
) -> T:
    """``compute()``, or what it returned before under ``key``: read back as ``shape`` (any
    other content is ignored) and served only while ``fresh`` says it still holds."""
    with cache_dir() as directory:
        if directory is None:
            return compute()
        entry = f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:40]}{_ENTRY}"
        data = _load(directory, entry)
        if data is not None:
            try:
                loaded: T = plaindata.loads(data, shape)
                if fresh(loaded):
                    return loaded
            except (plaindata.Malformed, TypeError, ValueError, TunerError, OSError):
                pass  # a truncated, foreign or outdated entry: compute anew
        result = compute()
        if keep(result):
            _store(directory, entry, plaindata.dumps(result))
        return result


def _load(directory: int, name: str) -> bytes | None:
    """An entry's bytes: a regular file of this user's, opened through the directory fd
    without following a link; None for anything else."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=directory)  # fmt: skip
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_size > MAX_ENTRY_BYTES):  # fmt: skip
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def file_key(*paths: Path) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in paths:
        digest.update(stat_line(path))
    return digest.hexdigest()


def _store(directory: int, entry: str, data: bytes) -> None:
    temporary = f".tmp-{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temporary, flags, 0o600, dir_fd=directory)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(temporary, entry, src_dir_fd=directory, dst_dir_fd=directory)
        entries = []
        for name in os.listdir(directory):
            if name.endswith(_ENTRY):
                with contextlib.suppress(OSError):
                    info = os.stat(name, dir_fd=directory, follow_symlinks=False)
                    entries.append((info.st_mtime_ns, name))
        for _, old in sorted(entries)[:-MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                os.unlink(old, dir_fd=directory)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
