"""A power cut at every point of a first apply, and of the rollback of an apply: what was durable
then, and only that, is put back on disk, and one plain ``tuner rollback`` must leave the host
exactly as it was before the apply, with nothing unsettled.

The model of the disk is the conservative one (``faults.durable``): a directory entry survives
only if its directory was fsynced after the change, a file's content only as of its last fsync.
On an image root (no kernel): after a power cut the live values are the boot's anyway."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faults
import pytest
from conftest import snapshot


def image(root: Path) -> Path:
    """A Debian-like image: the directories of sysctl.d, limits.d and systemd exist; tuner's
    state directory and a drop-in directory do not (a first apply makes them)."""
    for folder in ("etc/sysctl.d", "etc/security/limits.d", "etc/systemd/system"):
        (root / folder).mkdir(parents=True)
    (root / "var/lib").mkdir(parents=True)
    (root / "etc/sysctl.conf").write_text("# sysctl.conf\n")
    return root


@pytest.mark.parametrize("cut", ["apply", "rollback"])
def test_one_plain_rollback_restores_the_host_after_a_power_cut_anywhere(
    tmp_path: Path, cut: str
) -> None:
    root = image(tmp_path / "run/root")
    expected = snapshot(root)  # before the apply: where one plain rollback must always lead
    if cut == "rollback":
        setup = faults.run(["apply", "haproxy-2m-conns", "--yes", "--root", str(root)],
                           work=tmp_path)  # fmt: skip
        assert setup.code == 0, setup.output
    pristine = tmp_path / "pristine"
    shutil.copytree(root, pristine, symlinks=True)
    command = ["apply", "haproxy-2m-conns", "--yes"] if cut == "apply" else ["rollback", "--yes"]
    log = tmp_path / "log.jsonl"
    ran = faults.record([*command, "--root", str(root)], root, log, work=tmp_path)
    assert ran.code == 0, ran.output
    changes = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(c["op"] == "fsync_dir" for c in changes) > 5, changes
    bad = []
    for crash in range(len(changes) + 1):
        trial = tmp_path / f"cut-{crash}/root"
        faults.materialize(faults.durable(pristine, root, changes, crash), root, trial)
        settled = faults.run(["rollback", "--yes", "--root", str(trial)], work=tmp_path)
        nothing = settled.code == 1 and "nothing to roll back" in settled.output
        if settled.code != 0 and not nothing:
            bad.append(f"cut {crash}: rollback exit {settled.code}: {settled.output[-300:]}")
        elif snapshot(trial) != expected:
            now = snapshot(trial)
            differ = sorted(k for k in set(now) | set(expected) if now.get(k) != expected.get(k))
            bad.append(f"cut {crash} ({changes[crash - 1]['op'] if crash else '-'}): "
                       f"not as before: {differ[:4]}")  # fmt: skip
        else:
            status = faults.run(["status", "--detailed-exitcode", "--root", str(trial)],
                                work=tmp_path)  # fmt: skip
            if status.code != 0:
                bad.append(f"cut {crash}: status exit {status.code}: {status.output[-200:]}")
        shutil.rmtree(trial.parent)
    assert not bad, f"{len(bad)} of {len(changes) + 1} cuts:\n" + "\n".join(bad[:8])
