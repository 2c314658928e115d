"""The distribution (tuner-sysctl; the command is tuner): the wheel carries the profiles, templates,
catalog and schema; tuner runs from it in another directory; an sdist and a wheel build, and the
wheel installs with pipx into a clean HOME and plans from there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True,
    )  # fmt: skip
    [built] = out.glob("tuner_sysctl-*.whl")
    return built


def test_wheel_contains_data_and_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("backend-server", "base", "haproxy-2m-conns", "loadgen-client"):
        assert f"tuner/profiles/{name}.yaml" in names
    assert "tuner/data/catalog.yaml" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "tuner/data/profile.schema.json" in names
    for template in ("header.j2", "sysctl.conf.j2", "limits.conf.j2", "dropin.conf.j2"):
        assert f"tuner/templates/{template}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tuner = tuner.__main__:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "root").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import tuner; print(tuner.__file__)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(site))
    plan = subprocess.run(
        [sys.executable, "-m", "tuner", "plan", "haproxy-2m-conns", "--root", "root", "--json"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert '"profile": "haproxy-2m-conns"' in plan.stdout
    explained = subprocess.run(
        [sys.executable, "-m", "tuner", "explain", "fs.nr_open", "--root", "root"],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert explained.returncode == 0, explained.stderr  # the catalog ships too


def test_sdist_and_wheel_build_and_pipx_installs_the_wheel(tmp_path: Path) -> None:
    """As a user installs it: `pipx install` of the built wheel, in a clean HOME."""
    out = tmp_path / "dist"
    for target in ("sdist", "wheel"):
        subprocess.run(
            [sys.executable, "-m", "hatchling", "build", "-t", target, "-d", str(out)],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
    [sdist] = out.glob("tuner_sysctl-*.tar.gz")
    [built] = out.glob("tuner_sysctl-*.whl")
    assert sdist.name.removesuffix(".tar.gz").split("-")[1] == built.name.split("-")[1]
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "PIPX_"))}
    env |= {"HOME": str(home), "PIPX_HOME": str(home / "pipx"), "PIPX_BIN_DIR": str(home / "bin"),
            "PIPX_MAN_DIR": str(home / "man")}  # fmt: skip
    installed = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(built)],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (home / "image").mkdir()
    plan = subprocess.run(
        [str(home / "bin" / "tuner"), "plan", "haproxy-2m-conns", "--root", str(home / "image")],
        cwd=home, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.startswith("Plan: haproxy-2m-conns (bundled, extends base)")
    version = subprocess.run([str(home / "bin" / "tuner"), "--version"], env=env,
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert version.stdout.strip() == f"tuner {built.name.split('-')[1]}"
