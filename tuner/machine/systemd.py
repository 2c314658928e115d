"""systemd: the machine's door to it, which units a change of drop-ins concerns,

``Systemd`` is what the host offers (``SystemdManager`` runs the real systemctl; tests inject a
fake): whether systemd runs the machine (sd_booted(3): /run/systemd/system exists) and systemctl
itself. Making systemd read a change is the application's (``app.units``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Protocol

from tuner.base.errors import HostError

SYSTEMD_DIR = PurePosixPath("/etc/systemd/system")


class Systemd(Protocol):
    def booted(self) -> bool:
        """Whether systemd runs this machine."""

    def systemctl(self, *args: str) -> None:
        """Run systemctl; a failure raises HostError with what systemctl said."""


class SystemdManager:
    """The real one, for the running system's own root (never for an image)."""

    def __init__(self, *, live_root: bool) -> None:
        self.live_root = live_root

    def booted(self) -> bool:
        """sd_booted(3): /run/systemd/system is a directory (systemd creates it early at boot;
        a container or a chroot lacks it)."""
        return self.live_root and Path("/run/systemd/system").is_dir()

    def systemctl(self, *args: str) -> None:
        result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise HostError(f"systemctl {' '.join(args)} failed: {result.stderr.strip()}")


def units_of(paths: Iterable[str | PurePosixPath]) -> list[str]:
    """The systemd units whose drop-ins are among ``paths``."""
    dropins = [PurePosixPath(p) for p in paths if str(p).startswith(f"{SYSTEMD_DIR}/")]
    return sorted({path.parent.name.removesuffix(".d") for path in dropins})
