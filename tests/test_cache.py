from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import sys
import time
from pathlib import Path

import pytest

from tuner.base import plaindata
from tuner.base.diagnostics import Diagnostic
from tuner.machine import cache
from tuner.profile import cached
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve
from tuner.profile.resolved import Profile


def site_library(root: Path) -> ProfileLibrary:
    return ProfileLibrary.for_root(root, resolve)


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache/tuner").glob("profile-*.json"))


def entry_name(ref: str, library: ProfileLibrary) -> str:
    key = cached.fingerprint(ProfileRef.parse(ref), library)
    return f"profile-{hashlib.sha256(key.encode()).hexdigest()[:40]}.json"


def test_second_resolve_is_a_hit_without_loading_the_models(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = cached.resolve_cached(ProfileRef.parse("haproxy-2m-conns"), site_library(root))
    assert len(entries(tmp_path)) == 1
    monkeypatch.delitem(sys.modules, "tuner.profile.document", raising=False)
    missing = ProfileLibrary.for_root(root, lambda *_, **__: pytest.fail("cache missed"))
    second, _ = cached.resolve_cached(ProfileRef.parse("haproxy-2m-conns"), missing)
    assert second == first
    assert "tuner.profile.document" not in sys.modules


def test_editing_a_profile_misses(tmp_path: Path, root: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    path = site / "mine.yaml"
    path.write_text("name: mine\nextends: [base]\nsysctl:\n  fs.nr_open: 1\n")
    first, _ = cached.resolve_cached(ProfileRef.parse("mine"), site_library(root))
    path.write_text("name: mine\nextends: [base]\nsysctl:\n  fs.nr_open: 2\n")
    second, _ = cached.resolve_cached(ProfileRef.parse("mine"), site_library(root))
    assert first is not None
    assert second is not None
    assert (first.sysctl_value("fs.nr_open"), second.sysctl_value("fs.nr_open")) == ("1", "2")


def test_a_rewrite_in_place_with_size_and_mtime_restored_misses(root: Path) -> None:
    """The same size, the same mtime, the same inode: only the content says it changed."""
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    path = site / "mine.yaml"
    path.write_text("name: mine\nsysctl:\n  fs.nr_open: 1048576\n")
    stamp = path.stat()
    first, _ = cached.resolve_cached(ProfileRef.parse("mine"), site_library(root))
    with path.open("r+") as handle:  # in place: same inode
        handle.write("name: mine\nsysctl:\n  fs.nr_open: 2097152\n")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stamp.st_size, stamp.st_mtime_ns)
    second, _ = cached.resolve_cached(ProfileRef.parse("mine"), site_library(root))
    assert first is not None and second is not None
    assert first.sysctl_value("fs.nr_open") == "1048576"
    assert second.sysctl_value("fs.nr_open") == "2097152"


def test_a_new_site_profile_shadowing_a_parent_misses(root: Path) -> None:
    first, _ = cached.resolve_cached(ProfileRef.parse("loadgen-client"), site_library(root))
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "base.yaml").write_text("name: base\nsysctl:\n  net.core.somaxconn: 7\n")
    second, _ = cached.resolve_cached(ProfileRef.parse("loadgen-client"), site_library(root))
    assert first is not None
    assert second is not None
    assert first.sysctl_value("net.core.somaxconn") == "4096"
    assert second.sysctl_value("net.core.somaxconn") == "7"


def test_profiles_with_errors_are_not_cached(tmp_path: Path, root: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsysctl: {fs.nr_open: true}\n")
    profile, problems = cached.resolve_cached(ProfileRef.parse(str(bad)), site_library(root))
    assert profile is None
    assert problems
    assert entries(tmp_path) == []


def test_a_directory_others_can_write_or_own_is_not_trusted(tmp_path: Path) -> None:
    directory = tmp_path / "cache/tuner"
    directory.mkdir(parents=True)
    directory.chmod(0o777)
    with cache.cache_dir() as fd:
        assert fd is None
    directory.chmod(0o700)
    os.chown(directory, 65534, 65534)
    with cache.cache_dir() as fd:
        assert fd is None
    os.chown(directory, os.geteuid(), os.getegid())
    with cache.cache_dir() as fd:
        assert fd is not None
        assert os.path.samestat(os.fstat(fd), directory.stat())


def test_a_link_in_place_of_the_directory_is_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/tuner").symlink_to(elsewhere)
    with cache.cache_dir() as fd:
        assert fd is None


def test_a_corrupt_or_foreign_entry_is_ignored_and_never_runs(tmp_path: Path, root: Path) -> None:
    first, _ = cached.resolve_cached(ProfileRef.parse("base"), site_library(root))
    [entry] = entries(tmp_path)
    witness = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {witness}",))

    for planted in (
        b"not json",
        pickle.dumps(Payload()),  # what the old cache would have run
        json.dumps({"c": "Payload", "f": {}}).encode(),  # an unknown class
        json.dumps([None, []]).encode(),  # the wrong shape
        entry.read_bytes().replace(b'"name":"base"', b'"name":7'),  # a field of the wrong type
        b"[" * 100_000,  # nested past any depth
    ):
        entry.write_bytes(planted)
        second, _ = cached.resolve_cached(ProfileRef.parse("base"), site_library(root))
        assert second == first
        assert not witness.exists()


def test_an_entry_someone_else_owns_or_links_is_ignored(tmp_path: Path, root: Path) -> None:
    library = site_library(root)
    first, _ = cached.resolve_cached(ProfileRef.parse("base"), library)
    assert first is not None
    [entry] = entries(tmp_path)
    forged = plaindata.dumps((Profile("base", "forged", first.path, ("base",)), []))
    entry.write_bytes(forged)
    os.chown(entry, 65534, 65534)
    second, _ = cached.resolve_cached(ProfileRef.parse("base"), library)
    assert second == first
    entry.unlink(missing_ok=True)
    outside = tmp_path / "outside.json"
    outside.write_bytes(forged)
    entry.symlink_to(outside)
    third, _ = cached.resolve_cached(ProfileRef.parse("base"), library)
    assert third == first


def test_plain_data_round_trip_and_refusals(root: Path) -> None:
    profile, diagnostics = resolve(ProfileRef.parse("haproxy-2m-conns"), site_library(root))
    shape = tuple[Profile | None, list[Diagnostic]]
    assert plaindata.loads(plaindata.dumps((profile, diagnostics)), shape) == (
        profile,
        diagnostics,
    )
    with pytest.raises(plaindata.Malformed):
        plaindata.loads(json.dumps({"c": "Location", "f": {}}).encode(), shape)
    with pytest.raises(plaindata.Malformed):
        plaindata.loads(json.dumps({"t": [None, [{"c": "Diagnostic", "f": {
            "severity": "fatal", "message": "x", "location": None, "key": None, "rule": None,
        }}]]}).encode(), shape)  # fmt: skip


def test_disabled_by_environment(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNER_NO_CACHE", "1")
    cached.resolve_cached(ProfileRef.parse("base"), site_library(root))
    assert not (tmp_path / "cache").exists()
    assert os.environ["TUNER_NO_CACHE"] == "1"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as two users")
def test_a_swapper_owning_the_parent_never_gets_its_entry_served(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sudo -E with a kept XDG_CACHE_HOME: the cache's parent belongs to another user, who swaps
    the cache directory for one of their own (holding a forged entry under the right name)
    as fast as they can while root resolves. The check and the reads share one fd, so root
    never serves the forged entry."""
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chown(parent, 65534, 65534)
    monkeypatch.setenv("XDG_CACHE_HOME", str(parent))
    library = site_library(root)
    first, _ = cached.resolve_cached(ProfileRef.parse("base"), library)  # root's own, real entry
    assert first is not None
    forged = plaindata.dumps(
        (Profile("base", "forged", first.path, ("base",), sources=first.sources), [])
    )
    evil = parent / "evil"
    pid = os.fork()
    if pid == 0:  # the other user: plant, then swap until killed
        try:
            os.setgid(65534)
            os.setuid(65534)
            evil.mkdir(mode=0o700)
            (evil / entry_name("base", library)).write_bytes(forged)
            real, spare = parent / "tuner", parent / "spare"
            while True:
                try:
                    os.rename(real, spare)
                    os.rename(evil, real)
                    os.rename(real, evil)
                    os.rename(spare, real)
                except OSError:
                    continue
        finally:
            os._exit(0)
    try:
        time.sleep(0.2)
        seen = set()
        for _ in range(300):
            resolved, _ = cached.resolve_cached(ProfileRef.parse("base"), library)
            assert resolved is not None
            seen.add(resolved.description)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert seen == {first.description}


def test_a_cached_plan_loads_neither_yaml_the_profile_models_nor_jinja(
    tmp_path: Path, root: Path
) -> None:
    """The whole command, in a fresh interpreter each time: the first plan parses and fills the
    cache, the second is answered from it without importing YAML, tuner's pydantic models of a
    profile file or Jinja (pydantic itself is typer's: it builds the command's parameters)."""
    import subprocess

    script = (
        "import sys\n"
        "from tuner.cli.main import main\n"
        f"code = main(['plan', 'haproxy-2m-conns', '--root', {str(root)!r}])\n"
        "loaded = sorted(m for m in ('yaml', 'jinja2', 'tuner.profile.document') "
        "if m in sys.modules)\n"
        "print('LOADED:' + ','.join(loaded))\n"
    )
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("TUNER_NO_CACHE", None)
    command = [sys.executable, "-c", script]
    runs = [
        subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        for _ in range(2)
    ]
    first, second = (run.stdout.splitlines()[-1] for run in runs)
    assert first == "LOADED:jinja2,tuner.profile.document,yaml", runs[0].stderr
    assert second == "LOADED:", runs[1].stderr
