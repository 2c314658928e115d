"""apply, rollback, history and status on fake trees (--root and --proc-sys under tmp_path)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from pathlib import Path

import pytest
from conftest import DEFAULT_PROC_SYS, FakeKernel, library, snapshot, step_owner
from typer.testing import CliRunner

from tuner.app import apply, plan
from tuner.base.errors import HostError, TunerError
from tuner.base.keys import SysctlKey
from tuner.cli.main import app
from tuner.machine.host import Caller, Host
from tuner.machine.kernel import ProcKernel
from tuner.profile.ref import ProfileRef
from tuner.state.journal import Journal

runner = CliRunner()


def tuner(root: Path, proc_sys: Path | None, *args: str):  # type: ignore[no-untyped-def]
    where = ["--root", str(root)] + (["--proc-sys", str(proc_sys)] if proc_sys else [])
    return runner.invoke(app, [*args, *where])


def generations(root: Path) -> list[int]:
    return [g.number for g in Journal(Host(root, None)).generations()]


def test_apply_then_rollback_is_byte_identical(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys)
    applied = tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Applied haproxy-2m-conns: generation 1." in applied.output
    assert (proc_sys / "fs/nr_open").read_text() == "8388608\n"
    assert (root / "etc/systemd/system/haproxy.service.d/99-tuner.conf").exists()
    rolled = tuner(root, proc_sys, "rollback", "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert snapshot(root, proc_sys) == before


def test_rollback_walks_back_one_apply_at_a_time(root: Path, proc_sys: Path) -> None:
    """apply A, apply B; rollback -> A; rollback -> before A; rollback -> nothing left."""
    before = snapshot(root, proc_sys)
    assert tuner(root, proc_sys, "apply", "loadgen-client", "--yes").exit_code == 0
    a = snapshot(root, proc_sys)
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    status = json.loads(tuner(root, proc_sys, "status", "--json").output)
    assert [g["generation"] for g in status["in_effect"]] == [1, 2]
    first = tuner(root, proc_sys, "rollback", "--yes")
    assert first.exit_code == 0, first.output
    assert "Rolling back generation 2 (haproxy-2m-conns)" in first.output
    assert snapshot(root, proc_sys) == a
    status = json.loads(tuner(root, proc_sys, "status", "--json").output)
    assert (status["applied"], status["generation"], status["drifted"]) == (
        "loadgen-client",
        1,
        False,
    )
    second = tuner(root, proc_sys, "rollback", "--yes")
    assert second.exit_code == 0, second.output
    assert "Rolling back generation 1 (loadgen-client)" in second.output
    assert snapshot(root, proc_sys) == before
    third = tuner(root, proc_sys, "rollback", "--yes")
    assert third.exit_code == 1
    assert "nothing to roll back: no apply is in effect" in third.output
    status = tuner(root, proc_sys, "status", "--detailed-exitcode")
    assert (status.exit_code, status.output) == (0, "No profile applied.\n")


def test_rollback_to_n_restores_the_state_before_n_across_later_applies(
    root: Path, proc_sys: Path
) -> None:
    before = snapshot(root, proc_sys)
    assert tuner(root, proc_sys, "apply", "loadgen-client", "--yes").exit_code == 0
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    rolled = tuner(root, proc_sys, "rollback", "--to", "1", "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert "Rolling back generations 2 (haproxy-2m-conns), 1 (loadgen-client)" in rolled.output
    assert snapshot(root, proc_sys) == before
    status = tuner(root, proc_sys, "status", "--detailed-exitcode")
    assert (status.exit_code, status.output) == (0, "No profile applied.\n")
    again = tuner(root, proc_sys, "rollback", "--to", "2", "--yes")
    assert again.exit_code == 1
    assert "generation 2 and every apply after it are not in effect" in again.output
    history = json.loads(tuner(root, proc_sys, "history", "--json").output)["generations"]
    assert [(g["generation"], g["status"], g["undoes"]) for g in history] == [
        (1, "rolled back", []),
        (2, "rolled back", []),
        (3, "complete", [1, 2]),
    ]


def test_second_apply_changes_nothing(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in [*root.rglob("*"), *proc_sys.rglob("*")]}
    again = tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes")
    assert again.exit_code == 0
    assert again.output.splitlines()[-1] == "No changes: the host already matches the profile."
    assert generations(root) == [1]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_dry_run_changes_nothing(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys, skip="nothing")
    result = tuner(root, proc_sys, "apply", "base", "--dry-run")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "Dry run: nothing was changed."
    assert snapshot(root, proc_sys, skip="nothing") == before


def test_without_a_terminal_and_without_yes_it_refuses(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys, skip="nothing")
    result = tuner(root, proc_sys, "apply", "base")
    assert result.exit_code == 1
    assert result.stderr == (
        "tuner: error: not a terminal, so not asking: pass --yes to apply without confirmation; "
        "nothing was changed\n"
    )
    assert snapshot(root, proc_sys, skip="nothing") == before


def test_a_second_run_waits_for_nobody(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys)
    with Host(root, proc_sys).lock():
        result = tuner(root, proc_sys, "apply", "base", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        f"tuner: error: another tuner run holds the lock (pid {os.getpid()}); --wait-lock "
        "SECONDS waits for it: nothing was changed\n"
    )
    assert snapshot(root, proc_sys) == before
    assert generations(root) == []


def test_apply_on_the_live_root_needs_root(
    root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Host, "is_live_root", property(lambda self: True))
    monkeypatch.setattr(Caller, "current", classmethod(lambda cls: Caller(1000, 1000)))
    before = snapshot(root, proc_sys, skip="nothing")
    result = tuner(root, proc_sys, "apply", "base", "--yes")
    assert result.exit_code == 1
    assert result.stderr == "tuner: error: apply on / needs root: nothing was changed (try sudo)\n"
    assert snapshot(root, proc_sys, skip="nothing") == before


def test_a_planted_symlink_is_never_written_through(
    root: Path, proc_sys: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    (root / "etc/sysctl.d/99-tuner.conf").symlink_to(victim)
    before = snapshot(root, proc_sys)
    result = tuner(root, proc_sys, "apply", "base", "--yes")
    assert result.exit_code == 1
    assert "refusing to touch /etc/sysctl.d/99-tuner.conf: it is a symbolic link" in result.stderr
    assert victim.read_text() == "secret\n"
    assert snapshot(root, proc_sys) == before


def count_calls(method: str, profile: str, root: Path, proc_sys: Path) -> int:
    """How often a successful apply calls ``Host.method`` (on a copy of the trees)."""
    import shutil

    copy = root.parent / "copy"
    shutil.copytree(root, copy / "root", symlinks=True)
    shutil.copytree(proc_sys, copy / "proc_sys")
    calls = 0
    owner, name = step_owner(method)
    original = getattr(owner, name)

    def counting(self: object, *args: object) -> object:
        nonlocal calls
        calls += 1
        return original(self, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, name, counting)
        assert tuner(copy / "root", copy / "proc_sys", "apply", profile, "--yes").exit_code == 0
    return calls


FAULTS = {
    "write_file": HostError("cannot write /etc/x: No space left on device"),
    "remove_file": HostError("cannot remove /etc/x: Read-only file system"),
    "write_sysctl": HostError("cannot set fs.nr_open = 8388608: the kernel refused the value (Invalid argument)"),
}  # fmt: skip


@pytest.mark.parametrize("method", ["write_file", "write_sysctl"])
def test_a_failure_at_any_step_leaves_the_host_as_it_was(
    method: str, root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = count_calls(method, "haproxy-2m-conns", root, proc_sys)
    assert total >= 4
    before = snapshot(root, proc_sys)
    # write_file call 1 is the journal itself; the last one marks it complete
    for failing in range(2 if method == "write_file" else 1, total):
        with pytest.MonkeyPatch.context() as patch:
            fail_at(patch, method, failing)
            result = tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes")
        assert result.exit_code == 1, (failing, result.output)
        assert "Nothing was changed: every step was undone." in result.stderr
        assert snapshot(root, proc_sys) == before, f"{method} failing at call {failing}"
    journal = Journal(Host(root, None)).generations()
    assert {g.status for g in journal} == {"failed"}
    assert all(g.error for g in journal)


def test_ctrl_c_mid_apply_undoes(
    root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(root, proc_sys)
    original = ProcKernel.write

    def interrupted(self: ProcKernel, key: SysctlKey, value: str) -> None:
        if str(key) == "net.core.somaxconn":
            raise KeyboardInterrupt
        original(self, key, value)

    monkeypatch.setattr(ProcKernel, "write", interrupted)
    result = tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes")
    assert result.exit_code == 130
    assert snapshot(root, proc_sys) == before


def test_history_and_status(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0
    assert tuner(root, proc_sys, "apply", "loadgen-client", "--yes").exit_code == 0
    history = json.loads(tuner(root, proc_sys, "history", "--json").output)
    rows = [(g["generation"], g["kind"], g["profile"], g["status"]) for g in history["generations"]]
    assert rows == [
        (1, "apply", "base", "complete, in effect"),
        (2, "apply", "loadgen-client", "complete, in effect"),
    ]
    assert history["generations"][1]["sysctl"]["net.ipv4.tcp_tw_reuse"] == {
        "before": "2",
        "after": "1",
    }
    text = tuner(root, proc_sys, "history").output.splitlines()
    assert text[0].split() == ["GEN", "WHEN", "WHAT", "STATUS", "CHANGED"]
    ok = tuner(root, proc_sys, "status", "--detailed-exitcode")
    assert (ok.exit_code, ok.output.splitlines()[-1]) == (
        0,
        "No drift: files and live values are as applied.",
    )
    (proc_sys / "net/ipv4/tcp_tw_reuse").write_text("0\n")
    drift = tuner(root, proc_sys, "status", "--detailed-exitcode")
    assert drift.exit_code == 2
    assert "  drift: net.ipv4.tcp_tw_reuse: value is 0, expected 1" in drift.output.splitlines()
    (root / "etc/sysctl.d/99-tuner.conf").chmod(0o600)  # drift is more than content
    drift = tuner(root, proc_sys, "status", "--json")
    assert json.loads(drift.output)["drift"] == [
        {"path": "/etc/sysctl.d/99-tuner.conf", "aspect": "mode", "expected": "0644",
         "found": "0600"},
        {"key": "net.ipv4.tcp_tw_reuse", "aspect": "value", "expected": "1", "found": "0"},
    ]  # fmt: skip


def test_rollback_with_nothing_to_roll_back(root: Path, proc_sys: Path) -> None:
    result = tuner(root, proc_sys, "rollback", "--yes")
    assert result.exit_code == 1
    assert "nothing to roll back: no generations in" in result.stderr


def test_image_mode_apply_and_rollback(root: Path) -> None:
    before = snapshot(root)
    result = tuner(root, None, "apply", "haproxy-2m-conns", "--yes")
    assert result.exit_code == 0
    assert "image mode: root" in result.output
    assert "Image root: no daemon-reload; the units read their drop-ins at boot." in result.output
    assert (root / "etc/sysctl.d/99-tuner.conf").exists()
    [generation] = Journal(Host(root, None)).generations()
    assert (generation.mode, generation.sysctl_after) == ("image", {})
    assert tuner(root, None, "rollback", "--yes").exit_code == 0
    assert snapshot(root) == before


def test_state_directory_is_private(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0
    assert (root / "var/lib/tuner").stat().st_mode & 0o777 == 0o700
    assert (root / "etc/sysctl.d/99-tuner.conf").stat().st_mode & 0o777 == 0o644


def test_kernel_refusal_is_reported_with_its_reason(
    root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = os.write

    def refusing(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("ip_local_port_range"):
            raise OSError(errno.EINVAL, "Invalid argument")
        return original(fd, data)

    monkeypatch.setattr("tuner.machine.kernel.os.write", refusing)
    result = tuner(root, proc_sys, "apply", "loadgen-client", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "tuner: error: cannot set net.ipv4.ip_local_port_range = 1024 65535: the kernel refused "
        "the value (Invalid argument). Nothing was changed"
    )


def fail_at(monkeypatch: pytest.MonkeyPatch, method: str, failing: int) -> None:
    owner, name = step_owner(method)
    original = getattr(owner, name)
    calls = 0

    def flaky(self: object, *args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == failing:
            raise FAULTS[method]
        return original(self, *args)

    monkeypatch.setattr(owner, name, flaky)


def test_switching_profiles_with_a_failing_removal_keeps_the_old_profile(
    root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    applied = snapshot(root, proc_sys)
    fail_at(monkeypatch, "remove_file", 1)  # the haproxy drop-in loadgen-client does not want
    result = tuner(root, proc_sys, "apply", "loadgen-client", "--yes")
    assert result.exit_code == 1
    assert "cannot remove /etc/x: Read-only file system" in result.stderr
    assert snapshot(root, proc_sys) == applied


@pytest.mark.parametrize("failing", [1, 4, 9])
def test_a_failing_rollback_changes_nothing_either(
    failing: int, root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    applied = snapshot(root, proc_sys)
    fail_at(monkeypatch, "write_sysctl", failing)
    result = tuner(root, proc_sys, "rollback", "--yes")
    assert result.exit_code == 1
    assert snapshot(root, proc_sys) == applied
    monkeypatch.undo()
    status = json.loads(tuner(root, proc_sys, "status", "--json").output)
    assert (status["applied"], status["drifted"]) == ("haproxy-2m-conns", False)


def test_apply_refuses_when_the_host_changed_after_the_plan_was_shown(
    root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def someone_else_meanwhile(_review: object, *, yes: bool, question: str, verb: str) -> None:
        (proc_sys / "net/ipv4/tcp_tw_reuse").write_text("1\n")

    monkeypatch.setattr("tuner.app.apply.agreed", someone_else_meanwhile)
    result = tuner(root, proc_sys, "apply", "loadgen-client", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "tuner: error: the host changed since the plan was shown: nothing was changed, run again\n"
    )
    assert generations(root) == []
    assert not (root / "etc/sysctl.d/99-tuner.conf").exists()


def test_the_journal_holds_the_plan(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "loadgen-client", "--yes").exit_code == 0
    [entry] = json.loads(tuner(root, proc_sys, "history", "--json").output)["generations"]
    [reuse] = [c for c in entry["plan"] if c.get("key") == "net.ipv4.tcp_tw_reuse"]
    assert (reuse["layer"], reuse["action"], reuse["current"], reuse["desired"]) == (
        "kernel",
        "set",
        "2",
        "1",
    )
    assert reuse["source"] == "loadgen-client.yaml:21:12 (bundled)"
    assert {"layer": "file", "action": "create", "path": "/etc/sysctl.d/99-tuner.conf"} in entry[
        "plan"
    ]


def test_prune_keeps_the_newest_and_whatever_is_still_needed(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0  # 1
    assert tuner(root, proc_sys, "rollback", "--yes").exit_code == 0  # 2 undoes 1
    for profile in ("loadgen-client", "haproxy-2m-conns"):  # 3, 4
        assert tuner(root, proc_sys, "apply", profile, "--yes").exit_code == 0
    assert tuner(root, proc_sys, "rollback", "--yes").exit_code == 0  # 5 undoes 4: 3 in effect
    applied = snapshot(root, proc_sys)
    pruned = tuner(root, proc_sys, "history", "--prune", "1", "--json")
    assert pruned.exit_code == 0, pruned.output
    assert pruned.stderr == (
        "pruned 2 generations (1-2); kept 2 more than asked: the applies in effect, anything "
        "unfinished, and what came after them.\n"
    )
    assert [g["generation"] for g in json.loads(pruned.stdout)["generations"]] == [3, 4, 5]
    assert generations(root) == [3, 4, 5]
    assert snapshot(root, proc_sys) == applied  # pruning touches only the journal
    status = json.loads(tuner(root, proc_sys, "status", "--json").output)
    assert (status["applied"], status["generation"], status["drifted"]) == (
        "loadgen-client",
        3,
        False,
    )
    assert "undoes 4" in tuner(root, proc_sys, "history").output  # 5 still names what it undid
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0  # 6, on top of 3
    again = tuner(root, proc_sys, "history", "--prune", "1")
    assert again.stderr == (
        "nothing to prune; kept 3 more than asked: the applies in effect, anything unfinished, "
        "and what came after them.\n"
    )
    assert tuner(root, proc_sys, "rollback", "--yes").exit_code == 0  # undoes 6
    assert snapshot(root, proc_sys) == applied
    assert generations(root) == [3, 4, 5, 6, 7]
    nothing = tuner(root, proc_sys, "history", "--prune", "5")
    assert (nothing.exit_code, nothing.stderr) == (0, "nothing to prune.\n")


def test_prune_never_removes_an_unfinished_generation(root: Path, proc_sys: Path) -> None:
    for profile in ("base", "loadgen-client"):
        assert tuner(root, proc_sys, "apply", profile, "--yes").exit_code == 0
    journal = Journal(Host(root, proc_sys))
    first = journal.generations()[0]
    journal.save(dataclasses.replace(first, status="pending"))  # as a kill -9 would leave it
    result = tuner(root, proc_sys, "history", "--prune", "1")
    assert result.exit_code == 0
    assert result.stderr.startswith("nothing to prune; kept 1 more than asked")
    assert generations(root) == [1, 2]
    assert "did not finish" in tuner(root, proc_sys, "plan", "base").output


def test_prune_waits_for_nobody_and_wants_a_count(root: Path, proc_sys: Path) -> None:
    before = snapshot(root, proc_sys, skip="nothing")
    empty = tuner(root, proc_sys, "history", "--prune", "1")
    assert (empty.exit_code, empty.stderr) == (0, "nothing to prune.\n")
    assert snapshot(root, proc_sys, skip="nothing") == before  # not even a state directory
    for profile in ("base", "loadgen-client"):
        assert tuner(root, proc_sys, "apply", profile, "--yes").exit_code == 0
    with Host(root, proc_sys).lock():
        held = tuner(root, proc_sys, "history", "--prune", "1")
    assert held.exit_code == 1
    assert "another tuner run holds the lock" in held.stderr
    zero = tuner(root, proc_sys, "history", "--prune", "0")
    assert zero.exit_code == 64
    assert "tuner: error: --prune: must be at least 1, not 0" in zero.stderr
    assert generations(root) == [1, 2]


def test_an_injected_kernel_is_the_one_apply_and_rollback_use(root: Path) -> None:
    """The kernel is a door of its own: a fake one in memory, refusing one key."""
    values = {name.replace("/", "."): value for name, value in DEFAULT_PROC_SYS.items()}
    values = {k.replace("eth0.100", "eth0/100"): v for k, v in values.items()}
    kernel = FakeKernel(values, refuse=frozenset({"net.ipv4.tcp_tw_reuse"}))
    host = Host(root, None, kernel=kernel)
    pending = plan.prepare(ProfileRef.parse("loadgen-client"), host, library(root))
    assert {c.key for c in pending.pending if c.layer == "kernel"} == {
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_tw_reuse",
    }
    before = snapshot(root)
    with pytest.raises(TunerError, match="kernel refused the value"):
        apply.commit(pending, host)
    assert snapshot(root) == before
    assert kernel.values == values  # the one write that went through was undone
    assert kernel.writes == [
        ("net.ipv4.ip_local_port_range", "1024 65535"),
        ("net.ipv4.ip_local_port_range", "32768\t60999"),
    ]
