"""Rendered files against golden copies. Regenerate with TUNER_UPDATE_GOLDEN=1 and review the diff."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from tuner import __version__
from tuner.base.diagnostics import Location
from tuner.base.keys import parse_key
from tuner.changes.render import render_files
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve
from tuner.profile.resolved import LimitEntry, Profile, SysctlEntry, limit_lines

GOLDEN = Path(__file__).parent / "golden"
BUNDLED = ["backend-server", "base", "haproxy-2m-conns", "loadgen-client"]
HERE = Location("t.yaml", 1, 1)


def bundled(name: str) -> Profile:
    profile, problems = resolve(
        ProfileRef.parse(name), ProfileLibrary.for_root(Path("/nonexistent"))
    )
    assert profile is not None, problems
    return profile


def golden_name(path: PurePosixPath) -> str:
    return str(path).strip("/").replace("/", "__")


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_profiles_match_golden_files(name: str) -> None:
    files = render_files(bundled(name))
    directory = GOLDEN / name
    if os.environ.get("TUNER_UPDATE_GOLDEN"):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
        for path, text in files.items():
            (directory / golden_name(path)).write_text(text.replace(__version__, "VERSION"))
    expected = {p.name: p.read_text() for p in sorted(directory.iterdir())}
    actual = {golden_name(p): t.replace(__version__, "VERSION") for p, t in files.items()}
    assert actual == expected


def test_rendering_is_deterministic() -> None:
    assert render_files(bundled("haproxy-2m-conns")) == render_files(bundled("haproxy-2m-conns"))


def make(sysctl: dict[str, str], why: str | None = None, description: str = "") -> Profile:
    entries = tuple(SysctlEntry(parse_key(k), v, why, HERE) for k, v in sysctl.items())
    return Profile("t", description, Path("t.yaml"), ("t",), sysctl=entries)


def test_why_and_description_cannot_inject_lines() -> None:
    text = render_files(
        make({"fs.nr_open": "5"}, why="ok\nfs.file-max = 1", description="d\nkernel.x = 1")
    )[PurePosixPath("/etc/sysctl.d/99-tuner.conf")]
    assignments = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert assignments == ["fs.nr_open = 5"]
    assert "# fs.file-max = 1" in text
    assert "# kernel.x = 1" in text


def test_values_with_line_breaks_are_refused_even_from_code() -> None:
    with pytest.raises(ValueError, match=r"cannot contain U\+000A LF"):
        render_files(make({"fs.nr_open": "5\nfs.file-max = 1"}))


def test_header_names_profile_and_version() -> None:
    text = render_files(make({"fs.nr_open": "5"}))[PurePosixPath("/etc/sysctl.d/99-tuner.conf")]
    assert text.splitlines()[0] == f"# Managed by tuner {__version__} from profile t."


def test_limit_lines_collapse_equal_soft_and_hard() -> None:
    entries = (
        LimitEntry("*", "hard", "nofile", "10", None, HERE),
        LimitEntry("*", "soft", "nofile", "10", None, HERE),
        LimitEntry("*", "hard", "nproc", "20", None, HERE),
        LimitEntry("*", "soft", "nproc", "10", None, HERE),
    )
    assert [(line.type, line.item, line.value) for line in limit_lines(entries)] == [
        ("-", "nofile", "10"),
        ("hard", "nproc", "20"),
        ("soft", "nproc", "10"),
    ]


def test_port_start_is_written_before_a_lowered_range() -> None:
    text = render_files(
        make(
            {
                "net.ipv4.ip_local_port_range": "1000 65535",
                "net.ipv4.ip_unprivileged_port_start": "1000",
            }
        )
    )[PurePosixPath("/etc/sysctl.d/99-tuner.conf")]
    keys = [line.split(" = ")[0] for line in text.splitlines() if " = " in line]
    assert keys == ["net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_port_range"]
