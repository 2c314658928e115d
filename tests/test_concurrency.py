"""Readers beside writers: status, history and a second apply while an apply runs, and while
history --prune deletes generations. A run in progress is never reported as interrupted, a
healthy journal never as damaged."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import DEFAULT_PROC_SYS, write_proc_sys
from sandbox import REPO

from tuner.machine.host import Host

ENV = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")} | {
    "PYTHONPATH": str(REPO)
}
RUNNER = Path(__file__).with_name("crash_runner.py")


def tuner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuner", *args], capture_output=True, text=True,
                          env=ENV, check=False, timeout=120)  # fmt: skip


def fresh(base: Path) -> list[str]:
    for folder in ("root/etc/sysctl.d", "root/etc/security/limits.d", "root/var/lib"):
        (base / folder).mkdir(parents=True)
    write_proc_sys(base / "proc_sys", DEFAULT_PROC_SYS)
    return ["--root", str(base / "root"), "--proc-sys", str(base / "proc_sys")]


def test_readers_see_a_running_apply_as_running(tmp_path: Path) -> None:
    where = fresh(tmp_path)
    assert tuner("apply", "base", "--yes", *where).returncode == 0
    running = subprocess.Popen(
        [sys.executable, str(RUNNER), "pause", "write_sysctl", "1", "apply", "haproxy-2m-conns",
         "--yes", *where], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    host = Host(tmp_path / "root", tmp_path / "proc_sys")
    deadline = time.monotonic() + 30
    while not host.lock_held():
        assert time.monotonic() < deadline and running.poll() is None, "apply never started"
        time.sleep(0.02)
    status = tuner("status", "--detailed-exitcode", *where)
    history = tuner("history", *where)
    second = tuner("apply", "loadgen-client", "--yes", *where)
    _out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert status.returncode == 0, status.stdout + status.stderr
    assert "A tuner run is in progress" in status.stdout
    assert "Applied: base (generation 1" in status.stdout
    for said in (status.stdout + status.stderr, history.stdout + history.stderr):
        assert "did not finish" not in said and "interrupted" not in said, said
    assert second.returncode == 1
    assert f"another tuner run holds the lock (pid {running.pid})" in second.stderr
    after = tuner("status", "--detailed-exitcode", *where)
    assert after.returncode == 0 and "Applied: haproxy-2m-conns (generation 2" in after.stdout


def test_readers_never_see_a_prune_as_damage(tmp_path: Path) -> None:
    where = fresh(tmp_path)
    for _ in range(4):
        for profile in ("base", "loadgen-client"):
            assert tuner("apply", profile, "--yes", *where).returncode == 0
        assert tuner("rollback", "--yes", *where).returncode == 0
    pruning = [
        subprocess.Popen([sys.executable, "-m", "tuner", "history", "--prune", str(keep), *where],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        for keep in (9, 6, 3, 1)
    ]  # fmt: skip
    seen = []
    while any(p.poll() is None for p in pruning):
        for command in ("status", "history"):
            result = tuner(command, "--detailed-exitcode", *where) if command == "status" else (
                tuner(command, *where))  # fmt: skip
            seen.append((command, result.returncode, result.stdout + result.stderr))
    for process in pruning:
        _out, err = process.communicate()
        assert process.returncode in (0, 1), err  # 1: the lock was busy with another prune
        assert "damaged" not in err
    assert seen, "the prunes ended before any reader ran"
    for command, code, said in seen:
        assert code == 0, (command, said)
        assert "damaged" not in said and "did not finish" not in said, (command, said)
