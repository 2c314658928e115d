"""Processes and their descriptors, read from a /proc tree: how many each holds against its own
RLIMIT_NOFILE, the closest to their limit first.

The count of open descriptors is the size of /proc/PID/fd since Linux 6.2 (one stat, whatever
the count); older kernels report 0 there, and the entries are counted instead. A process that
cannot be read (another user's, without root) is counted as unseen, never guessed; kernel
threads (PF_KTHREAD in /proc/PID/stat) hold no descriptors and are not counted at all.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
from dataclasses import dataclass
from pathlib import Path

from tuner.base.limits import Rlimit


@dataclass(frozen=True)
class ProcessFds:
    pid: int
    name: str
    open: int
    soft: int | None  # None: unlimited
    hard: int | None
    unit: str | None = None  # the systemd service it runs in, when there is one
    uid: int | None = None  # its real uid (None: unknown)

    @property
    def percent(self) -> float:
        return 100.0 * self.open / self.soft if self.soft else 0.0


@dataclass(frozen=True)
class ProcessScan:
    closest: tuple[ProcessFds, ...]  # the ``top`` closest to their soft limit, closest first
    seen: int
    unseen: int  # processes whose descriptors could not be read


def scan(proc: Path, top: int, *, fd_count_in_size: bool = True) -> ProcessScan:
    """Every process under ``proc``; keeps only the ``top`` closest to their limit (a heap),
    so memory does not grow with the processes. ``fd_count_in_size``: trust st_size of the fd
    directory when it is not 0 (procfs); a fake tree counts entries."""
    heap: list[tuple[float, int, ProcessFds]] = []
    seen = unseen = 0
    try:
        names = [entry.name for entry in proc.iterdir() if entry.name.isdigit()]
    except OSError:
        return ProcessScan((), 0, 0)
    for name in names:
        base = proc / name
        if _kernel_thread(base):
            continue
        try:
            count = _open_count(base / "fd", trust_size=fd_count_in_size)
            soft, hard = nofile_of((base / "limits").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited meanwhile
        except OSError:
            unseen += 1
            continue
        seen += 1
        found = ProcessFds(int(name), _comm(base), count, soft, hard)
        entry = (found.percent, found.pid, found)
        if len(heap) < top:
            heapq.heappush(heap, entry)
        elif top and entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)
    closest = [entry[2] for entry in sorted(heap, key=lambda e: (-e[0], e[1]))]
    return ProcessScan(tuple(_with_unit(proc, p) for p in closest), seen, unseen)


def _open_count(fd_dir: Path, *, trust_size: bool) -> int:
    if trust_size:
        size = fd_dir.stat().st_size
        if size > 0:
            return size
    with os.scandir(fd_dir) as entries:
        return sum(1 for _ in entries)


def nofile_of(limits: str) -> tuple[int | None, int | None]:
    """The soft and hard "Max open files" of /proc/PID/limits."""
    for line in limits.splitlines():
        if line.startswith("Max open files"):
            fields = line[len("Max open files") :].split()
            return _limit(fields[0]), _limit(fields[1])
    return None, None


def _limit(text: str) -> int | None:
    return Rlimit.parse(text).number


PF_KTHREAD = 0x00200000


def _kernel_thread(base: Path) -> bool:
    """Whether /proc/PID/stat (world-readable) flags a kernel thread."""
    try:
        text = (base / "stat").read_text()
    except OSError:
        return False
    fields = text.rpartition(")")[2].split()
    return len(fields) > 6 and fields[6].isdigit() and bool(int(fields[6]) & PF_KTHREAD)


def _uid(base: Path) -> int | None:
    try:
        status = (base / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Uid:"):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return None


def _comm(base: Path) -> str:
    try:
        return (base / "comm").read_text().removesuffix("\n")
    except OSError:
        return "?"


def _with_unit(proc: Path, process: ProcessFds) -> ProcessFds:
    """The process's uid, and the systemd service it runs in, from the last part of its cgroup
    path."""
    base = proc / str(process.pid)
    process = dataclasses.replace(process, uid=_uid(base))
    try:
        cgroup = (base / "cgroup").read_text()
    except OSError:
        return process
    for line in cgroup.splitlines():
        for part in reversed(line.rsplit(":", 1)[-1].split("/")):
            if part.endswith(".service"):
                return dataclasses.replace(process, unit=part)
    return process
