from __future__ import annotations

from pathlib import Path

import pytest

from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve


def library(profiles_dir: Path) -> ProfileLibrary:
    return ProfileLibrary((("site", profiles_dir),))


def write(directory: Path, name: str, body: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(f"name: {name}\n{body}")
    return path


def test_child_wins_and_origins_are_kept(profiles_dir: Path) -> None:
    write(profiles_dir, "parent", "sysctl:\n  fs.nr_open: 1000\n  fs.file-max: 5000\n")
    write(profiles_dir, "child", "extends: [parent]\nsysctl:\n  fs.nr_open: 2000\n")
    profile, problems = resolve(ProfileRef.parse("child"), library(profiles_dir))
    assert problems == []
    assert profile is not None
    assert profile.chain == ("parent", "child")
    values = {e.key.name: (e.value, e.origin.file.rsplit("/", 1)[-1], e.origin.line)
              for e in profile.sysctl}  # fmt: skip
    assert values == {
        "fs.file-max": ("5000", "parent.yaml", 4),
        "fs.nr_open": ("2000", "child.yaml", 4),
    }


def test_parents_in_order_later_wins(profiles_dir: Path) -> None:
    write(profiles_dir, "a", "sysctl:\n  fs.nr_open: 1\n")
    write(profiles_dir, "b", "sysctl:\n  fs.nr_open: 2\n")
    write(profiles_dir, "c", "extends: [a, b]\n")
    profile, _ = resolve(ProfileRef.parse("c"), library(profiles_dir))
    assert profile is not None
    assert profile.sysctl_value("fs.nr_open") == "2"
    assert profile.chain == ("a", "b", "c")


def test_null_removes_inherited_settings(profiles_dir: Path) -> None:
    write(
        profiles_dir,
        "parent",
        "sysctl:\n  fs.nr_open: 1000\n  fs.file-max: 9\n"
        "limits:\n  - {domain: '*', type: '-', item: nofile, value: 10}\n"
        "services:\n  a.service: {LimitNOFILE: 5, LimitNPROC: 6}\n  b.service: {LimitCORE: 0}\n",
    )
    write(
        profiles_dir,
        "child",
        "extends: [parent]\nsysctl:\n  fs.nr_open: null\n"
        "limits:\n  - {domain: '*', type: soft, item: nofile, value: null}\n"
        "services:\n  a.service: {LimitNPROC: null}\n  b.service: null\n",
    )
    profile, problems = resolve(ProfileRef.parse("child"), library(profiles_dir))
    assert problems == []
    assert profile is not None
    assert [e.key.name for e in profile.sysctl] == ["fs.file-max"]
    assert [(e.domain, e.kind, e.item, e.value) for e in profile.limits] == [
        ("*", "hard", "nofile", "10")
    ]
    assert [(s.unit, s.directive) for s in profile.services] == [("a.service", "LimitNOFILE")]


def test_null_with_nothing_to_remove_warns(profiles_dir: Path) -> None:
    write(profiles_dir, "solo", "sysctl:\n  fs.nr_open: null\n")
    profile, problems = resolve(ProfileRef.parse("solo"), library(profiles_dir))
    assert profile is not None
    assert [(p.severity, p.key, p.message) for p in problems] == [
        ("warning", "fs.nr_open", "null removes an inherited setting, but no parent sets this")
    ]


def test_soft_rule_over_dash_rule_splits_it(profiles_dir: Path) -> None:
    write(
        profiles_dir, "parent", "limits:\n  - {domain: '*', type: '-', item: nofile, value: 10}\n"
    )
    write(
        profiles_dir,
        "child",
        "extends: [parent]\nlimits:\n  - {domain: '*', type: soft, item: nofile, value: 5}\n",
    )
    profile, _ = resolve(ProfileRef.parse("child"), library(profiles_dir))
    assert profile is not None
    assert [(e.kind, e.value) for e in profile.limits] == [("hard", "10"), ("soft", "5")]


def test_cycle_is_an_error_at_the_extends_entry(
    profiles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(profiles_dir)
    write(profiles_dir, "a", "extends: [b]\n")
    write(profiles_dir, "b", "extends: [a]\n")
    profile, problems = resolve(ProfileRef.parse("a"), library(profiles_dir))
    assert profile is None
    assert [str(p) for p in problems] == ["b.yaml:2:11 (site): extends: extends cycle: a -> b -> a"]


def test_self_extension_is_a_cycle(profiles_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(profiles_dir)
    write(profiles_dir, "a", "extends: [a]\n")
    _profile, problems = resolve(ProfileRef.parse("a"), library(profiles_dir))
    assert [str(p) for p in problems] == ["a.yaml:2:11 (site): extends: extends cycle: a -> a"]


def test_missing_parent(profiles_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(profiles_dir)
    write(profiles_dir, "a", "extends: [nosuch]\n")
    _profile, problems = resolve(ProfileRef.parse("a"), library(profiles_dir))
    assert [str(p) for p in problems] == [
        "a.yaml:2:11 (site): extends: no profile named 'nosuch' (available: a)"
    ]


def test_errors_in_parent_and_child_reported_together(
    profiles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(profiles_dir)
    write(profiles_dir, "parent", "sysctl:\n  fs.nr_open: true\n")
    write(profiles_dir, "child", "extends: [parent]\nsysctl:\n  bad key.x: 1\n")
    _profile, problems = resolve(ProfileRef.parse("child"), library(profiles_dir))
    assert sorted(str(p) for p in problems) == [
        "child.yaml:4:3 (site): bad key.x: not a sysctl key: component 'bad key' "
        "may only use letters, digits and _.:@+-",
        "parent.yaml:3:15 (site): fs.nr_open: booleans are ambiguous here: write 1 or 0",
    ]


def test_diamond_loads_the_shared_parent_once(
    profiles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(profiles_dir)
    write(profiles_dir, "base", "sysctl:\n  fs.nr_open: true\n")
    write(profiles_dir, "l", "extends: [base]\n")
    write(profiles_dir, "r", "extends: [base]\n")
    write(profiles_dir, "top", "extends: [l, r]\n")
    _profile, problems = resolve(ProfileRef.parse("top"), library(profiles_dir))
    assert [str(p) for p in problems] == [
        "base.yaml:3:15 (site): fs.nr_open: booleans are ambiguous here: write 1 or 0"
    ]


def test_parent_found_next_to_child_first(tmp_path: Path, profiles_dir: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(profiles_dir, "base", "sysctl:\n  fs.nr_open: 1\n")
    write(elsewhere, "base", "sysctl:\n  fs.nr_open: 2\n")
    child = write(elsewhere, "child", "extends: [base]\n")
    profile, _ = resolve(ProfileRef.parse(str(child)), library(profiles_dir))
    assert profile is not None
    assert profile.sysctl_value("fs.nr_open") == "2"


def test_site_profile_hides_bundled(tmp_path: Path) -> None:
    site = tmp_path / "root/etc/tuner/profiles"
    site.mkdir(parents=True)
    write(site, "base", "description: site base\n")
    lib = ProfileLibrary.for_root(tmp_path / "root")
    entries = {e.name: e for e in lib.entries()}
    assert entries["base"].origin == "site"
    assert entries["base"].shadows_bundled is True
    assert entries["haproxy-2m-conns"].origin == "bundled"
    assert lib.find(ProfileRef.name("base")) == site / "base.yaml"
