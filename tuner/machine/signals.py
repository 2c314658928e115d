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
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Shield:
    depth = 0
    held: list[int] = []  # noqa: RUF012 - one per process, like the signal handlers


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
    raise Interrupted(signum)


def install() -> None:
    """Route the three signals to ``Interrupted`` (main thread, once per process)."""
    for signum in SIGNALS:
        signal.signal(signum, _handler)


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
            raise Interrupted(signum)
