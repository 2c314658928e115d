"""Shared fixtures. No test may read or write the real / or /proc/sys: ``Host`` refuses them here.

Tests that need the real kernel or real /etc run tuner in a subprocess inside a throwaway
namespace (see ``sandbox.py``), where the real paths are covered by tmpfs or belong to a new netns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuner.base.errors import HostError
from tuner.base.keys import SysctlKey
from tuner.machine import host as host_module
from tuner.machine.kernel import ProcKernel
from tuner.machine.processes import ProcessScan
from tuner.machine.sockets import Census, Progress
from tuner.profile.library import ProfileLibrary
from tuner.profile.resolve import resolve

REPO = Path(__file__).resolve().parent.parent


def library(root: Path) -> ProfileLibrary:
    """The profiles of ``root`` (then the bundled ones), resolved by the parser itself."""
    return ProfileLibrary.for_root(root, resolve)


# What a fresh kernel of this kind prints, as files under /proc/sys (tab-separated vectors).
DEFAULT_PROC_SYS = {
    "kernel/osrelease": "6.1.0-test",
    "fs/file-max": "2466170",
    "fs/nr_open": "1048576",
    "net/core/somaxconn": "4096",
    "net/core/netdev_max_backlog": "1000",
    "net/ipv4/ip_local_port_range": "32768\t60999",
    "net/ipv4/ip_unprivileged_port_start": "1024",
    "net/ipv4/tcp_tw_reuse": "2",
    "net/ipv4/tcp_timestamps": "1",
    "net/ipv4/tcp_syncookies": "1",
    "net/ipv4/tcp_max_syn_backlog": "2048",
    "net/ipv4/tcp_max_tw_buckets": "131072",
    "net/ipv4/tcp_fin_timeout": "60",
    "net/ipv4/tcp_mem": "287898\t383867\t575796",
    "net/ipv4/tcp_rmem": "4096\t131072\t6291456",
    "net/ipv4/tcp_wmem": "4096\t16384\t4194304",
    "net/ipv4/conf/eth0.100/forwarding": "0",
}


def write_proc_sys(base: Path, values: dict[str, str]) -> Path:
    for rel, text in values.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return base


def read_proc_sys(base: Path) -> dict[str, str]:
    return {str(p.relative_to(base)): p.read_text() for p in sorted(base.rglob("*")) if p.is_file()}


def step_owner(method: str) -> tuple[type, str]:
    """Where a step named in fault tests lives: a live write is the kernel's, the rest the host's."""
    from tuner.machine.kernel import ProcKernel

    return (ProcKernel, "write") if method == "write_sysctl" else (host_module.Host, method)


@pytest.fixture
def proc_sys(tmp_path: Path) -> Path:
    return write_proc_sys(tmp_path / "proc_sys", DEFAULT_PROC_SYS)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty Debian-like root: /etc/sysctl.d with Debian's link to ../sysctl.conf."""
    base = tmp_path / "root"
    (base / "etc/sysctl.d").mkdir(parents=True)
    (base / "etc/security/limits.d").mkdir(parents=True)
    (base / "etc/systemd/system").mkdir(parents=True)
    (base / "usr/lib/sysctl.d").mkdir(parents=True)
    (base / "var/lib").mkdir(parents=True)
    (base / "etc/sysctl.conf").write_text("# /etc/sysctl.conf - see sysctl.conf(5)\n")
    (base / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    return base


@pytest.fixture
def host(root: Path, proc_sys: Path) -> host_module.Host:
    return host_module.Host(root, proc_sys)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tuner's profile cache goes to the test's own directory, never the real home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(autouse=True)
def _never_the_real_host(monkeypatch: pytest.MonkeyPatch) -> None:
    original = host_module.Host.__init__

    def guarded(
        self: host_module.Host,
        root: Path = Path("/"),
        proc_sys: Path | None = None,
        **doors: Any,
    ) -> None:
        if Path(root).resolve() == Path("/"):
            raise AssertionError("a test built a Host on the real / : use the root fixture")
        if proc_sys is not None and Path(proc_sys).resolve() == Path("/proc/sys"):
            raise AssertionError("a test built a Host on the real /proc/sys: use proc_sys")
        original(self, root, proc_sys, **doors)

    monkeypatch.setattr(host_module.Host, "__init__", guarded)
    original_kernel = ProcKernel.__init__

    def guarded_kernel(self: ProcKernel, proc_sys: Path) -> None:
        if Path(proc_sys).resolve() == Path("/proc/sys"):
            raise AssertionError("a test built a ProcKernel on the real /proc/sys")
        original_kernel(self, proc_sys)

    monkeypatch.setattr(ProcKernel, "__init__", guarded_kernel)


class FakeKernel:
    """A kernel in memory, injected as ``Host(root, None, kernel=FakeKernel({...}))``: values by
    dotted key; ``refuse`` names keys whose writes the kernel refuses with EINVAL."""

    available = True
    where = "fake kernel"

    def __init__(self, values: dict[str, str], refuse: frozenset[str] = frozenset()) -> None:
        self.values = dict(values)
        self.refuse = refuse
        self.writes: list[tuple[str, str]] = []
        self.proc: dict[str, str] = {}  # files of /proc beside /proc/sys, by name (net/sockstat)

    def read_raw(self, key: SysctlKey) -> str | None:
        return self.values.get(key.name)

    def write(self, key: SysctlKey, value: str) -> None:
        if key.name in self.refuse:
            raise HostError(
                f"cannot set {key} = {value}: the kernel refused the value (Invalid argument)"
            )
        if key.name not in self.values:
            raise HostError(f"cannot write {key}: No such file or directory")
        self.writes.append((key.name, value))
        self.values[key.name] = value

    def names(self) -> Iterator[str]:
        return iter(sorted(self.values))

    def read_proc(self, name: str) -> str | None:
        return self.proc.get(name)

    def listening_ports(self) -> set[int]:
        return set()

    def release(self) -> str | None:
        return "6.1.0-fake"

    def page_size(self) -> int | None:
        return 4096

    # doctor's view: an empty namespace unless a test sets these
    sockets: Census = Census({}, {}, (), (), 0)
    scanned: ProcessScan = ProcessScan((), 0, 0)

    def census(
        self, progress: Progress | None = None, split: int | None = None, reuse_after_ms: int = 1000
    ) -> Census:
        return self.sockets

    bound: tuple[int, ...] = ()

    def bound_ports(self) -> tuple[int, ...]:
        return self.bound

    def processes(self, top: int) -> ProcessScan:
        return ProcessScan(self.scanned.closest[:top], self.scanned.seen, self.scanned.unseen)

    def network_namespace(self) -> tuple[str | None, bool | None]:
        return "net:[4026532000]", False


@pytest.fixture
def cwd_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository so messages name files as profiles/x.yaml."""
    monkeypatch.chdir(REPO)
    return REPO


def snapshot(*bases: Path, skip: str = "var/lib/tuner") -> dict[str, tuple[object, ...]]:
    """Every directory, file and link below ``bases`` with its mode, owner and content."""
    found: dict[str, tuple[object, ...]] = {}
    for base in bases:
        for path in sorted(base.rglob("*")):
            rel = f"{base.name}/{path.relative_to(base)}"
            if rel.startswith(f"{base.name}/{skip}"):
                continue
            info = path.lstat()
            if path.is_symlink():
                found[rel] = ("link", str(path.readlink()))
            elif path.is_dir():
                found[rel] = ("dir", info.st_mode, info.st_uid)
            else:
                found[rel] = ("file", info.st_mode, info.st_uid, path.read_bytes())
    return found


def have(*commands: str) -> bool:
    return all(shutil.which(c) for c in commands)


def can_unshare() -> bool:
    if os.geteuid() != 0 or not have("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "true"], capture_output=True, check=False
    )
    return probe.returncode == 0


# Skipped for a developer without root; never in CI, where a missing sandbox must fail loudly.
needs_sandbox = pytest.mark.skipif(
    not os.environ.get("CI") and not can_unshare(), reason="needs root and unshare(1)"
)


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "profiles"
    directory.mkdir()
    yield directory
