"""The documentation's examples (README.md and docs/*.md) are the ones tested here, not copies.

Each example sits in a fenced block after a `<!-- tested: ... -->` marker. The Packer template
passes `packer validate`, and its commands are run against a scratch image root. Each cloud-init
document is exactly what `tuner export cloud-init` prints now, and passes cloud-init's own schema.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, have
from typer.testing import CliRunner

from tuner.cli.main import app

runner = CliRunner()
SPEC = "https://pkgs.example.internal/tuner_sysctl-0.2.0-py3-none-any.whl"  # as in the README


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def examples() -> dict[str, str]:
    """Every tested example, wherever it is in the documentation."""
    found: dict[str, str] = {}
    for path in DOCS:
        text = path.read_text()
        for marker, body in re.findall(
            r"<!-- tested: (.+?) -->\n```\w*\n(.*?)\n```", text, re.DOTALL
        ):
            assert marker not in found, f"{path.name}: a second example {marker!r}"
            found[marker] = body + "\n"
    return found


def test_the_readme_has_the_examples() -> None:
    assert set(examples()) == {
        "packer",
        "cloud-init loadgen-client files",
        "cloud-init base apply",
        "capacity loadgen-client",
        "import tuned throughput-performance",
        "alert rule",  # tests/test_prometheus.py
    }


def test_the_tuned_import_example_is_what_tuner_prints(root: Path) -> None:
    assert Path("/usr/lib/tuned/throughput-performance").is_dir(), "apt-get install tuned"
    shutil.copytree("/usr/lib/tuned", root / "usr/lib/tuned", symlinks=True)  # the host's, copied
    argv = ["import", "--tuned", "throughput-performance", "--out", "-", "--root", str(root)]
    printed = runner.invoke(app, argv)
    assert printed.exit_code == 0, printed.output
    assert printed.output == examples()["import tuned throughput-performance"]


needs = pytest.mark.skipif(
    not os.environ.get("CI") and not have("cloud-init", "packer"),
    reason="needs cloud-init and packer (see .ci/run)",
)


@needs
@pytest.mark.parametrize("marker", ["cloud-init loadgen-client files", "cloud-init base apply"])
def test_cloud_init_example_is_what_export_prints_and_is_valid(marker: str, tmp_path: Path) -> None:
    _, profile, mode = marker.split()
    spec = ["--pip-spec", SPEC] if mode == "apply" else []
    exported = runner.invoke(app, ["export", "cloud-init", profile, "--mode", mode,
                                   "--root", str(tmp_path), *spec])  # fmt: skip
    assert exported.exit_code == 0
    assert examples()[marker] == exported.output, "regenerate the example in the docs"
    path = tmp_path / "user-data"
    path.write_text(examples()[marker])
    checked = subprocess.run(["cloud-init", "schema", "--config-file", str(path)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def packer_dir(tmp_path: Path, template: str) -> Path:
    directory = tmp_path / "packer"
    (directory / "profiles").mkdir(parents=True)
    (directory / "profiles/site-overrides.yaml").write_text("name: site-overrides\n")
    (directory / "golden.pkr.hcl").write_text(template)
    return directory


def validate(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["packer", "validate", "-var", "source_ami=ami-12345678", "golden.pkr.hcl"],
        cwd=directory, capture_output=True, text=True, check=False,
    )  # fmt: skip


@needs
def test_packer_example_validates_and_a_broken_one_does_not(tmp_path: Path) -> None:
    template = examples()["packer"]
    ok = validate(packer_dir(tmp_path / "ok", template))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = validate(
        packer_dir(tmp_path / "broken", template.replace("source_ami = var", "source_amy = var"))
    )
    assert broken.returncode != 0


def test_packer_example_commands_bake_an_image_root(tmp_path: Path) -> None:
    commands = re.findall(r'^\s+"(tuner [^"]+)",$', examples()["packer"], re.MULTILINE)
    assert [c.split()[1] for c in commands] == ["vendor", "apply", "plan"]
    image = tmp_path / "golden"
    for directory in ("etc/sysctl.d", "var/lib"):
        (image / directory).mkdir(parents=True)
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for command in commands:
        argv = [
            sys.executable,
            "-m",
            "tuner",
            *command.replace("/mnt/golden", str(image)).split()[1:],
        ]
        result = subprocess.run(argv, capture_output=True, text=True, env=environment, check=False)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    assert (image / "etc/sysctl.d/99-tuner.conf").exists()
    assert (image / "etc/tuner/profiles/haproxy-2m-conns.yaml").exists()
    assert (image / "etc/systemd/system/haproxy.service.d/99-tuner.conf").exists()


def test_kernel_facts_name_only_catalog_keys_and_nothing_cites_outside_files() -> None:
    """docs/kernel-facts.md is checked against the catalog; the project cites its own docs."""
    from tuner.knowledge import catalog

    text = (REPO / "docs/kernel-facts.md").read_text()
    named = set(re.findall(r"\b(?:net|fs|vm|kernel)\.[a-z0-9_.*/-]+[a-z0-9_]", text))
    keys = {n for n in named if "*" not in n and "/" not in n and n.count(".") >= 1}
    entries = catalog.entries()
    missing = sorted(k for k in keys if k not in entries and not k.startswith("net.ipv4.conf."))
    assert not missing, f"docs/kernel-facts.md names keys the catalog lacks: {missing}"
    assert len(keys) > 20
    for path in [*DOCS, *(REPO / "tuner").rglob("*.py")]:
        assert "KERNEL-FACTS" not in path.read_text(), f"{path} cites a file users never have"


def capacity_example(root: Path, proc_sys: Path) -> str:
    """``tuner capacity loadgen-client`` on a 64 GiB machine with the kernel's defaults."""
    (proc_sys.parent / "meminfo").write_text("MemTotal:       67108864 kB\n")
    result = runner.invoke(app, ["capacity", "loadgen-client", "--root", str(root),
                                 "--proc-sys", str(proc_sys)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return "$ tuner capacity loadgen-client\n" + result.output


def test_readme_capacity_example_is_real_output(root: Path, proc_sys: Path, cwd_repo: Path) -> None:
    assert examples()["capacity loadgen-client"] == capacity_example(root, proc_sys), (
        "regenerate the example in the docs"
    )
