"""The signals that end a run: SIGINT, SIGTERM and SIGHUP alike.

What systemd, cloud-init's timeouts and ``timeout(1)`` send (SIGTERM), a closed terminal (SIGHUP)
and Ctrl-C (SIGINT) all raise ``Interrupted`` where the program is, so a transaction undoes what
it did, as for any failure. While it undoes, or records the outcome in the journal, signals are
held back (``shielded``): a second one cannot cut the undo short; it is raised once the shield
ends. The CLI exits 128 + the signal's number (130, 143, 129), as a shell reports it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Shield:
    depth = 0
    held: list[int] = []  # noqa: RUF012 - one per process, like the signal handlers
    raised: list[int] = []  # noqa: RUF012 - every signal turned into Interrupted, in order
    pending: list[int] = []  # noqa: RUF012 - one that landed where it could not be raised


_SHIELD = _Shield()


class Interrupted(BaseException):
    """A run was told to stop by ``signum``; ``outcome`` says what became of its changes."""

    def __init__(self, signum: int, outcome: str = "") -> None:
        super().__init__(signum, outcome)
        self.signum = signum
        self.outcome = outcome

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _handler(signum: int, _frame: FrameType | None) -> None:
    if _SHIELD.depth:
        _SHIELD.held.append(signum)
        return
    _SHIELD.raised.append(signum)
    raise Interrupted(signum)


def forget() -> None:
    """A new run (the CLI's start, once per process; many in a test): no signal yet."""
    _SHIELD.raised.clear()


def raised() -> int | None:
    """The signal this run was told to stop by, if any: a library that caught ``Interrupted``
    and raised its own error instead (pydantic building a validator, say) still ended the run
    because of it."""
    return _SHIELD.raised[0] if _SHIELD.raised else None


def install() -> None:
    """Route the three signals to ``Interrupted`` (main thread, once per process)."""
    for signum in SIGNALS:
        signal.signal(signum, _handler)
    sys.unraisablehook = _unraisable


def _unraisable(unraisable: Any) -> None:
    """A signal that landed where Python cannot raise (a callback of the import machinery, a
    finalizer) would be printed and lost: deliver it again, to land where it ends the run."""
    if isinstance(unraisable.exc_value, Interrupted):
        _SHIELD.pending.append(unraisable.exc_value.signum)
        signal.signal(signal.SIGALRM, _redeliver)  # in a moment: once this callback is over
        signal.setitimer(signal.ITIMER_REAL, 0.002)
        return
    sys.__unraisablehook__(unraisable)


def _redeliver(_signum: int, _frame: FrameType | None) -> None:
    if not _SHIELD.pending:
        return
    signum = _SHIELD.pending.pop()
    if _SHIELD.depth:
        _SHIELD.held.append(signum)
        return
    raise Interrupted(signum)


def ignore() -> None:
    """From now on the three signals do nothing: the run is reporting how it ended."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold signals back for the block; the first one held is raised when the block ends."""
    _SHIELD.depth += 1
    try:
        yield
    finally:
        _SHIELD.depth -= 1
        if not _SHIELD.depth and _SHIELD.held:
            signum = _SHIELD.held[0]
            _SHIELD.held.clear()
            _SHIELD.raised.append(signum)
            raise Interrupted(signum)
