from __future__ import annotations

from pathlib import Path, PurePosixPath

from tuner.machine.host import Host
from tuner.model.sysctld import PROCPS, SYSTEMD, assignments, boot_files, effective, parse_conf

P = PurePosixPath


def test_parse_conf_syntax() -> None:
    text = (
        "# comment\n; also comment\n\n"
        "fs.nr_open = 5\n"
        "-net.ipv4.tcp_tw_reuse=1\n"
        "net/ipv4/conf/eth0.100/forwarding = 1\n"
        "net.ipv4.ip_local_port_range =  1024   65535 \n"
        "net.ipv4.conf.*.rp_filter = 2\n"
        "no equals sign\n"
    )
    found = [(a.pattern, a.value, a.line, a.is_glob) for a in parse_conf(text, P("/f.conf"))]
    assert found == [
        ("fs.nr_open", "5", 4, False),
        ("net.ipv4.tcp_tw_reuse", "1", 5, False),
        ("net.ipv4.conf.eth0/100.forwarding", "1", 6, False),
        ("net.ipv4.ip_local_port_range", "1024 65535", 7, False),
        ("net.ipv4.conf.*.rp_filter", "2", 8, True),
    ]


def test_order_masking_and_links(root: Path, host: Host) -> None:
    (root / "usr/lib/sysctl.d/50-default.conf").write_text("fs.nr_open = 1\n")
    (root / "usr/lib/sysctl.d/10-vendor.conf").write_text("fs.nr_open = 2\n")
    # same name in /etc masks the vendor file entirely
    (root / "etc/sysctl.d/10-vendor.conf").write_text("fs.file-max = 3\n")
    (root / "run/sysctl.d").mkdir(parents=True)
    (root / "run/sysctl.d/50-default.conf").symlink_to("/dev/null")  # masked, absolute link
    (root / "etc/sysctl.d/README").write_text("not a .conf file\n")
    files = boot_files(host, {})
    assert [(str(f.path), str(f.target)) for f in files] == [
        ("/etc/sysctl.d/10-vendor.conf", "/etc/sysctl.d/10-vendor.conf"),
        ("/run/sysctl.d/50-default.conf", "/dev/null"),
        ("/etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.conf"),
    ]
    assert [f.text for f in files[:2]] == ["fs.file-max = 3\n", ""]


def test_overrides_stand_in_for_disk(root: Path, host: Host) -> None:
    (root / "etc/sysctl.d/99-tuner.conf").write_text("fs.nr_open = 1\n")
    (root / "etc/sysctl.d/50-gone.conf").write_text("fs.nr_open = 7\n")
    files = boot_files(
        host,
        {
            P("/etc/sysctl.d/99-tuner.conf"): "fs.nr_open = 9\n",
            P("/etc/sysctl.d/50-gone.conf"): None,
        },
    )
    assert [(str(f.path), f.text) for f in files] == [
        ("/etc/sysctl.d/99-sysctl.conf", "# /etc/sysctl.conf - see sysctl.conf(5)\n"),
        ("/etc/sysctl.d/99-tuner.conf", "fs.nr_open = 9\n"),
    ]


def test_procps_applies_sysctl_conf_last_systemd_does_not(root: Path, host: Host) -> None:
    (root / "etc/sysctl.conf").write_text("net.core.somaxconn = 1024\n")
    tuner = {P("/etc/sysctl.d/99-tuner.conf"): "net.core.somaxconn = 65535\n"}
    files = boot_files(host, tuner)
    systemd = effective(assignments(files, host, SYSTEMD), "net.core.somaxconn")
    procps = effective(assignments(files, host, PROCPS), "net.core.somaxconn")
    assert systemd is not None
    assert procps is not None
    assert (str(systemd.file), systemd.value) == ("/etc/sysctl.d/99-tuner.conf", "65535")
    assert (procps.where, procps.value) == ("/etc/sysctl.conf:1", "1024")


def test_lexically_later_file_wins(root: Path, host: Host) -> None:
    (root / "usr/lib/sysctl.d/zz-late.conf").write_text("fs.nr_open = 5\n")
    files = boot_files(host, {P("/etc/sysctl.d/99-tuner.conf"): "fs.nr_open = 9\n"})
    for tool in (SYSTEMD, PROCPS):
        winner = effective(assignments(files, host, tool), "fs.nr_open")
        assert winner is not None
        assert winner.where == "/usr/lib/sysctl.d/zz-late.conf:1"


def test_glob_never_beats_an_explicit_key_in_either_tool(root: Path, host: Host) -> None:
    """procps 4.0.2 and systemd 252 alike (see test_boot_differential.py for the real tools)."""
    (root / "etc/sysctl.d/zz-glob.conf").write_text("net.ipv4.conf.*.forwarding = 0\n")
    key = "net.ipv4.conf.eth0/100.forwarding"
    files = boot_files(host, {P("/etc/sysctl.d/99-tuner.conf"): f"{key} = 1\n"})
    for tool in (SYSTEMD, PROCPS):
        winner = effective(assignments(files, host, tool), key)
        assert winner is not None
        assert (winner.value, str(winner.file)) == ("1", "/etc/sysctl.d/99-tuner.conf")
    lo = effective(assignments(files, host, PROCPS), "net.ipv4.conf.lo.forwarding")
    assert lo is not None
    assert (lo.value, lo.is_glob) == ("0", True)


def test_a_glob_star_matches_one_path_component(root: Path, host: Host) -> None:
    files = boot_files(host, {P("/etc/sysctl.d/50-g.conf"): "net.*.forwarding = 7\n"})
    applied = assignments(files, host, SYSTEMD)
    assert effective(applied, "net.ipv4.conf.lo.forwarding") is None
    assert effective(applied, "net.ipv4.forwarding") is not None
