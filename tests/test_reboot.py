"""One host state that survives a reboot. A second profile replaces the first: keys the new one
does not set go back to their values from before the old one, so that after every sequence of
applies and rollbacks the running kernel is what a reboot would give (the boot model applying
the files over fresh defaults), and status has nothing to say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import DEFAULT_PROC_SYS
from typer.testing import CliRunner

from tuner.base.keys import SysctlKey, normalize_live
from tuner.cli.main import app
from tuner.machine.host import Host
from tuner.model import sysctld

runner = CliRunner()

SEQUENCES = {
    "two profiles": ["apply base", "apply haproxy-2m-conns", "apply loadgen-client"],
    "replace and walk back": ["apply haproxy-2m-conns", "apply loadgen-client", "rollback",
                              "rollback", "apply backend-server"],
    "rollback --to across replacements": ["apply loadgen-client", "apply backend-server",
                                          "apply haproxy-2m-conns", "rollback --to 2",
                                          "apply base", "rollback --to 1"],
}  # fmt: skip


def booted(root: Path, proc_sys: Path) -> dict[str, str]:
    """Every key of the fake kernel as a fresh boot sets it: its default, unless a sysctl.d
    file sets it (each tool's reading; they must agree)."""
    host = Host(root, proc_sys)
    files = sysctld.boot_files(host, {})
    values = {}
    for rel, default in DEFAULT_PROC_SYS.items():
        name = SysctlKey(tuple(rel.split("/"))).name
        seen = set()
        for tool in (sysctld.SYSTEMD, sysctld.PROCPS):
            winner = sysctld.BootIndex(sysctld.assignments(files, host, tool)).effective(name)
            seen.add(normalize_live(default) if winner is None else winner.value)
        assert len(seen) == 1, (name, seen)
        values[name] = seen.pop()
    return values


def live(proc_sys: Path) -> dict[str, str]:
    return {
        SysctlKey(tuple(rel.split("/"))).name: normalize_live((proc_sys / rel).read_text())
        for rel in DEFAULT_PROC_SYS
    }


@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_after_every_step_a_reboot_would_keep_the_kernel_as_it_is(
    root: Path, proc_sys: Path, sequence: str
) -> None:
    where = ["--root", str(root), "--proc-sys", str(proc_sys)]
    for step in SEQUENCES[sequence]:
        args = step.split()
        result = runner.invoke(app, [*args, "--yes", *where])
        assert result.exit_code == 0, (step, result.output)
        assert live(proc_sys) == booted(root, proc_sys), step
        status = runner.invoke(app, ["status", "--detailed-exitcode", *where])
        assert status.exit_code == 0, (step, status.output)


def test_plan_says_what_the_replaced_profile_set(root: Path, proc_sys: Path) -> None:
    where = ["--root", str(root), "--proc-sys", str(proc_sys)]
    assert runner.invoke(app, ["apply", "haproxy-2m-conns", "--yes", *where]).exit_code == 0
    planned = runner.invoke(app, ["plan", "loadgen-client", "--json", *where])
    assert planned.exit_code == 0, planned.output
    changes = {c["key"]: c for c in json.loads(planned.output)["changes"] if c["layer"] == "kernel"}
    assert changes["fs.nr_open"]["desired"] == "1048576"  # haproxy set it; loadgen does not
    assert changes["fs.nr_open"]["why"] == (
        "set by haproxy-2m-conns (generation 1), which loadgen-client replaces: back to its "
        "value from before"
    )
