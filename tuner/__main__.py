"""``tuner`` and ``python -m tuner``. A shell asking for completions (``_TUNER_COMPLETE``) is
answered here, before the command line framework and the models load (``cli/completer``: a
TAB costs a fraction of what importing them does); everything else runs ``cli.main``.

Until ``cli.main`` routes the signals to ``machine.signals`` (its first step), a Ctrl-C, SIGTERM
or SIGHUP ends the start quietly: nothing has been done yet, so there is nothing to undo and
no traceback to show, only ``tuner: interrupted by SIGINT while starting`` and 128 + the signal.
"""

from __future__ import annotations

import os
import signal
from types import FrameType


def _starting(signum: int, _frame: FrameType | None) -> None:
    os.write(2, f"tuner: interrupted by {signal.Signals(signum).name} while starting\n".encode())
    os._exit(128 + signum)


def main() -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _starting)
    if os.environ.get("_TUNER_COMPLETE"):
        from tuner.cli import completer

        return completer.answer(os.environ)
    from tuner.cli.main import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
