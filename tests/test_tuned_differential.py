"""tuner import --tuned against tuned's own profile loader, on every profile Debian's tuned ships.

The judge (tests/tuned_judge.py) runs tuned's Loader, Merger and Variables from the tuned package
(apt-get install tuned) on a copy of /usr/lib/tuned; tuner's model (tuner/model/tuned.py) must
give exactly the sysctl settings tuned merges, except what it reports instead of guessing: ``>N``
and ``<N`` values (set only when they raise or lower the current value), units that apply only on
matching CPUs or kernels, and expressions only the machine can answer. A profile whose include is
such an expression (openshift: ``${f:virt_check:...}``) is judged on a copy without it: tuner
reports the include and does not follow it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tuner.app import importing
from tuner.machine.host import Host

SHIPPED = Path("/usr/lib/tuned")
JUDGE = Path(__file__).with_name("tuned_judge.py")
SYSTEM_PYTHON = "/usr/bin/python3"
TWO = "network-latency virtual-guest"  # /etc/tuned/active_profile may name several, in order


def _shipped() -> list[str]:
    if not SHIPPED.is_dir():  # CI installs it: a missing package is a failure, not a skip
        return ["(tuned is not installed: apt-get install tuned)"]
    return sorted(p.parent.name for p in SHIPPED.glob("*/tuned.conf"))


SYNTHETIC = {
    "t-base": """[main]
summary=base
[late]
type=sysctl
priority=10
net.ipv4.tcp_fin_timeout=50
[sysctl]
net.core.somaxconn=1000
vm.dirty_ratio=20
net.ipv4.tcp_fin_timeout=45
[early]
type=sysctl
priority=-10
net.core.somaxconn=999
vm.swappiness=5
""",
    "t-child": """[main]
include=t-base, -no-such-profile
[variables]
v1=2048
v2=${v1}0
spaced=  20
[sysctl]
drop=vm.dirty_ratio
net.core.somaxconn=${f:kb2s:${v1}}
net.core.netdev_max_backlog=${v2}
vm.dirty_background_ratio=${f:strip:${spaced}}
vm.swappiness="${f:regex_search_ternary:abc:b:10:60}"
kernel.pid_max=${f:cpulist_online:0}
net.ipv4.tcp_max_syn_backlog=>4096
[early]
replace=1
type=sysctl
priority=-10
vm.overcommit_ratio=60
[cpu]
governor=performance
""",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tuned-root")
    copy = root / "usr/lib/tuned"
    shutil.copytree(SHIPPED, copy, symlinks=True)
    if Path("/etc/tuned").is_dir():
        shutil.copytree("/etc/tuned", root / "etc/tuned", symlinks=True)
    for name, text in SYNTHETIC.items():
        (copy / name).mkdir()
        (copy / name / "tuned.conf").write_text(text)
    return root


@pytest.fixture(scope="module")
def verdicts(tree: Path) -> dict[str, dict[str, object]]:
    """tuned's verdict on every profile, from a copy in which a dynamic include is removed."""
    judged = tree / "judged"
    shutil.copytree(tree / "usr/lib/tuned", judged, symlinks=True)
    for conf in judged.glob("*/tuned.conf"):
        text = conf.read_text()
        if "include=${f:" in text.replace(" ", ""):
            lines = [
                line for line in text.splitlines()
                if not line.replace(" ", "").startswith("include=${f:")
            ]  # fmt: skip
            conf.write_text("\n".join(lines) + "\n")
    names = [*sorted(p.parent.name for p in judged.glob("*/tuned.conf")), TWO]
    found = subprocess.run(
        [SYSTEM_PYTHON, str(JUDGE), str(judged), *names],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    verdict: dict[str, dict[str, object]] = json.loads(found.stdout)
    return verdict


def _import(tree: Path, name: str) -> tuple[dict[str, str], list[str]]:
    draft = importing.from_tuned(name, Host(tree, None))
    return {k: s.value for k, s in draft.sysctl.items()}, draft.left_out


@pytest.mark.parametrize("name", [*_shipped(), TWO])
def test_each_shipped_tuned_profile_imports_as_tuned_merges_it(
    name: str, tree: Path, verdicts: dict[str, dict[str, object]]
) -> None:
    assert SHIPPED.is_dir(), "the tuned package is needed: apt-get install tuned"
    ours, left_out = _import(tree, name)
    verdict = verdicts[name]
    theirs: dict[str, str] = verdict["sysctl"]  # type: ignore[assignment]
    relative = {k for k, v in theirs.items() if v[:1] in "<>" and len(v) > 1}
    assert ours == {k: v for k, v in theirs.items() if k not in relative}
    said = "\n".join(left_out)
    for key in relative:  # reported, with tuned's meaning
        assert f"{key}={theirs[key]}" in said and "tuner sets exact values" in said
    for key in verdict["conditional"]:  # type: ignore[attr-defined]
        assert f"{key}=" in said and "applies only where" in said
    conf = "\n".join((SHIPPED / n / "tuned.conf").read_text() for n in name.split())
    if "include=${f:" in conf.replace(" ", ""):
        assert "depends on the machine tuned runs on" in said and "not followed" in said
    for line in conf.splitlines():  # every non-sysctl section of the profile is said
        if line.startswith("[") and line.strip("[]") not in ("main", "sysctl", "variables"):
            section = line.strip().strip("[]")
            assert f"[{section}]" in said or _is_sysctl_unit(conf, section), (section, said)


def _is_sysctl_unit(conf: str, section: str) -> bool:
    body = conf.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
    return "type=sysctl" in body.replace(" ", "")


def test_includes_variables_units_and_functions_as_tuned_reads_them(
    tree: Path, verdicts: dict[str, dict[str, object]]
) -> None:
    ours, left_out = _import(tree, "t-child")
    theirs: dict[str, str] = verdicts["t-child"]["sysctl"]  # type: ignore[assignment]
    said = "\n".join(left_out)
    assert ours == {
        "net.core.somaxconn": "4096",  # kb2s of a variable
        "net.core.netdev_max_backlog": "20480",  # a variable made of a variable
        "vm.dirty_background_ratio": "20",  # strip
        "vm.swappiness": "10",  # quoted, regex_search_ternary
        "net.ipv4.tcp_fin_timeout": "50",  # the priority-10 unit writes last
        "vm.overcommit_ratio": "60",  # replace=1 dropped the inherited [early] keys
    }
    assert {k: theirs[k] for k in ours} == ours  # tuned agrees on each
    assert set(theirs) - set(ours) == {"kernel.pid_max", "net.ipv4.tcp_max_syn_backlog"}
    assert "kernel.pid_max=${f:cpulist_online:0}" in said and "${f:cpulist_online}" in said
    assert "net.ipv4.tcp_max_syn_backlog=>4096" in said
    assert "[cpu] governor=performance: a cpu setting" in said
    assert "vm.dirty_ratio" not in theirs and "vm.dirty_ratio" not in ours  # drop=


def test_a_tuned_directory_and_the_command_line(tree: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tuner.cli.main import app

    result = CliRunner().invoke(
        app, ["import", "--tuned", str(tree / "usr/lib/tuned/t-child"), "--root", str(tree),
              "--out", str(tmp_path / "t.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = (tmp_path / "t.yaml").read_text()
    assert "source: " + str(tree / "usr/lib/tuned/t-child/tuned.conf") in text
    assert "left out (" in result.output
    missing = CliRunner().invoke(app, ["import", "--tuned", "no-such", "--root", str(tree)])
    assert missing.exit_code == 1
    assert "cannot find tuned profile 'no-such'" in missing.output


def test_hostile_tuned_profiles_end_in_a_message_not_a_hang(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tuner.cli.main import app

    root = tmp_path / "root"
    growing = "\n".join(f"v{i}=${{v{i - 1}}}${{v{i - 1}}}" for i in range(1, 64))
    profiles = {
        "grow": f"[main]\n[variables]\nv0=xxxxxxxx\n{growing}\n[sysctl]\nvm.swappiness=${{v63}}\n",
        "redos": "[main]\n[sysctl]\nvm.swappiness=${f:regex_search_ternary:"
        + "a" * 40
        + "b:(a+)+$:1:2}\n",
        "loop": "[main]\ninclude=loop2\n[sysctl]\nvm.swappiness=1\n",
        "loop2": "[main]\ninclude=loop\n",
        "broken": "no section header\n",
    }
    for name, text in profiles.items():
        (root / "etc/tuned" / name).mkdir(parents=True)
        (root / "etc/tuned" / name / "tuned.conf").write_text(text)
    os.mkfifo(root / "etc/tuned/fifo")
    said = {}
    for name in [*profiles, "fifo"]:
        result = CliRunner().invoke(
            app, ["import", "--tuned", name, "--root", str(root), "--out", "-"]
        )
        said[name] = (result.exit_code, result.output)
    assert said["grow"][0] == 1 and "expands beyond 256 KiB" in said["grow"][1]
    assert said["redos"][0] == 0 and "(not evaluated)" in said["redos"][1]
    assert "swappiness:" not in said["redos"][1].split("description:")[1]
    assert said["loop"][0] == 0 and "vm.swappiness" in said["loop"][1]  # each file loaded once
    assert said["broken"][0] == 1 and "tuned cannot parse it" in said["broken"][1]
    assert said["fifo"][0] == 1 and "Traceback" not in said["fifo"][1]
