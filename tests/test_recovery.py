"""Recovery that never strands a host: double faults, failed undo, a full journal, signals.

The invariant everywhere: after the faults, at most one plain ``tuner rollback --yes`` brings the
files (bytes, mode, owner), directories and live values back exactly to what they were before
the first apply; ``status --detailed-exitcode`` is 0; apply is allowed again; and no temporary
file is left anywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import faults
import pytest
from conftest import REPO, snapshot

from tuner.machine.host import Host
from tuner.state.journal import Journal

PROFILE = "haproxy-2m-conns"


def where(root: Path, proc_sys: Path) -> list[str]:
    return ["--root", str(root), "--proc-sys", str(proc_sys)]


def temporaries(*bases: Path) -> list[str]:
    return [str(p) for base in bases for p in base.rglob("*.tuner-tmp")]


def assert_recovered(root: Path, proc_sys: Path, before: dict[str, tuple[object, ...]]) -> None:
    """One plain rollback (whatever it finds to do), then the invariant."""
    rolled = faults.run(["rollback", "--yes", *where(root, proc_sys)], work=root.parent)
    assert rolled.code in (0, 1), rolled.output
    assert rolled.code == 0 or "nothing to roll back" in rolled.output, rolled.output
    check_exact(root, proc_sys, before)


def check_exact(root: Path, proc_sys: Path, before: dict[str, tuple[object, ...]]) -> None:
    assert snapshot(root, proc_sys) == before
    assert temporaries(root, proc_sys) == []
    status = faults.run(["status", "--detailed-exitcode", *where(root, proc_sys)], work=root.parent)
    assert status.code == 0, status.output
    assert Journal(Host(root, proc_sys)).unsettled() == []


def steps_of(args: list[str], root: Path, proc_sys: Path) -> int:
    """How many steps ``args`` takes on a copy of the trees (which stay as they are)."""
    scratch = root.parent / "count"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(root, scratch / "root", symlinks=True)
    shutil.copytree(proc_sys, scratch / "proc_sys", symlinks=True)
    swapped = [str(scratch / "root") if a == str(root) else a for a in args]
    swapped = [str(scratch / "proc_sys") if a == str(proc_sys) else a for a in swapped]
    outcome = faults.run(swapped, work=root.parent)
    assert outcome.code == 0, outcome.output
    shutil.rmtree(scratch)
    return outcome.steps


def restore(saved: Path, root: Path, proc_sys: Path) -> None:
    for name, target in (("root", root), ("proc_sys", proc_sys)):
        shutil.rmtree(target)
        shutil.copytree(saved / name, target, symlinks=True)


def save(root: Path, proc_sys: Path, saved: Path) -> None:
    shutil.rmtree(saved, ignore_errors=True)
    shutil.copytree(root, saved / "root", symlinks=True)
    shutil.copytree(proc_sys, saved / "proc_sys", symlinks=True)


# --- the scenarios of issue 9 ------------------------------------------------------------------


def test_a_killed_recovery_rollback_is_finished_not_flipped(root: Path, proc_sys: Path) -> None:
    """Kill apply at its 3rd live write, then the recovery rollback at its 3rd live write."""
    before = snapshot(root, proc_sys)
    apply = ["apply", PROFILE, "--yes", *where(root, proc_sys)]
    counted = faults.run(apply, work=root.parent, at=10**6)  # count only, on a scratch copy below
    assert counted.code == 0
    assert faults.run(["rollback", "--yes", *where(root, proc_sys)], work=root.parent).code == 0
    assert snapshot(root, proc_sys) == before
    # the 3rd write_sysctl is step 5 + 6 + 3: pending save (2), reservation, 3 files (2 each)
    killed = faults.run(apply, at=12, work=root.parent)
    assert killed.code == faults.KILLED
    assert (proc_sys / "fs/nr_open").read_text() != "1048576\n"  # half applied
    recovery = faults.run(["rollback", "--yes", *where(root, proc_sys)], at=12, work=root.parent)
    assert recovery.code == faults.KILLED
    status = faults.run(["status", "--detailed-exitcode", *where(root, proc_sys)], work=root.parent)
    assert status.code == 2
    assert (
        "(rollback haproxy-2m-conns" in status.output
        and "Run `tuner rollback` to finish it" in status.output
    )
    refused = faults.run(apply, work=root.parent)
    assert refused.code == 1 and "apply refuses until then" in refused.output
    finishing = faults.run(["rollback", "--yes", *where(root, proc_sys)], work=root.parent)
    assert finishing.code == 0, finishing.output
    assert "Finishing generation 4 (rollback of 3, did not finish)" in finishing.output
    check_exact(root, proc_sys, before)
    again = faults.run(["rollback", "--yes", *where(root, proc_sys)], work=root.parent)
    assert (again.code, snapshot(root, proc_sys)) == (1, before)  # no flip back
    assert "nothing to roll back: no apply is in effect" in again.output
    assert faults.run(apply, work=root.parent).code == 0  # apply is allowed again


def test_when_undo_fails_the_run_stays_visible_until_rollback(root: Path, proc_sys: Path) -> None:
    """/etc turns read-only at apply's 3rd file write: that write fails, and so does the undo of
    the first two."""
    before = snapshot(root, proc_sys)
    apply = ["apply", PROFILE, "--yes", *where(root, proc_sys)]
    outcome = _fail_from(apply, 3)
    assert outcome.code == 1
    assert "Undoing it also failed" in outcome.output
    assert "needs recovery" in outcome.output
    status = faults.run(["status", "--detailed-exitcode", *where(root, proc_sys)], work=root.parent)
    assert status.code == 2
    assert "failed, and undoing it failed too" in status.output
    assert "No profile applied" in status.output
    refused = faults.run(apply, work=root.parent)
    assert (
        refused.code == 1
        and "Run `tuner rollback` to restore the state from before it" in refused.output
    )
    assert_recovered(root, proc_sys, before)


def _fail_from(args: list[str], first: int) -> faults.Outcome:
    """Make /etc read-only from its ``first`` write on (the journal in /var stays writable)."""
    script = (
        "import sys\n"
        "from tuner.base.errors import HostError\n"
        "from tuner.machine.host import Host\n"
        "calls = [0]\n"
        "def arm(name):\n"
        "    original = getattr(Host, name)\n"
        "    def wrapped(self, path, *args):\n"
        "        if str(path).startswith('/etc/'):\n"
        "            calls[0] += 1\n"
        f"            if calls[0] >= {first}:\n"
        "                raise HostError(f'cannot write {path}: Read-only file system')\n"
        "        return original(self, path, *args)\n"
        "    setattr(Host, name, wrapped)\n"
        "for name in ('write_file', 'remove_file'):\n"
        "    arm(name)\n"
        "from tuner.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                            text=True, env=env, check=False)  # fmt: skip
    return faults.Outcome(result.returncode, result.stdout + result.stderr, 0)


def test_a_full_journal_at_the_final_save_undoes_everything(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys)
    apply = ["apply", PROFILE, "--yes", *where(root, proc_sys)]
    total = steps_of(apply, root, proc_sys)
    outcome = faults.run(apply, at=total - 1, fault="ENOSPC", work=root.parent)  # complete save
    assert outcome.code == 1
    assert "every change was made, but recording it in the journal failed" in outcome.output
    assert "so every change was undone: the host is as it was" in outcome.output
    check_exact(root, proc_sys, before)


def test_a_full_journal_before_the_start_is_a_clear_error(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys)
    apply = ["apply", PROFILE, "--yes", *where(root, proc_sys)]
    reserve = faults.run(apply, at=3, fault="ENOSPC", work=root.parent)  # the reservation
    assert reserve.code == 1
    assert "the journal has no room; nothing was changed" in reserve.output
    check_exact(root, proc_sys, before)
    script = (
        "import os, sys, errno\n"
        "def full(*a): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "os.pwrite = full\n"
        "from tuner.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    lock = subprocess.run([sys.executable, "-c", script, *apply], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip
    assert lock.returncode == 1, lock.stderr
    assert "cannot write the lock" in lock.stderr and "No space left on device" in lock.stderr
    assert "nothing was changed" in lock.stderr and "Traceback" not in lock.stderr
    check_exact(root, proc_sys, before)


def paused_apply(step: str, root: Path, proc_sys: Path, started: Callable[[], bool]) -> Popen[str]:
    """``tuner apply`` in a child that pauses 3 s at its first ``step`` (crash_runner), returned
    once ``started()`` says it got there."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runner = Path(__file__).with_name("crash_runner.py")
    nth = "3" if step == "write_sysctl" else "1"
    process = subprocess.Popen(
        [sys.executable, str(runner), "pause", step, nth, "apply", PROFILE, "--yes",
         *where(root, proc_sys)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not started():
        assert time.monotonic() < deadline and process.poll() is None, "apply never got there"
        time.sleep(0.02)
    return process


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                              (signal.SIGINT, 130)])  # fmt: skip
def test_sigterm_and_sighup_are_undone_like_sigint(
    signum: int, code: int, root: Path, proc_sys: Path
) -> None:
    before = snapshot(root, proc_sys)
    process = paused_apply(  # at its 3rd live write
        "write_sysctl", root, proc_sys, lambda: (proc_sys / "fs/nr_open").read_text() != "1048576\n"
    )
    process.send_signal(signum)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    name = signal.Signals(signum).name
    assert err.strip().endswith(
        f"interrupted by {name}: nothing was changed: every step was undone"
    ), err
    check_exact(root, proc_sys, before)
    [generation] = Journal(Host(root, proc_sys)).generations()
    assert (generation.status, generation.error) == ("failed", f"interrupted by {name}")


def test_a_kill_before_the_journals_final_rename_leaves_no_temporary_file(
    root: Path, proc_sys: Path
) -> None:
    before = snapshot(root, proc_sys)
    apply = ["apply", PROFILE, "--yes", *where(root, proc_sys)]
    total = steps_of(apply, root, proc_sys)
    killed = faults.run(apply, at=total, work=root.parent)  # the rename of the complete save
    assert killed.code == faults.KILLED
    assert any("generations/.0000" in t for t in temporaries(root))
    assert_recovered(root, proc_sys, before)


def test_plan_says_it_will_refuse_a_planted_symlink(root: Path, proc_sys: Path) -> None:
    victim = root / "victim"
    victim.write_text("precious\n")
    (root / "etc/sysctl.d/99-tuner.conf").symlink_to("/victim")
    plan = faults.run(["plan", PROFILE, *where(root, proc_sys)], work=root.parent)
    assert plan.code == 1
    assert "precious" not in plan.output
    assert (
        "/etc/sysctl.d/99-tuner.conf: refusing to touch /etc/sysctl.d/99-tuner.conf: it is a symbolic "
        "link: apply would refuse; remove it or put a regular file there" in plan.output
    )
    apply = faults.run(["apply", PROFILE, "--yes", *where(root, proc_sys)], work=root.parent)
    assert apply.code == 1 and "cannot apply" in apply.output
    assert victim.read_text() == "precious\n"


# --- the fault matrix ---------------------------------------------------------------------------


def test_fault_matrix(root: Path, proc_sys: Path) -> None:
    """kill -9 at every step of apply, and for each, every step of the recovery rollback; ENOSPC
    and EROFS at every step of apply and of that recovery. Every cell must end exact."""
    before = snapshot(root, proc_sys)
    initial = root.parent / "initial"
    save(root, proc_sys, initial)
    apply = ["apply", PROFILE, "--yes", *where(root, proc_sys)]
    rollback = ["rollback", "--yes", *where(root, proc_sys)]
    apply_steps = steps_of(apply, root, proc_sys)
    cells = wrong = 0
    failures: list[str] = []
    start = time.monotonic()
    for fault in ("kill", "ENOSPC", "EROFS"):
        for k in range(1, apply_steps + 1):
            restore(initial, root, proc_sys)
            first = faults.run(apply, at=k, fault=fault, work=root.parent)
            assert first.code in (faults.KILLED, 0, 1), first.output
            after_apply = root.parent / "after-apply"
            save(root, proc_sys, after_apply)
            unsettled = Journal(Host(root, proc_sys)).unsettled()
            second_faults = [None] if not unsettled else [*range(1, 40)]
            for j in second_faults:
                restore(after_apply, root, proc_sys)
                if j is not None:
                    second = faults.run(rollback, at=j, fault=fault, work=root.parent)
                    assert second.code in (faults.KILLED, 0, 1), second.output
                    if second.steps < j and second.code != faults.KILLED:
                        break  # past the rollback's last step: the cell before was the last
                cells += 1
                try:
                    assert_recovered(root, proc_sys, before)
                    assert faults.run(apply, work=root.parent).code == 0  # apply allowed again
                except AssertionError as exc:
                    wrong += 1
                    failures.append(f"{fault} apply@{k} rollback@{j}: {str(exc)[:300]}")
    elapsed = time.monotonic() - start
    print(f"fault matrix: {cells} cells ({apply_steps} apply steps x kill/ENOSPC/EROFS, each "
          f"with every recovery step), {cells - wrong} exact, {wrong} not, {elapsed:.0f} s")  # fmt: skip
    assert not failures, failures[:5]
    assert cells > 3 * apply_steps


def test_a_signal_while_the_journal_entry_is_written_leaves_no_trace(
    root: Path, proc_sys: Path
) -> None:
    """The entry and its reservation are written with signals held; a SIGTERM then takes the
    entry back: nothing changed, nothing to settle."""
    before = snapshot(root, proc_sys)
    generations = root / "var/lib/tuner/generations"
    process = paused_apply("reserve_space", root, proc_sys, lambda: any(generations.glob("*.json")))
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err.strip().endswith("interrupted by SIGTERM: nothing was changed"), err
    check_exact(root, proc_sys, before)
    assert Journal(Host(root, proc_sys)).generations() == []
