"""The one way tuner touches a path under a root: every reader and writer goes through ``RootFS``.

A root is a filesystem tree tuner treats as ``/``: the running system, or an image someone else
built. Paths are absolute paths *inside* it (``/etc/sysctl.d/x.conf``) and are resolved the way
a chroot resolves them, one directory file descriptor at a time (``openat`` with
``O_NOFOLLOW``): a symbolic link is read, never followed by the kernel; an absolute target
starts again at the root, and ``..`` stops at the root. So no link, however planted, and no swap
of a directory while tuner walks can make it read or write outside the root.

What it reads must be a regular file (a FIFO, a device or a socket is refused with a clear
message: opening a FIFO would hang, a device would read forever) and no larger than a cap. What
it writes goes to an ``O_EXCL`` temporary file in the destination directory, is fsynced, renamed
over the target (never through a link planted there) and made durable by an fsync of the
directory. A directory it creates or removes is made durable the same way, in its parent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuner.base.errors import HostError, TunerError

MAX_LINKS = 40
MAX_FILE = 16 * 1024 * 1024  # more than any configuration file tuner reads has any reason to be
TEMPORARY_SUFFIX = ".tuner-tmp"
DEV_NULL = PurePosixPath("/dev/null")
_WALK = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def absolute(path: Path | str) -> Path:
    """``path`` made absolute and normalised lexically (``..`` removed, links left alone: they
    are resolved inside a root, never by this)."""
    return Path(os.path.abspath(path))


class Refused(HostError):
    """A path tuner will not read or write: not a regular file, a link where tuner's file goes,
    larger than the cap, or a loop of links."""


class TooLarge(Refused):
    """A file larger than what tuner reads of its kind."""


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


@dataclass(frozen=True)
class Found:
    """A regular file as read: its bytes and its status (mode, owner, inode, times)."""

    content: bytes
    info: os.stat_result


class RootFS:
    """Paths under one root, resolved inside it. ``root`` is trusted (the user named it); nothing
    below it is."""

    def __init__(self, root: Path) -> None:
        self.root = absolute(root)

    def real(self, path: PurePosixPath) -> Path:
        """Where an in-root path is on this machine, for messages (not for opening)."""
        return self.root / path.relative_to("/")

    # --- walking --------------------------------------------------------------------------

    def _root_fd(self) -> int:
        try:
            return os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise  # no root: nothing is in it
        except OSError as exc:
            raise HostError(f"cannot open the root {self.root}: {exc.strerror}") from None

    def _walk_dir(
        self, parts: list[str], *, create: int | None = None, hops: int = 0
    ) -> tuple[int, PurePosixPath, int]:
        """Resolve the directory ``parts`` inside the root, one fd at a time. Returns an open
        ``O_PATH`` fd of it (the caller closes it), its in-root path and the links followed so
        far. With ``create`` (a mode), missing directories are made on the way."""
        stack: list[tuple[int, PurePosixPath]] = [(self._root_fd(), PurePosixPath("/"))]
        todo = [p for p in parts if p not in ("", ".")]
        try:
            while todo:
                part = todo.pop(0)
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop()[0])
                    continue
                fd, here = stack[-1]
                try:
                    info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    if create is None:
                        raise
                    _make_dir(fd, part, create)
                    info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    hops += 1
                    if hops > MAX_LINKS:
                        raise Refused(f"too many levels of symbolic links at {here / part}")
                    target = os.readlink(part, dir_fd=fd)
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop()[0])
                    todo = [p for p in target.split("/") if p not in ("", ".")] + todo
                    continue
                if not stat.S_ISDIR(info.st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(here / part))
                stack.append((os.open(part, _WALK | os.O_DIRECTORY, dir_fd=fd), here / part))
            fd, where = stack.pop()
            return fd, where, hops
        finally:
            for fd, _ in stack:
                os.close(fd)

    def _locate(
        self, path: PurePosixPath, *, follow_last: bool, create: int | None = None
    ) -> tuple[int, str, PurePosixPath]:
        """The directory holding ``path``'s last component (an ``O_PATH`` fd the caller closes),
        that name, and the directory's in-root path; the last component is followed inside the
        root while it is a link and ``follow_last``."""
        hops = 0
        while True:
            if path.name in ("", ".", ".."):
                raise Refused(f"{path} does not name a file")
            dir_fd, where, hops = self._walk_dir(list(path.parent.parts[1:]), create=create,
                                                 hops=hops)  # fmt: skip
            if not follow_last:
                return dir_fd, path.name, where
            try:
                info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                return dir_fd, path.name, where
            if not stat.S_ISLNK(info.st_mode):
                return dir_fd, path.name, where
            try:
                target = os.readlink(path.name, dir_fd=dir_fd)
            finally:
                os.close(dir_fd)
            hops += 1
            if hops > MAX_LINKS:
                raise Refused(f"too many levels of symbolic links at {path}")
            base = PurePosixPath("/") if target.startswith("/") else where
            path = base.joinpath(*[p for p in target.split("/") if p not in ("", ".")] or ["."])

    @contextlib.contextmanager
    def _at(
        self, path: PurePosixPath, *, follow_last: bool = True
    ) -> Iterator[tuple[int, str, PurePosixPath]]:
        dir_fd, name, where = self._locate(path, follow_last=follow_last)
        try:
            yield dir_fd, name, where
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def directory(self, path: PurePosixPath, *, create: int | None = None) -> Iterator[int]:
        """An ``O_PATH`` fd of the directory at ``path`` (links followed inside the root), for
        ``dir_fd=``; with ``create``, missing directories are made (each durable in its parent)."""
        dir_fd, _, _ = self._walk_dir(list(path.parts[1:]), create=create)
        try:
            yield dir_fd
        finally:
            os.close(dir_fd)

    def resolve(self, path: PurePosixPath) -> PurePosixPath:
        """The in-root path ``path`` leads to once every link is followed inside the root; the
        part past the first missing component is kept as written. For naming (what a link
        points to, where a file really is), never for opening: readers and writers walk again."""
        parts = [p for p in path.parts[1:] if p not in ("", ".")]
        done = PurePosixPath("/")
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                done = done.parent
                continue
            candidate = done / part
            try:
                info = os.lstat(self.real(candidate))
            except OSError:
                return candidate.joinpath(*parts)
            if not stat.S_ISLNK(info.st_mode):
                done = candidate
                continue
            hops += 1
            if hops > MAX_LINKS:
                raise Refused(f"too many levels of symbolic links at {path}")
            target = os.readlink(self.real(candidate))
            if target.startswith("/"):
                done = PurePosixPath("/")
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
        return done

    # --- reading ----------------------------------------------------------------------------

    def read(
        self,
        path: PurePosixPath,
        *,
        limit: int = MAX_FILE,
        follow_last: bool = True,
        verb: str = "read",
    ) -> Found | None:
        """A regular file's bytes and status; None when it does not exist. Anything else there
        (a FIFO, a device, a socket, a directory; a link when not ``follow_last``) is refused,
        and so is a file larger than ``limit``. /dev/null (a link to it masks a file) reads as
        empty."""
        try:
            with self._at(path, follow_last=follow_last) as (dir_fd, name, where):
                if where / name == DEV_NULL and follow_last:  # the usual mask: reads as nothing
                    return Found(b"", os.stat(name, dir_fd=dir_fd, follow_symlinks=False))
                return read_at(dir_fd, name, path, limit, verb)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise HostError(f"cannot read {path}: {exc.strerror}") from None

    def list_dir(self, path: PurePosixPath) -> list[str]:
        """Names in a directory, sorted; empty when it does not exist or is not a directory."""
        try:
            with self.directory(path) as dir_fd:
                listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    return sorted(os.listdir(listing))
                finally:
                    os.close(listing)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise HostError(f"cannot list {path}: {exc.strerror}") from None

    def lstat(self, path: PurePosixPath) -> os.stat_result | None:
        """The status of ``path`` itself (a link is not followed at the last step)."""
        try:
            if path == path.parent:
                return os.stat(self.root)
            with self._at(path, follow_last=False) as (dir_fd, name, _):
                return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise HostError(f"cannot look at {path}: {exc.strerror}") from None

    def exists(self, path: PurePosixPath) -> bool:
        if path == path.parent:
            return True
        try:
            with self._at(path) as (dir_fd, name, _):
                os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                return True
        except (FileNotFoundError, NotADirectoryError, Refused):
            return False

    # --- writing ----------------------------------------------------------------------------

    def write(self, path: PurePosixPath, content: bytes, mode: int, owner: tuple[int, int] | None,
              *, dir_mode: int = 0o755) -> None:  # fmt: skip
        """Replace ``path`` atomically: an ``O_EXCL`` temporary file beside it, fsync, rename
        over the target, fsync of the directory. Missing directories are created (``dir_mode``).
        A link or a non-file where the target goes is refused, never written through."""
        try:
            with self.directory(path.parent, create=dir_mode) as dir_fd:
                name = path.name
                _refuse_non_file(dir_fd, name, path, "write")
                temporary = f".{name}{TEMPORARY_SUFFIX}"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary, dir_fd=dir_fd)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(temporary, flags, 0o600, dir_fd=dir_fd)
                try:
                    try:
                        _write_all(fd, content)
                        if owner is not None:
                            os.fchown(fd, *owner)
                        os.fchmod(fd, mode)
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                    os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary, dir_fd=dir_fd)
                    raise
                fsync_dir(dir_fd)
        except Refused:
            raise
        except OSError as exc:
            raise HostError(f"cannot write {path}: {exc.strerror}") from None

    def remove(self, path: PurePosixPath, *names: str) -> bool:
        """Remove ``path`` (never what a link there points to) and the ``names`` beside it;
        the directory is fsynced when anything went. Whether anything did."""
        removed = False
        try:
            with self.directory(path.parent) as dir_fd:
                for name in (*names, path.name):
                    try:
                        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                        if stat.S_ISDIR(info.st_mode):
                            raise Refused(f"refusing to remove {path.parent / name}: a directory")
                        os.unlink(name, dir_fd=dir_fd)
                        removed = True
                    except FileNotFoundError:
                        continue
                if removed:
                    fsync_dir(dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except Refused:
            raise
        except OSError as exc:
            raise HostError(f"cannot remove {path}: {exc.strerror}") from None
        return removed

    def rename(self, source: PurePosixPath, target: PurePosixPath, *, dir_mode: int) -> None:
        """Move ``source`` (whatever it is: a link or a FIFO moves as itself) to ``target``,
        creating the target's directory; both directories are made durable."""
        try:
            with (self.directory(source.parent) as source_fd,
                  self.directory(target.parent, create=dir_mode) as target_fd):  # fmt: skip
                _refuse_non_file(target_fd, target.name, target, "replace")
                os.rename(source.name, target.name, src_dir_fd=source_fd, dst_dir_fd=target_fd)
                fsync_dir(target_fd)
                fsync_dir(source_fd)
        except Refused:
            raise
        except OSError as exc:
            raise HostError(f"cannot move {source} to {target}: {exc.strerror}") from None

    def missing_dirs(self, path: PurePosixPath) -> list[PurePosixPath]:
        """``path`` and those of its parents that do not exist, outermost first."""
        missing = []
        probe = path
        while probe != probe.parent and not self.exists(probe):
            missing.append(probe)
            probe = probe.parent
        return list(reversed(missing))

    def make_dirs(self, path: PurePosixPath, mode: int = 0o755) -> None:
        try:
            with self.directory(path, create=mode):
                pass
        except Refused:
            raise
        except OSError as exc:
            raise HostError(f"cannot create {path}: {exc.strerror}") from None

    def remove_dir_if_empty(self, path: PurePosixPath) -> bool:
        """Remove an empty directory (durably, in its parent); False when it is not empty or
        not there."""
        try:
            with self.directory(path.parent) as dir_fd:
                info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode):
                    return False
                os.rmdir(path.name, dir_fd=dir_fd)
                fsync_dir(dir_fd)
                return True
        except OSError:
            return False

    def open_file(self, path: PurePosixPath, flags: int, mode: int = 0o600) -> int:
        """An fd for ``path`` opened with ``flags`` (``O_NOFOLLOW`` added: a link there is
        refused); for the lock and the space reservation."""
        try:
            with self.directory(path.parent) as dir_fd:
                _refuse_non_file(dir_fd, path.name, path, "open")
                return os.open(path.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                               dir_fd=dir_fd)  # fmt: skip
        except Refused:
            raise
        except OSError as exc:
            raise HostError(f"cannot open {path}: {exc.strerror}") from None


def _make_dir(dir_fd: int, name: str, mode: int) -> None:
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
    except FileExistsError:
        return  # made meanwhile: the walk looks at it again
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)  # not subject to the umask
    finally:
        os.close(fd)
    fsync_dir(dir_fd)


def fsync_dir(dir_fd: int) -> None:
    """Make the entries of the directory behind ``dir_fd`` (an ``O_PATH`` fd will do) durable."""
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _refuse_non_file(dir_fd: int, name: str, path: PurePosixPath, verb: str) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"refusing to {verb} {path}: it is {kind_of(info.st_mode)}")


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]


def read_at(
    dir_fd: int, name: str, shown: PurePosixPath | Path | str, limit: int, verb: str = "read"
) -> Found:
    """Read the regular file ``name`` in ``dir_fd``: looked at before it is opened (a device is
    never opened), opened without following a link and without blocking (a FIFO swapped in
    meanwhile cannot hang), looked at again through the fd, read up to ``limit`` bytes."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"refusing to {verb} {shown}: it is {kind_of(info.st_mode)}")
    if info.st_size > limit:
        raise TooLarge(f"refusing to {verb} {shown}: {info.st_size:,} bytes, more than {limit:,}")
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(f"refusing to {verb} {shown}: it is a symbolic link") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"refusing to {verb} {shown}: it is {kind_of(info.st_mode)}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise TooLarge(f"refusing to {verb} {shown}: more than {limit:,} bytes")
        return Found(b"".join(chunks), info)
    finally:
        os.close(fd)


def read_small(path: str, limit: int) -> bytes:
    """A small regular file by path, links followed (a key of a /proc/sys tree): looked at
    before it is opened, so a FIFO or a device is never opened; opened without blocking and
    looked at again through the fd; at most ``limit`` bytes. FileNotFoundError when absent."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"refusing to read {path}: it is {kind_of(info.st_mode)}")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused(f"refusing to read {path}: it is not a regular file")
        data = os.read(fd, limit + 1)
        while data and len(data) <= limit and (more := os.read(fd, limit + 1 - len(data))):
            data += more
        if len(data) > limit:
            raise TooLarge(f"refusing to read {path}: more than {limit:,} bytes")
        return data
    finally:
        os.close(fd)


def read_path(path: Path | str, limit: int = MAX_FILE) -> bytes:
    """A file named on the command line or shipped with tuner (a path on this machine, links
    followed as usual up to the file): a regular file no larger than ``limit``, never a FIFO or
    a device. FileNotFoundError when it is not there."""
    parent, name = os.path.split(os.path.abspath(path))
    dir_fd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for _ in range(MAX_LINKS):  # the last component may be a link: follow it as usual
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISLNK(info.st_mode):
                return read_at(dir_fd, name, path, limit).content
            target = os.readlink(name, dir_fd=dir_fd)
            if not target.startswith("/"):
                target = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), target)
            parent, name = os.path.split(os.path.normpath(target))
            os.close(dir_fd)
            dir_fd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        raise Refused(f"too many levels of symbolic links at {path}")
    finally:
        os.close(dir_fd)


def write_outside(path: Path, data: bytes, what: str) -> None:
    """A file tuner writes for someone else (a saved plan, a metrics file), wherever they asked:
    whole or not at all, an O_EXCL temporary beside it renamed over it, a link planted at
    either refused, never written through."""
    target = PurePosixPath(absolute(path))
    if not Path(target.parent).is_dir():
        raise TunerError(f"cannot write {what} to {path}: no directory {target.parent}")
    try:
        RootFS(Path("/")).write(target, data, 0o644, None)
    except HostError as exc:
        raise TunerError(f"cannot write {what} to {path}: {exc}") from None
