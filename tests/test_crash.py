"""kill -9 at every step of an apply: the next command notices, and rollback restores exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, snapshot

from tuner.machine.host import Host
from tuner.state.journal import Journal

RUNNER = Path(__file__).with_name("crash_runner.py")
PROFILE = "haproxy-2m-conns"
# write_file: 1 journal (pending), 2-4 the three files, 5 journal (complete); write_sysctl: 1-10;
# rename: inside write_file 2-4, after the temporary file is written (one in a new directory)
STEPS = (
    [("write_file", n) for n in range(1, 6)]
    + [("rename", n) for n in range(2, 5)]
    + [("write_sysctl", n) for n in range(1, 11)]
)


def cli(*args: str, runner: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, *(runner or ["-m", "tuner"]), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize(("method", "nth"), STEPS, ids=[f"{m}-{n}" for m, n in STEPS])
def test_killed_apply_is_detected_and_rolled_back(
    method: str, nth: int, root: Path, proc_sys: Path
) -> None:
    where = ["--root", str(root), "--proc-sys", str(proc_sys)]
    before = snapshot(root, proc_sys)
    killed = cli("apply", PROFILE, "--yes", *where, runner=[str(RUNNER), "kill", method, str(nth)])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if (method, nth) == ("write_file", 1):  # killed before the journal entry existed
        assert snapshot(root, proc_sys) == before
        assert "no generations" in cli("rollback", "--yes", *where).stderr
        return
    plan = cli("plan", PROFILE, *where)
    assert "generation 1 (apply haproxy-2m-conns" in plan.stdout
    assert "did not finish" in plan.stdout
    refused = cli("apply", PROFILE, "--yes", *where)
    assert refused.returncode == 1
    assert "apply refuses until then" in refused.stderr
    rolled = cli("rollback", "--yes", *where)
    assert rolled.returncode == 0, rolled.stderr
    assert snapshot(root, proc_sys) == before
    assert "did not finish" not in cli("plan", PROFILE, *where).stdout


def test_steps_cover_every_write_of_an_apply(root: Path, proc_sys: Path) -> None:
    """If apply grows a step, STEPS must grow too: killing one call past the end does nothing."""
    where = ["--root", str(root), "--proc-sys", str(proc_sys)]
    for method, total in (("write_file", 5), ("rename", 5), ("write_sysctl", 10)):
        result = cli(
            "apply", PROFILE, "--yes", *where, runner=[str(RUNNER), "kill", method, str(total + 1)]
        )
        assert result.returncode == 0, (method, result.stderr)
        assert cli("rollback", "--yes", *where).returncode == 0


def test_two_applies_at_once_one_proceeds_the_other_fails_cleanly(
    root: Path, proc_sys: Path
) -> None:
    where = ["--root", str(root), "--proc-sys", str(proc_sys)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(
        [sys.executable, str(RUNNER), "pause", "write_sysctl", "1", "apply", PROFILE, "--yes", *where],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    host = Host(root, proc_sys)
    deadline = time.monotonic() + 20
    while not host.lock_held():  # the first run is inside its transaction
        assert time.monotonic() < deadline, "the first apply never took the lock"
        time.sleep(0.05)
    second = cli("apply", PROFILE, "--yes", *where)
    _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert second.stderr == (
        f"tuner: error: another tuner run holds the lock (pid {first.pid}); --wait-lock "
        "SECONDS waits for it: nothing was changed\n"
    )
    [generation] = Journal(host).generations()
    assert (generation.number, generation.status) == (1, "complete")
    assert cli("status", "--detailed-exitcode", *where).returncode == 0
