"""The running kernel, behind one door: ``ProcKernel`` reads and writes a /proc/sys tree (the
real one, or a fake one in tests), ``NoKernel`` stands in for image mode, where the running
kernel must never be read or written (Packer's chroot builders mount the build host's /proc).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Protocol

from tuner.base.errors import HostError, Unreadable
from tuner.base.keys import SysctlKey, normalize_live
from tuner.machine import sockets
from tuner.machine.processes import ProcessScan, scan
from tuner.machine.rootfs import Refused, read_path, read_small
from tuner.machine.sockets import Census, Progress, listening_tcp_ports

REAL_PROC_SYS = Path("/proc/sys")
MAX_VALUE_BYTES = 1024 * 1024  # a sysctl value is a page at most; a fake tree's file may not be


class Kernel(Protocol):
    @property
    def available(self) -> bool:
        """False in image mode: nothing is read or written."""

    @property
    def where(self) -> str | None:
        """The /proc/sys tree, for messages; None in image mode."""

    def read_raw(self, key: SysctlKey) -> str | None:
        """The live value exactly as printed, less the final newline; None: no such key."""

    def write(self, key: SysctlKey, value: str) -> None:
        """Set a live value; the kernel's refusal comes back as HostError with its reason."""

    def names(self) -> Iterator[str]:
        """Every key the kernel has."""

    def read_proc(self, name: str) -> str | None:
        """A file of /proc beside /proc/sys (meminfo, net/tcp); None when absent."""

    def listening_ports(self) -> set[int]:
        """TCP ports something listens on in this network namespace."""

    def release(self) -> str | None:
        """The kernel's release (uname -r)."""

    def page_size(self) -> int | None:
        """The kernel's page size in bytes (tcp_mem counts pages); None in image mode."""

    def census(
        self, progress: Progress | None = None, split: int | None = None, reuse_after_ms: int = 1000
    ) -> Census:
        """Every TCP socket of this network namespace, counted (sockets.py)."""

    def bound_ports(self) -> tuple[int, ...]:
        """Ports of bound, unconnected TCP sockets of this network namespace (sockets.py)."""

    def processes(self, top: int) -> ProcessScan:
        """Descriptors of every process against its nofile limit (processes.py)."""

    def network_namespace(self) -> tuple[str | None, bool | None]:
        """This process's network namespace, and whether it is PID 1's (None: cannot tell)."""


def read(kernel: Kernel, key: SysctlKey) -> str | None:
    """The live value, normalised; None when the kernel has no such key."""
    raw = kernel.read_raw(key)
    return None if raw is None else normalize_live(raw)


class NoKernel:
    """Image mode: no kernel to read or write."""

    available = False
    where = None

    def read_raw(self, key: SysctlKey) -> str | None:
        raise HostError("image mode: the running kernel is not read")

    def write(self, key: SysctlKey, value: str) -> None:
        raise HostError("image mode: the running kernel is not written")

    def names(self) -> Iterator[str]:
        return iter(())

    def read_proc(self, name: str) -> str | None:
        return None

    def listening_ports(self) -> set[int]:
        return set()

    def release(self) -> str | None:
        return None

    def page_size(self) -> int | None:
        return None

    def census(
        self, progress: Progress | None = None, split: int | None = None, reuse_after_ms: int = 1000
    ) -> Census:
        raise HostError("image mode: the running kernel's sockets are not read")

    def bound_ports(self) -> tuple[int, ...]:
        raise HostError("image mode: the running kernel's sockets are not read")

    def processes(self, top: int) -> ProcessScan:
        raise HostError("image mode: the running kernel's processes are not read")

    def network_namespace(self) -> tuple[str | None, bool | None]:
        return None, None


class ProcKernel:
    """A kernel seen through its /proc/sys tree."""

    available = True

    def __init__(self, proc_sys: Path) -> None:
        self.proc_sys = proc_sys

    @property
    def where(self) -> str | None:
        return str(self.proc_sys)

    def read_raw(self, key: SysctlKey) -> str | None:
        try:
            raw = read_small(f"{self.proc_sys}/{'/'.join(key.components)}", MAX_VALUE_BYTES)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise Unreadable(f"{key} is a directory of keys, not a key") from None
        except Refused as exc:
            raise Unreadable(f"cannot read {key}: {str(exc).removeprefix('refusing to read ')}"
                             ) from None  # fmt: skip
        except OSError as exc:
            raise Unreadable(f"cannot read {key}: {exc.strerror}") from None
        return raw.decode("utf-8", "replace").removesuffix("\n")

    def names(self) -> Iterator[str]:
        """Every key the kernel has (walks /proc/sys: call only when needed)."""
        base = self.proc_sys
        for directory, _dirs, files in os.walk(base):
            rel = PurePosixPath(directory).relative_to(base)
            for name in files:
                yield SysctlKey((*rel.parts, name)).name

    def write(self, key: SysctlKey, value: str) -> None:
        path = self.proc_sys / key.path
        try:  # no O_TRUNC: a refused write must leave a fake tree's value as it was, too
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise HostError(f"cannot write {key}: {exc.strerror}") from None
        data = f"{value}\n".encode()
        try:
            size = os.fstat(fd).st_size  # 0 in /proc/sys; a fake tree's file has its value
            os.write(fd, data)
            if size > len(data):
                os.ftruncate(fd, len(data))
        except OSError as exc:  # the key opened, so the kernel refused the value itself
            message = f"cannot set {key} = {value}: the kernel refused the value ({exc.strerror})"
            raise HostError(message) from None
        finally:
            os.close(fd)

    def read_proc(self, name: str) -> str | None:
        """For a fake --proc-sys DIR this is DIR/../NAME."""
        try:
            return read_path(self.proc_sys.parent / name).decode("utf-8", "replace")
        except (OSError, HostError):
            return None

    @property
    def is_real(self) -> bool:
        return self.proc_sys.resolve() == REAL_PROC_SYS

    def listening_ports(self) -> set[int]:
        """Asked of the kernel through netlink for the real /proc/sys (this process's network
        namespace), read from DIR/../net/tcp{,6} for a fake --proc-sys DIR."""
        if self.is_real:
            try:
                return listening_tcp_ports()
            except OSError as exc:
                raise HostError(f"cannot list listening sockets: {exc.strerror}") from None
        return self.census().listening_ports

    def release(self) -> str | None:
        try:
            raw = read_path(self.proc_sys / "kernel" / "osrelease", MAX_VALUE_BYTES)
        except (OSError, HostError):
            return None
        return raw.decode("utf-8", "replace").strip() or None

    def page_size(self) -> int | None:
        return os.sysconf("SC_PAGESIZE")

    def census(
        self, progress: Progress | None = None, split: int | None = None, reuse_after_ms: int = 1000
    ) -> Census:
        """Through netlink sock_diag for the real /proc/sys; from DIR/../net/tcp{,6} text for a
        fake --proc-sys DIR."""
        if not self.is_real:
            tables = (self.read_proc(name) or "" for name in ("net/tcp", "net/tcp6"))
            return sockets.census_from_text(tables)
        try:
            return sockets.census(progress, split, reuse_after_ms)
        except OSError as exc:
            raise HostError(f"cannot list sockets through netlink: {exc.strerror}") from None

    def bound_ports(self) -> tuple[int, ...]:
        """Through sock_diag for the real /proc/sys; a fake tree's text tables have none."""
        if not self.is_real:
            return ()
        try:
            return sockets.bound_ports()
        except OSError as exc:
            raise HostError(f"cannot list sockets through netlink: {exc.strerror}") from None

    def processes(self, top: int) -> ProcessScan:
        """/proc/PID of every process (DIR/../PID for a fake --proc-sys DIR)."""
        return scan(self.proc_sys.parent, top, fd_count_in_size=self.is_real)

    def network_namespace(self) -> tuple[str | None, bool | None]:
        base = self.proc_sys.parent
        try:
            own = str((base / "self" / "ns" / "net").readlink())
        except OSError:
            return None, None
        try:
            return own, own == str((base / "1" / "ns" / "net").readlink())
        except OSError:  # PID 1's namespaces are not ours to read (not root)
            return own, None
