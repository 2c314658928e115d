from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tuner import cache
from tuner.library import ProfileLibrary


def site_library(root: Path) -> ProfileLibrary:
    return ProfileLibrary.for_root(root)


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache/tuner").glob("profile-*.pickle"))


def test_second_resolve_is_a_hit_without_loading_the_models(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = cache.resolve_cached("haproxy-2m-conns", site_library(root))
    assert len(entries(tmp_path)) == 1
    monkeypatch.delitem(sys.modules, "tuner.profile", raising=False)
    monkeypatch.setattr("tuner.cache.resolve", lambda *_: pytest.fail("cache missed"))
    second, _ = cache.resolve_cached("haproxy-2m-conns", site_library(root))
    assert second == first
    assert "tuner.profile" not in sys.modules


def test_editing_a_profile_misses(tmp_path: Path, root: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    path = site / "mine.yaml"
    path.write_text("name: mine\nextends: [base]\nsysctl:\n  fs.nr_open: 1\n")
    first, _ = cache.resolve_cached("mine", site_library(root))
    path.write_text("name: mine\nextends: [base]\nsysctl:\n  fs.nr_open: 2\n")
    second, _ = cache.resolve_cached("mine", site_library(root))
    assert first is not None
    assert second is not None
    assert (first.sysctl_value("fs.nr_open"), second.sysctl_value("fs.nr_open")) == ("1", "2")


def test_a_new_site_profile_shadowing_a_parent_misses(root: Path) -> None:
    first, _ = cache.resolve_cached("loadgen-client", site_library(root))
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "base.yaml").write_text("name: base\nsysctl:\n  net.core.somaxconn: 7\n")
    second, _ = cache.resolve_cached("loadgen-client", site_library(root))
    assert first is not None
    assert second is not None
    assert first.sysctl_value("net.core.somaxconn") == "4096"
    assert second.sysctl_value("net.core.somaxconn") == "7"


def test_profiles_with_errors_are_not_cached(tmp_path: Path, root: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsysctl: {fs.nr_open: true}\n")
    profile, problems = cache.resolve_cached(str(bad), site_library(root))
    assert profile is None
    assert problems
    assert entries(tmp_path) == []


def test_a_directory_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    directory = tmp_path / "cache/tuner"
    directory.mkdir(parents=True)
    directory.chmod(0o777)
    assert cache.cache_dir() is None
    directory.chmod(0o700)
    assert cache.cache_dir() == directory


def test_a_corrupt_entry_is_ignored(tmp_path: Path, root: Path) -> None:
    first, _ = cache.resolve_cached("base", site_library(root))
    [entry] = entries(tmp_path)
    entry.write_bytes(b"not a pickle")
    second, _ = cache.resolve_cached("base", site_library(root))
    assert second == first


def test_disabled_by_environment(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNER_NO_CACHE", "1")
    cache.resolve_cached("base", site_library(root))
    assert not (tmp_path / "cache").exists()
    assert os.environ["TUNER_NO_CACHE"] == "1"
