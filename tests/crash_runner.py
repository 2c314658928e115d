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

from tuner.cli.main import main
from tuner.machine.host import Host
from tuner.machine.kernel import ProcKernel


def arm(action: str, method: str, nth: int) -> None:
    calls = 0

    def fault() -> None:
        nonlocal calls
        calls += 1
        if calls == nth:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3)

    if method == "rename":  # os.rename with directory fds, inside RootFS.write
        rename = os.rename

        def renaming(source: str, target: str, **dir_fds: int) -> None:
            if str(source).endswith(".tuner-tmp"):  # not a cache entry's rename: a step
                fault()
            rename(source, target, **dir_fds)

        os.rename = renaming  # type: ignore[assignment]
        return
    owner, name = (ProcKernel, "write") if method == "write_sysctl" else (Host, method)
    original = getattr(owner, name)

    def faulty(self: object, *args: object) -> object:
        fault()
        return original(self, *args)

    setattr(owner, name, faulty)


if __name__ == "__main__":
    arm(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    sys.exit(main(sys.argv[4:]))
