"""systemd: the machine's door to it, which units a change of drop-ins concerns, and making
systemd read them.

``Systemd`` is what the host offers (``SystemdManager`` runs the real systemctl; tests inject a
fake): whether systemd runs the machine (sd_booted(3): /run/systemd/system exists) and systemctl
itself. ``reload`` runs ``daemon-reload``, then ``try-restart`` on request, or says what was
skipped. A failing systemctl leaves the change made and journaled and says what to run again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Protocol

from tuner.base.errors import HostError

if TYPE_CHECKING:
    from tuner.machine.host import Host

SYSTEMD_DIR = PurePosixPath("/etc/systemd/system")


class Systemd(Protocol):
    def booted(self) -> bool:
        """Whether systemd runs this machine."""

    def systemctl(self, *args: str) -> None:
        """Run systemctl; a failure raises HostError with what systemctl said."""


class SystemdManager:
    """The real one, for the running system's own root (never for an image)."""

    def __init__(self, live_root: bool) -> None:
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


def reload(host: Host, units: list[str], restart: bool, done: str) -> list[str]:
    """Make systemd read the changed drop-ins of ``units`` (``done`` says what already happened,
    for the message if systemctl fails): daemon-reload, then restart them or say they need it.
    Returns what was done, a line each, for the command to print (or put in its JSON)."""
    if not units:
        return []
    if host.image_mode or not host.is_live_root:
        return ["Image root: no daemon-reload; the units read their drop-ins at boot."]
    if not host.systemd.booted():
        return [
            "PID 1 is not systemd: skipped `systemctl daemon-reload`.",
            f"New limits take effect when these start under systemd: {', '.join(units)}",
        ]
    steps: dict[tuple[str, ...], str] = {("daemon-reload",): "Ran `systemctl daemon-reload`."}
    if restart:
        steps |= {
            ("try-restart", "--", unit): f"Restarted {unit} (if it was running)." for unit in units
        }
    said: list[str] = []
    for step, line in steps.items():
        try:
            host.systemd.systemctl(*step)
        except HostError as exc:
            raise HostError(
                f"{done}, but {exc}. Run `systemctl {' '.join(step)}` once the cause is fixed"
            ) from None
        said.append(line)
    if not restart:
        said.append(f"Restart for the new limits to take effect: {', '.join(units)}")
    return said
