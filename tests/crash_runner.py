"""Run the tuner CLI with a fault just before the Nth call of a Host method.

python tests/crash_runner.py kill METHOD N tuner-args...    # SIGKILL, as a power cut would
python tests/crash_runner.py pause METHOD N tuner-args...   # sleep 3 s (to race another run)
"""

from __future__ import annotations

import os
import signal
import sys
import time

from tuner.cli import main
from tuner.host import Host


def arm(action: str, method: str, nth: int) -> None:
    original = getattr(Host, method)
    calls = 0

    def faulty(self: Host, *args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == nth:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3)
        return original(self, *args)

    setattr(Host, method, faulty)


if __name__ == "__main__":
    arm(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    sys.exit(main(sys.argv[4:]))
