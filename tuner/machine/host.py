"""The machine's doors: the root filesystem (files, the lock) here, with the kernel and systemd
attached (``kernel.py``, ``systemd.py``).

Everything tuner reads from (and, for apply, writes to) a host goes through ``Host``. Its two roots
are arguments: ``root`` is the filesystem whose /etc tuner manages (``/`` or an image being baked),
``proc_sys`` is the kernel's sysctl tree, or None when the running kernel must not be touched
(image mode). Tests point both at trees under a temporary directory.

Paths given to a Host are absolute paths *inside* the root (``/etc/sysctl.d``). Symlinks are
followed as a chroot would follow them: an absolute link target is taken relative to the root.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuner.base.errors import HostError
from tuner.machine.kernel import Kernel, NoKernel, ProcKernel
from tuner.machine.rootfs import TEMPORARY_SUFFIX, RootFS, absolute
from tuner.machine.systemd import Systemd, SystemdManager

STATE_DIR = PurePosixPath("/var/lib/tuner")
LOCK_FILE = STATE_DIR / "lock"


READER_GRACE = 2.0  # seconds a writer waits for readers (each holds the lock for milliseconds)
MANAGED_MODE = 0o644  # every file tuner writes: read by everyone, written by its owner


@dataclass(frozen=True)
class Caller:
    """Who tuner runs as (a door of its own: tests inject one instead of patching os)."""

    uid: int
    gid: int

    @classmethod
    def current(cls) -> Caller:
        return cls(os.geteuid(), os.getegid())

    @property
    def privileged(self) -> bool:
        return self.uid == 0

    @property
    def owner(self) -> tuple[int, int]:
        """Who owns what tuner writes: root, or when tuner runs unprivileged (an image tree of
        the user's own), that user."""
        return (0, 0) if self.privileged else (self.uid, self.gid)


def utc_now() -> str:
    """The clock the journal's times come from: UTC, to the second."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class LockHeld(HostError):
    pass


@dataclass(frozen=True)
class FileState:
    """A regular file's exact content and ownership, as the journal keeps it."""

    content: bytes
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


class Host:
    """The root filesystem (files, the lock), with the machine's other two doors attached:
    ``kernel`` (a ``ProcKernel``, or ``NoKernel`` in image mode) and ``systemd``."""

    def __init__(
        self,
        root: Path = Path("/"),
        proc_sys: Path | None = Path("/proc/sys"),
        *,
        kernel: Kernel | None = None,
        systemd: Systemd | None = None,
        caller: Caller | None = None,
        clock: Callable[[], str] = utc_now,
        lock_wait: float = 0.0,
    ) -> None:
        self.root = absolute(root)
        self.lock_wait = lock_wait  # seconds to wait for another run's lock (--wait-lock)
        self.proc_sys = None if proc_sys is None else absolute(proc_sys)
        self.fs = RootFS(self.root)
        self.kernel: Kernel = kernel or (
            ProcKernel(proc_sys) if proc_sys is not None else NoKernel()
        )
        self.systemd: Systemd = systemd or SystemdManager(live_root=self.is_live_root)
        self.caller = caller or Caller.current()
        self.now = clock

    @property
    def image_mode(self) -> bool:
        return not self.kernel.available

    # --- files under the root (every path through the one resolver in rootfs.py) ----------

    def real_path(self, path: PurePosixPath) -> Path:
        """Where an in-root path is on this machine, for messages (never opened as such)."""
        return self.fs.real(path)

    def resolve(self, path: PurePosixPath) -> PurePosixPath:
        """Follow symlinks inside the root; the result is an in-root path (it may not exist)."""
        return self.fs.resolve(path)

    def read_text(self, path: PurePosixPath) -> str | None:
        """The text of a regular file, or None when it does not exist (a link to /dev/null, the
        usual mask, reads as nothing)."""
        found = self.fs.read(path)
        return None if found is None else found.content.decode("utf-8", "surrogateescape")

    def list_dir(self, path: PurePosixPath) -> list[str]:
        """Names in a directory, sorted; empty when it does not exist."""
        return self.fs.list_dir(path)

    def file_state(self, path: PurePosixPath) -> FileState | None:
        """The file's bytes, mode and owner; None when absent. A symlink or a non-file is refused:
        tuner never writes through a link planted where its file goes."""
        found = self.fs.read(path, follow_last=False, verb="touch")
        if found is None:
            return None
        info = found.info
        return FileState(found.content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)

    def write_file(self, path: PurePosixPath, state: FileState) -> None:
        """Atomically replace ``path``: an O_EXCL temporary file in the same directory, fsync,
        rename, fsync the directory. Missing parent directories are created (0755)."""
        owner = (state.uid, state.gid) if self.caller.privileged else None
        self.fs.write(path, state.content, state.mode, owner)

    def remove_file(self, path: PurePosixPath) -> None:
        """Remove ``path``, and the temporary file a run killed mid-write may have left beside it
        (so that a rollback also removes a directory that run created)."""
        self.fs.remove(path, temporary_name(path.name))

    def remove_temporaries(self, directory: PurePosixPath) -> None:
        """Remove the temporary files killed writes left in ``directory`` (never a real file)."""
        for name in self.list_dir(directory):
            if name.startswith(".") and name.endswith(TEMPORARY_SUFFIX):
                self.fs.remove(directory / name)

    def missing_dirs(self, path: PurePosixPath) -> list[PurePosixPath]:
        """``path`` and those of its parents that do not exist, outermost first."""
        return self.fs.missing_dirs(path)

    def make_dirs(self, path: PurePosixPath, mode: int = 0o755) -> None:
        """Create ``path`` and missing parents inside the root (each durable in its parent)."""
        self.fs.make_dirs(path, mode)

    def remove_dir_if_empty(self, path: PurePosixPath) -> None:
        self.fs.remove_dir_if_empty(path)

    # --- the lock and the state directory -----------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One apply or rollback at a time, per root: an exclusive flock on the state dir's lock
        (opened inside the root: a planted link cannot put it anywhere else)."""
        self.make_dirs(STATE_DIR, mode=0o700)
        fd = self.fs.open_file(LOCK_FILE, os.O_RDWR | os.O_CREAT)
        try:
            deadline = time.monotonic() + max(READER_GRACE, self.lock_wait)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() < deadline:  # a reader holds it for a moment
                        time.sleep(0.02)
                        continue
                    raise LockHeld(self.lock_message(_holder(fd))) from None
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:  # a full disk: say so before anything is changed
                raise HostError(
                    f"cannot write the lock {self.real_path(LOCK_FILE)}: {exc.strerror}; "
                    "nothing was changed"
                ) from None
            yield
        finally:
            os.close(fd)

    def reserve_space(self, path: PurePosixPath, size: int) -> None:
        """Allocate ``size`` bytes to the file ``path`` (blocks really taken, not a sparse file),
        so that a later write of that much is sure to find room once the file is removed."""
        try:
            fd = self.fs.open_file(path, os.O_WRONLY | os.O_CREAT)
            try:
                os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(HostError):
                self.fs.remove(path)
            raise HostError(
                f"cannot reserve {size:,} bytes in {self.real_path(path.parent)}: {exc.strerror}"
            ) from None

    @contextlib.contextmanager
    def reading(self) -> Iterator[bool]:
        """For a reader of the journal: a shared lock on the state directory's lock while it
        reads, so that no apply, rollback or prune changes the journal under it. Yields whether
        a writer holds the lock now (then the read goes on without it, and what it sees of that
        run is a run in progress, not a dead one). No lock file (nothing was ever applied) or
        no right to open it: no writer is known."""
        try:
            fd = self.fs.open_file(LOCK_FILE, os.O_RDONLY)
        except HostError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                busy = False
            except BlockingIOError:
                busy = True
            yield busy
        finally:
            os.close(fd)

    def lock_holder(self) -> str:
        """The pid the lock file names (the last run that took it), or "unknown"."""
        try:
            fd = self.fs.open_file(LOCK_FILE, os.O_RDONLY)
        except HostError:
            return "unknown"
        try:
            return _holder(fd)
        finally:
            os.close(fd)

    def lock_message(self, holder: str) -> str:
        """Why a run cannot start: who holds the lock, and how long this one waited."""
        waited = f"; waited {self.lock_wait:g} s" if self.lock_wait else (
            "; --wait-lock SECONDS waits for it")  # fmt: skip
        return f"another tuner run holds the lock (pid {holder}){waited}: nothing was changed"

    def wait_while_locked(self) -> None:
        """With ``lock_wait``: wait (at most that long) until no run holds the lock."""
        deadline = time.monotonic() + self.lock_wait
        while self.lock_wait and time.monotonic() < deadline and self.lock_held():
            time.sleep(0.05)

    def lock_held(self) -> bool:
        """Whether some process holds the lock now (without taking it or creating anything)."""
        with self.reading() as busy:
            return busy

    # --- privileges and systemd ---------------------------------------------------------

    @property
    def is_live_root(self) -> bool:
        """Whether this is the running system's own root (not an image)."""
        return self.root.resolve() == Path("/")

    def container(self) -> str | None:
        """The container this root runs in, when it says so: systemd's /run/systemd/container,
        else the files Docker and Podman leave (/.dockerenv, /run/.containerenv)."""
        said = self.read_text(PurePosixPath("/run/systemd/container"))
        if said and said.strip():
            return said.strip()
        for marker, name in (("/.dockerenv", "docker"), ("/run/.containerenv", "podman")):
            if self.fs.exists(PurePosixPath(marker)):
                return name
        return None

    def chroot_warning(self) -> str | None:
        """Why this looks like a chroot, when live writes would reach the kernel from inside one.

        Inside a chroot /proc is the outer machine's: Packer's chroot builders mount the build
        host's /proc into the image, so writing /proc/sys there tunes the build host.
        """
        if not self.kernel.available or not self.is_live_root:
            return None
        try:
            mountinfo: str | None = Path("/proc/self/mountinfo").read_text()
        except OSError:
            mountinfo = None
        reason = looks_like_chroot(Path("/proc/1/root"), Path("/"), mountinfo)
        if reason is None:
            return None
        return (
            f"this looks like a chroot ({reason}): writing /proc/sys here tunes the machine "
            "running the chroot, not the image. Image builds should run tuner outside with "
            "--root DIR, or pass --no-kernel"
        )


def _holder(fd: int) -> str:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return text if text.isdigit() else "unknown"


def temporary_name(name: str) -> str:
    """Where ``write_file`` stages ``name``: hidden, and not named ``*.conf``, so neither
    systemd, procps nor pam_limits reads it."""
    return f".{name}{TEMPORARY_SUFFIX}"


def looks_like_chroot(pid1_root: Path, root: Path, mountinfo: str | None) -> str | None:
    """Two signs of a chroot, either enough:

    - ischroot(1)'s: / is not the root of PID 1, by device and inode (needs the right to look at
      PID 1; decides either way when it can);
    - no filesystem is mounted at / in /proc/self/mountinfo: mounts outside a process's root are
      not listed, so a chroot into a plain directory has none at "/". (A chroot into a mount
      point, as Packer's chroot builders do, needs the first sign.)
    """
    try:
        outer, here = pid1_root.stat(), root.stat()
    except OSError:
        pass  # not allowed to look at PID 1 (or no /proc): try the mount table
    else:
        if (outer.st_dev, outer.st_ino) != (here.st_dev, here.st_ino):
            return f"/ is not the root of PID 1 ({pid1_root})"
        return None
    if mountinfo is None:
        return None
    mount_points = {line.split()[4] for line in mountinfo.splitlines() if len(line.split()) > 4}
    if mount_points and "/" not in mount_points:
        return "no filesystem is mounted at / (/proc/self/mountinfo)"
    return None
