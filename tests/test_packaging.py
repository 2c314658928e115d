"""The wheel carries the profiles and templates, and tuner runs from it in another directory."""

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
    [built] = out.glob("tuner-*.whl")
    return built


def test_wheel_contains_data_and_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("backend-server", "base", "haproxy-2m-conns", "loadgen-client"):
        assert f"tuner/profiles/{name}.yaml" in names
    assert "tuner/data/catalog.yaml" in names
    for template in ("header.j2", "sysctl.conf.j2", "limits.conf.j2", "dropin.conf.j2"):
        assert f"tuner/templates/{template}" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tuner = tuner.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


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
