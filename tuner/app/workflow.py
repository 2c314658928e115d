"""What apply and rollback share: the person (or program) who reviews a change before it is made,
and the checks made before anything is touched."""

from __future__ import annotations

from typing import Protocol

from tuner.base.errors import Declined, TunerError
from tuner.changes.plan import Plan
from tuner.machine.host import Host
from tuner.state.recovery import Preview


class Review(Protocol):
    """The command line's side of a change: it shows what will happen, warns, and asks."""

    def show(self, proposal: Plan | Preview) -> None:
        """What is about to be done (apply: the plan; rollback: what will be undone)."""

    def warn(self, message: str) -> None:
        """Something the person should see before saying yes."""

    def confirm(self, question: str) -> bool | None:
        """Whether to go on; None when there is nobody to ask (no terminal)."""


def require_root(host: Host, verb: str) -> None:
    if host.is_live_root and not host.caller.privileged:
        raise TunerError(f"{verb} on / needs root: nothing was changed (try sudo)")


def warn_chroot(host: Host, review: Review, plan: Plan | None = None) -> None:
    """Loudly, before any live write, when / looks like a chroot."""
    writes_kernel = plan is None or any(c.layer == "kernel" for c in plan.pending)
    warning = host.chroot_warning() if writes_kernel else None
    if warning:
        review.warn(warning.upper()[:1] + warning[1:])


def agreed(review: Review, *, yes: bool, question: str, verb: str) -> None:
    """Go on with ``yes``, or when the reviewer agrees; otherwise nothing is changed (``verb``:
    what the person would be agreeing to, "apply" or "roll back")."""
    if yes:
        return
    answer = review.confirm(question)
    if answer is None:
        raise TunerError(f"not a terminal, so not asking: pass --yes to {verb} without "
                         "confirmation; nothing was changed")  # fmt: skip
    if not answer:
        raise Declined("Nothing was changed.")
