"""After an apply or a rollback changed drop-ins: make systemd read them (``daemon-reload``,
then ``try-restart`` on request), or say what was skipped and why (an image root; PID 1 is not
systemd). A failing systemctl leaves the change made and journaled and says what to run again.
"""

from __future__ import annotations

from tuner.base.errors import HostError
from tuner.machine.host import Host


def reload(host: Host, units: list[str], *, restart: bool, done: str) -> list[str]:
    """Make systemd read the changed drop-ins of ``units`` (``done`` says what already happened,
    for the message if systemctl fails): daemon-reload, then restart them or say they need it.
    Returns what was done, a line each, for the command to print (or put in its JSON)."""
    if not units:
        return []
    if host.image_mode:
        return ["Image root: no daemon-reload; the units read their drop-ins at boot."]
    if not host.is_live_root:
        return [f"--root {host.root} is not this system's /: no daemon-reload; the units read "
                "their drop-ins when they start."]  # fmt: skip
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
