from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from conftest import library, write_proc_sys

from tuner.app.profiles import load_checked
from tuner.changes.plan import BootShadow, make_plan
from tuner.changes.render import render_files
from tuner.machine.host import Host
from tuner.profile.ref import ProfileRef


def plan_for(name: str, host: Host):  # type: ignore[no-untyped-def]
    profile, diagnostics = load_checked(ProfileRef.parse(name), host, library(host.root))
    return make_plan(profile, host, diagnostics)


def make_applied(root: Path, proc_sys: Path, name: str) -> None:
    """Put the host into the state the profile describes (what apply will do)."""
    host = Host(root, proc_sys)
    profile, _ = load_checked(ProfileRef.parse(name), host, library(root))
    for path, text in render_files(profile).items():
        target = root / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    write_proc_sys(proc_sys, {str(e.key.path): e.value.replace(" ", "\t") for e in profile.sysctl})


def test_fresh_host_plans_every_difference(host: Host) -> None:
    plan = plan_for("loadgen-client", host)
    kernel = {c.key: (c.current, c.desired, c.action) for c in plan.changes if c.layer == "kernel"}
    assert kernel == {
        "net.ipv4.ip_local_port_range": ("32768 60999", "1024 65535", "set"),
        "net.ipv4.tcp_tw_reuse": ("2", "1", "set"),
    }
    assert set(plan.in_sync) == {
        "net.core.somaxconn",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_timestamps",
    }
    files = {c.path: c.action for c in plan.changes if c.layer == "file"}
    assert files == {
        "/etc/security/limits.d/99-tuner.conf": "create",
        "/etc/sysctl.d/99-tuner.conf": "create",
    }
    assert plan.has_changes
    assert plan.errors == []


def test_applied_host_has_no_changes(root: Path, proc_sys: Path) -> None:
    make_applied(root, proc_sys, "haproxy-2m-conns")
    plan = plan_for("haproxy-2m-conns", Host(root, proc_sys))
    assert plan.changes == ()
    assert not plan.has_changes


def test_edited_file_shows_a_unified_diff(root: Path, proc_sys: Path) -> None:
    make_applied(root, proc_sys, "base")
    path = root / "etc/sysctl.d/99-tuner.conf"
    path.write_text(path.read_text().replace("net.core.somaxconn = 4096", "net.core.somaxconn = 1"))
    plan = plan_for("base", Host(root, proc_sys))
    [change] = plan.changes
    assert (change.layer, change.action, change.path) == (
        "file",
        "update",
        "/etc/sysctl.d/99-tuner.conf",
    )
    assert change.diff is not None
    assert "-net.core.somaxconn = 1\n+net.core.somaxconn = 4096\n" in change.diff


def test_switching_profiles_removes_tuner_files_no_longer_wanted(
    root: Path, proc_sys: Path
) -> None:
    make_applied(root, proc_sys, "haproxy-2m-conns")
    foreign = root / "etc/systemd/system/other.service.d/99-tuner.conf"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("[Service]\nLimitNOFILE=5\n")  # not tuner's: no header, left alone
    plan = plan_for("loadgen-client", Host(root, proc_sys))
    files = {c.path: c.action for c in plan.changes if c.layer == "file"}
    assert files == {
        "/etc/security/limits.d/99-tuner.conf": "update",
        "/etc/sysctl.d/99-tuner.conf": "update",
        "/etc/systemd/system/haproxy.service.d/99-tuner.conf": "delete",
    }
    assert plan.files[PurePosixPath("/etc/systemd/system/haproxy.service.d/99-tuner.conf")] is None


def test_keys_shadowed_at_boot(root: Path, host: Host) -> None:
    (root / "etc/sysctl.conf").write_text("# local\nnet.core.somaxconn = 1024\n")
    (root / "usr/lib/sysctl.d/zz-vendor.conf").write_text("net.ipv4.tcp_syncookies = 0\n")
    plan = plan_for("base", host)
    boot = sorted(
        (c.key, c.current, c.shadowed_by, c.tools) for c in plan.changes if c.layer == "boot"
    )
    assert boot == [
        ("net.core.somaxconn", "1024", "/etc/sysctl.conf:2", ("sysctl --system",)),
        ("net.ipv4.tcp_syncookies", "0", "/usr/lib/sysctl.d/zz-vendor.conf:1",
         ("systemd-sysctl", "sysctl --system")),
    ]  # fmt: skip
    warnings = [d for d in plan.warnings if d.rule == "boot-shadowed"]
    assert len(warnings) == 2


def test_image_mode_never_reads_the_kernel(root: Path) -> None:
    plan = plan_for("base", Host(root, None))
    assert plan.mode == "image"
    assert plan.proc_sys is None
    assert [c.layer for c in plan.changes] == ["file", "file"]


def test_missing_key_is_a_warning_with_a_suggestion(root: Path, proc_sys: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "typo.yaml").write_text("name: typo\nsysctl:\n  net.core.somaxcon: 1024\n")
    host = Host(root, proc_sys)
    plan = plan_for("typo", host)
    [change] = [c for c in plan.changes if c.layer == "kernel"]
    assert (change.action, change.current) == ("missing", None)
    [warning] = [d for d in plan.warnings if d.rule == "unknown-key"]
    assert warning.message == (
        "the running kernel (6.1.0-test) has no such key; did you mean net.core.somaxconn?"
    )
    with pytest.raises(Exception, match="1 error"):
        load_checked(ProfileRef.parse("typo"), host, library(host.root), strict=True)


def test_limits_another_file_decides_at_login(root: Path, host: Host) -> None:
    """pam_limits reads limits.d in name order, and a user line beats a '*' line anywhere."""
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nhaproxy:x:110:120::/:/bin/sh\n")
    (root / "etc/group").write_text("root:x:0:\nhaproxy:x:120:\n")
    (root / "etc/security/limits.conf").write_text("haproxy hard nofile 4096\n")
    (root / "etc/security/limits.d/zz-late.conf").write_text("*  soft  nofile  1024\n")
    (root / "etc/security/limits.d/00-early.conf").write_text("*  hard  nofile  1024\n")
    profile = (
        "name: x\nlimits:\n"
        "  - {domain: '*', type: '-', item: nofile, value: 65536}\n"
        "  - {domain: haproxy, type: soft, item: nofile, value: 8192}\n"
        "  - {domain: root, type: '-', item: nofile, value: 65536}\n"
    )
    (root / "x.yaml").write_text(profile)
    plan = plan_for(str(root / "x.yaml"), host)
    login = {
        c.key: (c.current, c.shadowed_by)
        for c in plan.changes
        if isinstance(c, BootShadow) and c.tools == ("pam_limits",)
    }
    assert login == {"* soft nofile": ("1024", "/etc/security/limits.d/zz-late.conf:1")}
    (root / "etc/security/limits.d/zz-late.conf").write_text("haproxy  -  nofile  2048\n")
    plan = plan_for(str(root / "x.yaml"), host)
    login = {
        c.key: (c.current, c.shadowed_by)
        for c in plan.changes
        if isinstance(c, BootShadow) and c.tools == ("pam_limits",)
    }
    assert login == {"haproxy soft nofile": ("2048", "/etc/security/limits.d/zz-late.conf:1")}
    warnings = [str(d) for d in plan.warnings if d.rule == "login-shadowed"]
    assert warnings == [
        "haproxy soft nofile: warning: at login /etc/security/limits.d/zz-late.conf:1 decides "
        "this limit (2048, pam_limits); the profile's 8192 would not apply [login-shadowed]"
    ]
