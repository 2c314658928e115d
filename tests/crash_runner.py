"""Run the tuner CLI with a fault just before the Nth call of a Host method.

python tests/crash_runner.py kill METHOD N tuner-args...    # SIGKILL, as a power cut would
python tests/crash_runner.py pause METHOD N tuner-args...   # sleep 3 s (to race another run)

METHOD is a Host method, or ``rename``: the rename inside ``Host.write_file`` that puts the
written temporary file in place (a kill before it leaves that file beside the target).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from tuner.cli import main
from tuner.host import Host
from tuner.kernel import ProcKernel


def arm(action: str, method: str, nth: int) -> None:
    owner, name = {"rename": (Path, "replace"), "write_sysctl": (ProcKernel, "write")}.get(
        method, (Host, method)
    )
    original = getattr(owner, name)
    calls = 0

    def faulty(self: object, *args: object) -> object:
        nonlocal calls
        if owner is Path and not str(self).endswith(".tuner-tmp"):
            return original(self, *args)  # another rename (a cache entry): not a step
        calls += 1
        if calls == nth:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3)
        return original(self, *args)

    setattr(owner, name, faulty)


if __name__ == "__main__":
    arm(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    sys.exit(main(sys.argv[4:]))
