"""systemd: which units a change of drop-ins concerns, and making systemd read them.

Behind the host's door (``Host.systemd_is_pid1``, ``Host.systemctl``): when systemd runs the
machine (sd_booted(3): /run/systemd/system exists), ``daemon-reload``, then ``try-restart`` on
request; otherwise say what was skipped. A failing systemctl leaves the change made and
journaled and says which command to run again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from tuner import render, report
from tuner.errors import HostError
from tuner.host import Host


def units_of(paths: Iterable[str | PurePosixPath]) -> list[str]:
    """The systemd units whose drop-ins are among ``paths``."""
    dropins = [PurePosixPath(p) for p in paths if str(p).startswith(f"{render.SYSTEMD_DIR}/")]
    return sorted({path.parent.name.removesuffix(".d") for path in dropins})


def reload(host: Host, units: list[str], restart: bool, done: str) -> None:
    """Make systemd read the changed drop-ins of ``units`` (``done`` says what already happened,
    for the message if systemctl fails): daemon-reload, then restart them or say they need it."""
    if not units:
        return
    if host.image_mode or not host.is_live_root:
        report.out("Image root: no daemon-reload; the units read their drop-ins at boot.")
        return
    if not host.systemd_is_pid1():
        report.out("PID 1 is not systemd: skipped `systemctl daemon-reload`.")
        report.out(f"New limits take effect when these start under systemd: {', '.join(units)}")
        return
    steps: dict[tuple[str, ...], str] = {("daemon-reload",): "Ran `systemctl daemon-reload`."}
    if restart:
        steps |= {("try-restart", unit): f"Restarted {unit} (if it was running)." for unit in units}
    for step, said in steps.items():
        try:
            host.systemctl(*step)
        except HostError as exc:
            raise HostError(
                f"{done}, but {exc}. Run `systemctl {' '.join(step)}` once the cause is fixed"
            ) from None
        report.out(said)
    if not restart:
        report.out(f"Restart for the new limits to take effect: {', '.join(units)}")
