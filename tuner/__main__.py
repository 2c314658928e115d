"""``tuner`` and ``python -m tuner``. A shell asking for completions (``_TUNER_COMPLETE``) is
answered here, before the command line framework and the models load (``cli/completer``: a
TAB costs a fraction of what importing them does); everything else runs ``cli.main``.

Until ``cli.main`` routes the signals to ``machine.signals`` (its first step), a Ctrl-C, SIGTERM
or SIGHUP ends the start quietly: nothing has been done yet, so there is nothing to undo and
no traceback to show, only ``tuner: interrupted by SIGINT while starting`` and 128 + the signal.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # C: the public module builds enums first (slow)
import os

_NAMES = {_signal.SIGINT: "SIGINT", _signal.SIGTERM: "SIGTERM", _signal.SIGHUP: "SIGHUP"}


def _starting(signum: int, _frame: object) -> None:
    os.write(2, f"tuner: interrupted by {_NAMES.get(signum, signum)} while starting\n".encode())
    os._exit(128 + signum)


def _quiet_start() -> None:
    for signum in _NAMES:
        _signal.signal(signum, _starting)


_quiet_start()  # as soon as this entry point is loaded, before anything else is


def main() -> int:
    _quiet_start()
    if os.environ.get("_TUNER_COMPLETE"):
        from tuner.cli import completer

        return completer.answer(os.environ)
    from tuner.cli.main import main as run

    return run()


if __name__ == "__main__":
    raise SystemExit(main())
