"""Run the tuner CLI, killing itself with SIGKILL just before the Nth call of a Host method.

    python tests/crash_runner.py METHOD N tuner-args...

Used by test_crash.py to stop apply at every step the way a power cut or kill -9 would.
"""

from __future__ import annotations

import os
import signal
import sys

from tuner.cli import main
from tuner.host import Host


def arm(method: str, nth: int) -> None:
    original = getattr(Host, method)
    calls = 0

    def lethal(self: Host, *args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args)

    setattr(Host, method, lethal)


if __name__ == "__main__":
    arm(sys.argv[1], int(sys.argv[2]))
    sys.exit(main(sys.argv[3:]))
