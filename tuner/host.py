"""The one door to the machine: files under a root, and a kernel's /proc/sys.

Everything tuner reads from (and, for apply, writes to) a host goes through ``Host``. Its two roots
are arguments: ``root`` is the filesystem whose /etc tuner manages (``/`` or an image being baked),
``proc_sys`` is the kernel's sysctl tree, or None when the running kernel must not be touched
(image mode). Tests point both at trees under a temporary directory.

Paths given to a Host are absolute paths *inside* the root (``/etc/sysctl.d``). Symlinks are
followed as a chroot would follow them: an absolute link target is taken relative to the root.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuner.errors import HostError
from tuner.keys import SysctlKey, normalize_live

_MAX_LINKS = 40
_TEMPORARY_SUFFIX = ".tuner-tmp"
STATE_DIR = PurePosixPath("/var/lib/tuner")
LOCK_FILE = STATE_DIR / "lock"


class Unreadable(HostError):
    """A sysctl or file that exists but cannot be read."""


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
    def __init__(self, root: Path = Path("/"), proc_sys: Path | None = Path("/proc/sys")) -> None:
        self.root = root
        self.proc_sys = proc_sys

    @property
    def image_mode(self) -> bool:
        return self.proc_sys is None

    # --- files under the root -------------------------------------------------------------

    def real_path(self, path: PurePosixPath) -> Path:
        """Where an in-root path lives on this machine, without following links."""
        return self.root / path.relative_to("/")

    def resolve(self, path: PurePosixPath) -> PurePosixPath:
        """Follow symlinks inside the root; the result is an in-root path (it may not exist)."""
        parts = list(path.relative_to("/").parts)
        done = PurePosixPath("/")
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                done = done.parent
                continue
            candidate = done / part
            real = self.real_path(candidate)
            if real.is_symlink():
                hops += 1
                if hops > _MAX_LINKS:
                    raise HostError(f"too many levels of symbolic links at {path}")
                target = PurePosixPath(real.readlink())
                if target.is_absolute():
                    done = PurePosixPath("/")
                parts = (
                    list(target.relative_to("/").parts if target.is_absolute() else target.parts)
                    + parts
                )
                continue
            done = candidate
        return done

    def read_text(self, path: PurePosixPath) -> str | None:
        """The text of a file, or None when it does not exist."""
        real = self.real_path(self.resolve(path))
        try:
            return real.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise Unreadable(f"{path} is a directory, expected a file") from None
        except OSError as exc:
            raise Unreadable(f"cannot read {path}: {exc.strerror}") from None

    def list_dir(self, path: PurePosixPath) -> list[str]:
        """Names in a directory, sorted; empty when it does not exist."""
        real = self.real_path(self.resolve(path))
        try:
            return sorted(p.name for p in real.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise Unreadable(f"cannot list {path}: {exc.strerror}") from None

    def file_state(self, path: PurePosixPath) -> FileState | None:
        """The file's bytes, mode and owner; None when absent. A symlink or a non-file is refused:
        tuner never writes through a link planted where its file goes."""
        real = self.real_path(self.resolve(path.parent) / path.name)
        try:
            info = real.lstat()
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
            raise HostError(f"refusing to touch {path}: it is {kind}")
        try:
            content = real.read_bytes()
        except OSError as exc:
            raise Unreadable(f"cannot read {path}: {exc.strerror}") from None
        return FileState(content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)

    def write_file(self, path: PurePosixPath, state: FileState) -> None:
        """Atomically replace ``path``: temp file in the same directory, fsync, rename, fsync the
        directory. Missing parent directories are created (0755)."""
        self.make_dirs(path.parent)
        directory = self.real_path(self.resolve(path.parent))
        target = directory / path.name
        if target.is_symlink():
            raise HostError(f"refusing to write through the symlink at {path}")
        temporary = _temporary(target)
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, state.content)
                if os.geteuid() == 0:
                    os.fchown(fd, state.uid, state.gid)
                os.fchmod(fd, state.mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            temporary.replace(target)
            self._fsync_dir(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise HostError(f"cannot write {path}: {exc.strerror}") from None

    def remove_file(self, path: PurePosixPath) -> None:
        """Remove ``path``, and the temporary file a run killed mid-write may have left beside it
        (so that a rollback also removes a directory that run created)."""
        directory = self.real_path(self.resolve(path.parent))
        removed = False
        for name in (_temporary(directory / path.name), directory / path.name):
            try:
                name.unlink()
                removed = True
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise HostError(f"cannot remove {path}: {exc.strerror}") from None
        if removed:
            self._fsync_dir(directory)

    def remove_temporaries(self, directory: PurePosixPath) -> None:
        """Remove the temporary files killed writes left in ``directory`` (never a real file)."""
        real = self.real_path(self.resolve(directory))
        for name in self.list_dir(directory):
            if name.startswith(".") and name.endswith(_TEMPORARY_SUFFIX):
                try:
                    (real / name).unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    raise HostError(f"cannot remove {directory / name}: {exc.strerror}") from None

    def missing_dirs(self, path: PurePosixPath) -> list[PurePosixPath]:
        """``path`` and those of its parents that do not exist, outermost first."""
        missing = []
        probe = path
        while not self.real_path(self.resolve(probe)).exists():
            missing.append(probe)
            probe = probe.parent
        return list(reversed(missing))

    def make_dirs(self, path: PurePosixPath, mode: int = 0o755) -> None:
        """Create ``path`` and missing parents inside the root."""
        for directory in self.missing_dirs(path):
            real = self.real_path(self.resolve(directory))
            try:
                real.mkdir(mode=mode)
                real.chmod(mode)  # not subject to the umask
            except OSError as exc:
                raise HostError(f"cannot create {directory}: {exc.strerror}") from None

    def remove_dir_if_empty(self, path: PurePosixPath) -> None:
        with contextlib.suppress(OSError):
            self.real_path(self.resolve(path)).rmdir()

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- the lock and the state directory -----------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One apply or rollback at a time, per root: an exclusive flock on the state dir's lock."""
        self.make_dirs(STATE_DIR, mode=0o700)
        real = self.real_path(LOCK_FILE)
        try:
            fd = os.open(real, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise HostError(f"cannot open the lock {real}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise LockHeld(f"another tuner run holds the lock (pid {holder})") from None
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError as exc:  # a full disk: say so before anything is changed
                raise HostError(
                    f"cannot write the lock {real}: {exc.strerror}; nothing was changed"
                ) from None
            yield
        finally:
            os.close(fd)

    def reserve_space(self, path: PurePosixPath, size: int) -> None:
        """Allocate ``size`` bytes to the file ``path`` (blocks really taken, not a sparse file),
        so that a later write of that much is sure to find room once the file is removed."""
        real = self.real_path(self.resolve(path.parent)) / path.name
        try:
            fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                os.posix_fallocate(fd, 0, size)
            finally:
                os.close(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                real.unlink()
            raise HostError(
                f"cannot reserve {size:,} bytes in {real.parent}: {exc.strerror}"
            ) from None

    def lock_held(self) -> bool:
        """Whether some process holds the lock now (without taking it or creating anything)."""
        try:
            fd = os.open(self.real_path(LOCK_FILE), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    # --- privileges and systemd ---------------------------------------------------------

    @property
    def is_live_root(self) -> bool:
        """Whether this is the running system's own root (not an image)."""
        return self.root.resolve() == Path("/")

    def chroot_warning(self) -> str | None:
        """Why this looks like a chroot, when live writes would reach the kernel from inside one.

        Inside a chroot /proc is the outer machine's: Packer's chroot builders mount the build
        host's /proc into the image, so writing /proc/sys there tunes the build host.
        """
        if self.proc_sys is None or not self.is_live_root:
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

    def systemd_is_pid1(self) -> bool:
        """Whether systemd runs this machine, tested as sd_booted(3) does: /run/systemd/system
        is a directory (systemd creates it early at boot; a container or a chroot lacks it)."""
        return self.is_live_root and Path("/run/systemd/system").is_dir()

    def systemctl(self, *args: str) -> None:
        result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise HostError(f"systemctl {' '.join(args)} failed: {result.stderr.strip()}")

    # --- the kernel -----------------------------------------------------------------------

    def _sysctl_path(self, key: SysctlKey) -> Path:
        if self.proc_sys is None:
            raise HostError("image mode: the running kernel is not read")
        return self.proc_sys / key.path

    def read_sysctl(self, key: SysctlKey) -> str | None:
        """The live value, normalised; None when the kernel has no such key."""
        raw = self.read_sysctl_raw(key)
        return None if raw is None else normalize_live(raw)

    def read_sysctl_raw(self, key: SysctlKey) -> str | None:
        """The live value exactly as the kernel prints it, less the final newline."""
        try:
            return self._sysctl_path(key).read_text().removesuffix("\n")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise Unreadable(f"{key} is a directory of keys, not a key") from None
        except OSError as exc:
            raise Unreadable(f"cannot read {key}: {exc.strerror}") from None

    def sysctl_names(self) -> Iterator[str]:
        """Every key the kernel has (walks /proc/sys: call only when needed)."""
        if self.proc_sys is None:
            return
        base = self.proc_sys
        for directory, _dirs, files in os.walk(base):
            rel = PurePosixPath(directory).relative_to(base)
            for name in files:
                yield SysctlKey((*rel.parts, name)).name

    def write_sysctl(self, key: SysctlKey, value: str) -> None:
        """Write a live value; the kernel's refusal comes back as HostError with its reason."""
        path = self._sysctl_path(key)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        except OSError as exc:
            raise HostError(f"cannot write {key}: {exc.strerror}") from None
        try:
            os.write(fd, f"{value}\n".encode())
        except OSError as exc:  # the key opened, so the kernel refused the value itself
            message = f"cannot set {key} = {value}: the kernel refused the value ({exc.strerror})"
            raise HostError(message) from None
        finally:
            os.close(fd)

    def read_proc(self, name: str) -> str | None:
        """A file of the kernel's /proc beside its /proc/sys (meminfo, net/tcp); None in image
        mode or when absent. For a fake --proc-sys DIR this is DIR/../NAME."""
        if self.proc_sys is None:
            return None
        try:
            return (self.proc_sys.parent / name).read_text()
        except OSError:
            return None

    def listening_ports(self) -> set[int]:
        """TCP ports something listens on: asked of the kernel through netlink for the real
        /proc/sys (this process's network namespace), read from DIR/../net/tcp{,6} for a fake
        --proc-sys DIR; empty in image mode."""
        if self.proc_sys is None:
            return set()
        if self.proc_sys.resolve() == Path("/proc/sys"):
            from tuner.sockets import listening_tcp_ports

            try:
                return listening_tcp_ports()
            except OSError as exc:
                raise HostError(f"cannot list listening sockets: {exc.strerror}") from None
        ports: set[int] = set()
        for name in ("net/tcp", "net/tcp6"):
            for line in (self.read_proc(name) or "").splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[3] == "0A":  # st 0A: LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports

    def kernel_release(self) -> str | None:
        if self.proc_sys is None:
            return None
        try:
            return (self.proc_sys / "kernel" / "osrelease").read_text().strip() or None
        except OSError:
            return None


def _temporary(target: Path) -> Path:
    """Where ``write_file`` stages ``target``: hidden, and not named ``*.conf``, so neither
    systemd, procps nor pam_limits reads it."""
    return target.with_name(f".{target.name}{_TEMPORARY_SUFFIX}")


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
