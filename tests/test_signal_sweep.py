"""A signal after every mutating system call of apply, apply PLAN, rollback and rollback --to:
the host ends exactly as before or exactly as after, with no temporary file, and status agrees
(nothing unsettled, nothing drifted), so the next apply starts from the truth."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import faults
import pytest
from conftest import DEFAULT_PROC_SYS, snapshot, write_proc_sys

Snapshot = dict[str, tuple[object, ...]]


def where(base: Path) -> list[str]:
    return ["--root", str(base / "root"), "--proc-sys", str(base / "proc_sys")]


def fresh(base: Path) -> Path:
    """A Debian-like root and a fake /proc/sys at its defaults."""
    (base / "root/etc/sysctl.d").mkdir(parents=True)
    (base / "root/etc/security/limits.d").mkdir(parents=True)
    (base / "root/var/lib").mkdir(parents=True)
    (base / "root/etc/sysctl.conf").write_text("# sysctl.conf\n")
    write_proc_sys(base / "proc_sys", DEFAULT_PROC_SYS)
    return base


def ok(outcome: faults.Outcome) -> None:
    assert outcome.code == 0, outcome.output


# Each scenario: what to do first (no fault), and the command the signals are aimed at.
def _apply(base: Path) -> list[str]:
    return ["apply", "haproxy-2m-conns", "--yes", *where(base)]


def _apply_plan(base: Path) -> list[str]:
    ok(faults.run(["plan", "haproxy-2m-conns", "--out", str(base / "plan.json"), *where(base)],
                  work=base))  # fmt: skip
    return ["apply", str(base / "plan.json"), *where(base)]


def _rollback(base: Path) -> list[str]:
    ok(faults.run(["apply", "haproxy-2m-conns", "--yes", *where(base)], work=base))
    return ["rollback", "--yes", *where(base)]


def _rollback_to(base: Path) -> list[str]:
    ok(faults.run(["apply", "base", "--yes", *where(base)], work=base))
    ok(faults.run(["apply", "loadgen-client", "--yes", *where(base)], work=base))
    return ["rollback", "--to", "1", "--yes", *where(base)]


def _apply_replacing(base: Path) -> list[str]:
    """A second profile replaces the first: haproxy's drop-in goes, and with it the directories
    the first apply created for it."""
    ok(faults.run(["apply", "haproxy-2m-conns", "--yes", *where(base)], work=base))
    return ["apply", "base", "--yes", *where(base)]


SCENARIOS: dict[str, Callable[[Path], list[str]]] = {
    "apply": _apply, "apply PLAN": _apply_plan, "rollback": _rollback,
    "rollback --to 1": _rollback_to, "apply replacing": _apply_replacing,
}  # fmt: skip


def copy(template: Path, to: Path) -> None:
    """The template's trees; a saved plan names its root, so it is told the new one."""
    shutil.copytree(template, to, symlinks=True)
    plan = to / "plan.json"
    if plan.exists():
        plan.write_text(plan.read_text().replace(str(template), str(to)))


def state(base: Path) -> Snapshot:
    return snapshot(base / "root", base / "proc_sys")


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_signal_at_every_mutating_syscall_leaves_before_or_after(
    tmp_path: Path, scenario: str
) -> None:
    template = fresh(tmp_path / "template")
    command = SCENARIOS[scenario](template)
    before = state(template)
    counted = tmp_path / "counted"
    copy(template, counted)
    run = faults.run_signalled([a.replace(str(template), str(counted)) for a in command], 0,
                               work=tmp_path)  # fmt: skip
    ok(run)
    after = {k.replace("counted/", "template/"): v for k, v in state(counted).items()}
    assert after != before
    steps = run.steps
    assert steps > 20, steps
    signals = [signal.SIGTERM] * steps
    for index in range(0, steps, 7):  # SIGINT and SIGHUP take the same path: a sample of each
        signals[index] = signal.SIGINT if index % 2 else signal.SIGHUP
    bad = []
    for at in range(1, steps + 1):
        trial = tmp_path / f"trial-{at}"
        copy(template, trial)
        argv = [a.replace(str(template), str(trial)) for a in command]
        outcome = faults.run_signalled(argv, at, signals[at - 1], work=tmp_path)
        now = {k.replace(f"trial-{at}/", "template/"): v for k, v in state(trial).items()}
        if outcome.code not in (0, 128 + signals[at - 1]):
            bad.append(f"at {at}: exit {outcome.code}: {outcome.output[-300:]}")
        elif now not in (before, after):
            changed = sorted(k for k in set(now) | set(before) | set(after)
                             if now.get(k) not in (before.get(k), after.get(k)))  # fmt: skip
            bad.append(f"at {at}: neither before nor after: {changed[:4]}; {outcome.output[-200:]}")
        else:
            status = faults.run(["status", "--detailed-exitcode", *where(trial)], work=tmp_path)
            if status.code != 0:
                bad.append(f"at {at}: status exit {status.code}: {status.output[-300:]}")
        shutil.rmtree(trial)
    assert not bad, f"{len(bad)} of {steps} trials:\n" + "\n".join(bad[:10])


def test_a_second_signal_while_the_first_is_reported_changes_nothing(tmp_path: Path) -> None:
    """The first signal (at the first live write) is undone and reported; a second one that
    lands while the report is written is ignored: no traceback, the first one's exit code."""
    base = fresh(tmp_path / "host")
    before = state(base)

    def arm() -> Callable[[], None]:
        import os

        from tuner.cli import report

        original = report.error

        def error(message: str) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # lands while the first one is reported
            original(message)

        report.error = error
        faults._arm_signal(1, signal.SIGINT)
        return lambda: None

    code, output = faults.in_child(["apply", "haproxy-2m-conns", "--yes", *where(base)],
                                   tmp_path, arm)  # fmt: skip
    assert code == 130, output
    assert "Traceback" not in output and "interrupted by SIGINT" in output
    assert state(base) == before
