"""What a new login session can really get: limits lines that cannot take effect on this machine.

pam_limits raises a session's limits with setrlimit() as root. Raising a *hard* limit needs
CAP_SYS_RESOURCE; in a container without it (or under any parent that dropped it from the
bounding set), a session never gets more than the hard limit it inherited, ultimately PID 1's,
and pam_limits carries on without a word (a refused setrlimit is not an error to it). So a
profile's ``nofile 262144`` is applied, status sees the file as written, and a new login still
gets 20000. tuner reads the bounding set (/proc/self/status CapBnd, bit 24) and PID 1's hard
limit (/proc/1/limits) through the kernel door and says so in plan (rule ``limit-capped``) and
status.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner.base.limits import Rlimit
from tuner.machine.kernel import Kernel
from tuner.machine.processes import nofile_of

CAP_SYS_RESOURCE = 24


@dataclass(frozen=True)
class SessionCap:
    hard: int  # the most a new login's nofile can be here: PID 1's hard limit
    here: int | None = None  # tuner's own hard limit, what su from this shell starts from

    @property
    def reason(self) -> str:
        shell = (
            f"; {self.here:,} for su from this shell" if self.here and self.here < self.hard else ""
        )
        return (
            f"no CAP_SYS_RESOURCE on this machine (a container?): no session can raise its hard "
            f"limit above what it inherits, {self.hard:,} from PID 1{shell}"
        )


def nofile_cap(kernel: Kernel) -> SessionCap | None:
    """The nofile ceiling of a new session, or None when nothing caps it below fs.nr_open (or
    when there is no live kernel to ask)."""
    if not kernel.available:
        return None
    status = kernel.read_proc("self/status")
    bounding = next(
        (line.split()[1] for line in (status or "").splitlines() if line.startswith("CapBnd:")),
        None,
    )
    if bounding is None or int(bounding, 16) >> CAP_SYS_RESOURCE & 1:
        return None
    _soft, own = nofile_of(kernel.read_proc("self/limits") or "")
    _soft, first = nofile_of(kernel.read_proc("1/limits") or "")
    hard = first if first is not None else own
    return None if hard is None else SessionCap(hard, own)


def capped(value: str, cap: SessionCap) -> bool:
    """Whether a nofile value (a number or unlimited) is more than a session can get."""
    try:
        return Rlimit.parse(value).above(cap.hard)
    except ValueError:
        return False
