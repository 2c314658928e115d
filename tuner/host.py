"""The one door to the machine: files under a root, and a kernel's /proc/sys.

Everything tuner reads from (and, for apply, writes to) a host goes through ``Host``. Its two roots
are arguments: ``root`` is the filesystem whose /etc tuner manages (``/`` or an image being baked),
``proc_sys`` is the kernel's sysctl tree, or None when the running kernel must not be touched
(image mode). Tests point both at trees under a temporary directory.

Paths given to a Host are absolute paths *inside* the root (``/etc/sysctl.d``). Symlinks are
followed as a chroot would follow them: an absolute link target is taken relative to the root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from tuner.errors import HostError
from tuner.keys import SysctlKey, normalize_live

_MAX_LINKS = 40


class Unreadable(HostError):
    """A sysctl or file that exists but cannot be read."""


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

    # --- the kernel -----------------------------------------------------------------------

    def _sysctl_path(self, key: SysctlKey) -> Path:
        if self.proc_sys is None:
            raise HostError("image mode: the running kernel is not read")
        return self.proc_sys / key.path

    def read_sysctl(self, key: SysctlKey) -> str | None:
        """The live value, normalised; None when the kernel has no such key."""
        try:
            return normalize_live(self._sysctl_path(key).read_text())
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

    def kernel_release(self) -> str | None:
        if self.proc_sys is None:
            return None
        try:
            return (self.proc_sys / "kernel" / "osrelease").read_text().strip() or None
        except OSError:
            return None
