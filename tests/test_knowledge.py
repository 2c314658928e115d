"""The catalog, the capacity model, and explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuner.cli.main import app
from tuner.knowledge import capacity, catalog
from tuner.knowledge.facts import Facts
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve
from tuner.profile.resolved import Profile

runner = CliRunner()
BUNDLED = ["backend-server", "base", "haproxy-2m-conns", "loadgen-client"]


def bundled(name: str, root: Path) -> Profile:
    profile, problems = resolve(ProfileRef.parse(name), ProfileLibrary.for_root(root))
    assert profile is not None, problems
    return profile


def test_catalog_covers_bundled_profiles_and_is_consistent(root: Path) -> None:
    entries = catalog.entries()
    assert len(entries) >= 60
    for name in BUNDLED:
        for entry in bundled(name, root).sysctl:
            assert entry.key.name in entries, entry.key.name
    for known in entries.values():
        assert known.scope in ("netns", "ipc", "global")
        assert known.shape in ("int", "vector", "enum", "string", "portlist")
        assert known.meaning and known.source
        if known.default:  # a constant default must pass its own check
            assert known.check(known.default) is None, known.key
    assert entries["net.ipv4.tcp_tw_recycle"].removed == "4.12"
    assert entries["net.ipv4.tcp_mem"].unit == "pages"


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("net.ipv4.tcp_tw_reuse", "1", None),
        ("net.ipv4.tcp_tw_reuse", "3", "3 is not one of 0 (off), 1 (on for all outgoing connections), 2 (on for loopback only)"),
        ("net.ipv4.ip_local_port_range", "1024", "expected 2 integers (low, high), got '1024'"),
        ("net.ipv4.ip_local_port_range", "0 65535", "low 0 is below the minimum 1"),
        ("fs.nr_open", "2147483585", "2147483585 is above the maximum 2147483584"),
        ("net.core.somaxconn", "lots", "'lots' is not an integer"),
        ("net.ipv4.ip_local_reserved_ports", "8080,9000-9010", None),
        ("net.ipv4.ip_local_reserved_ports", "9010-9000", "'9010-9000' is not within 1-65535 in ascending order"),
        ("net.ipv4.tcp_congestion_control", "bbr", None),
    ],
)  # fmt: skip
def test_catalog_checks_values(key: str, value: str, problem: str | None) -> None:
    entry = catalog.lookup(key)
    assert entry is not None
    assert entry.check(value) == problem


@pytest.mark.parametrize("name", ["backend-server", "haproxy-2m-conns", "loadgen-client"])
def test_bundled_profiles_meet_their_own_intent(name: str, root: Path, proc_sys: Path) -> None:
    (proc_sys.parent / "meminfo").write_text("MemTotal:       67108864 kB\n")
    profile = bundled(name, root)
    assert profile.intent is not None
    checks = capacity.checks(profile, Facts(profile, LiveKernel(Host(root, proc_sys))))
    assert checks
    assert [c.name for c in checks if not c.ok] == []


def test_the_facts_the_blog_got_wrong(root: Path, proc_sys: Path) -> None:
    facts = Facts(bundled("base", root), LiveKernel(Host(root, proc_sys)))
    default = capacity.ceiling(bundled("base", root), facts)
    assert (default.ports.usable, default.rate_without_reuse) == (28232, 470)  # not 230/s
    # live tcp_tw_reuse=2: loopback only
    assert (default.reuse.applies(), default.reuse.applies("127.0.0.1")) == (False, True)
    assert default.lines()[-1].startswith("with reuse, to a loopback address: ")
    widened = capacity.ceiling(
        bundled("loadgen-client", root),
        Facts(bundled("loadgen-client", root), LiveKernel(Host(root, proc_sys))),
    )
    # the ports its 33,334 held connections per tuple take carry no churn: not 64,512 / 60
    assert (widened.ports.usable, widened.held) == (64512, 33334)
    assert (widened.rate_without_reuse, widened.reuse.applies()) == (519, True)


def test_reserved_ports_inside_the_range_are_not_usable(root: Path, proc_sys: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "r.yaml").write_text(
        "name: r\nsysctl:\n  net.ipv4.ip_local_port_range: 40000 40009\n"
        "  net.ipv4.ip_local_reserved_ports: 39990-40004,50000\n"
    )
    profile = bundled("r", root)
    ceiling = capacity.ceiling(profile, Facts(profile, LiveKernel(Host(root, proc_sys))))
    assert (ceiling.ports.usable, ceiling.ports.arithmetic) == (
        5,
        "40009 - 40000 + 1 - 5 reserved = 5 usable ports",
    )


def test_capacity_command(root: Path, proc_sys: Path) -> None:
    args = ["--root", str(root), "--proc-sys", str(proc_sys)]
    (proc_sys.parent / "meminfo").write_text("MemTotal:       67108864 kB\n")
    result = runner.invoke(app, ["capacity", "loadgen-client", *args])
    assert result.exit_code == 0
    assert (
        "  concurrent outbound: 64,512 per tuple x 2 tuples = 129,024, 33,334 of them held by the "
        "intent's connections" in result.output.splitlines()
    )
    assert result.output.splitlines()[-1] == "Intent met."
    doc = json.loads(runner.invoke(app, ["capacity", "haproxy-2m-conns", "--json", *args]).output)
    assert doc["ceiling"]["max_concurrent_outbound"] == 64512 * 80
    assert doc["met"] is True
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "short.yaml").write_text(
        "name: short\nintent: {role: client, concurrent_connections: 60000, destinations: 1}\n"
    )
    gap = runner.invoke(app, ["capacity", "short", *args])
    assert gap.exit_code == 1
    assert (
        "      to close the gap: 3 more destinations or source IPs, or widen ip_local_port_range"
        in gap.output.splitlines()
    )


def test_explain_key(root: Path, proc_sys: Path) -> None:
    result = runner.invoke(
        app, ["explain", "net/ipv4/tcp_tw_reuse", "--root", str(root), "--proc-sys", str(proc_sys)]
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "net.ipv4.tcp_tw_reuse (netns key)"
    assert (
        "  shape: one of 0 = off; 1 = on for all outgoing connections; 2 = on for loopback only"
        in lines
    )
    assert "  kernel default: 2" in lines
    assert "  live value: 2" in lines
    assert "  set by profiles: haproxy-2m-conns (1), loadgen-client (1)" in lines


def test_explain_rule_and_unknown(root: Path) -> None:
    rule = runner.invoke(app, ["explain", "tw-reuse", "--root", str(root)])
    assert rule.exit_code == 0
    assert rule.output.splitlines()[0] == "rule tw-reuse (error)"
    unknown = runner.invoke(app, ["explain", "net.ipv4.tcp_tw_reuze", "--root", str(root)])
    assert unknown.exit_code == 1
    assert "did you mean net.ipv4.tcp_tw_reuse" in unknown.stderr


def test_netlink_finds_a_listener_in_this_namespace() -> None:
    import socket

    from tuner.machine.sockets import listening_tcp_ports

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        assert port not in listening_tcp_ports()
        server.listen()
        assert port in listening_tcp_ports()


@pytest.mark.parametrize("subject", ["", "not a key", "../../etc/shadow"])
def test_explain_garbage_is_not_found_not_a_crash(subject: str, root: Path) -> None:
    result = runner.invoke(app, ["explain", subject, "--root", str(root)])
    assert result.exit_code == 1
    assert "is neither a catalog key nor a rule id" in result.stderr


def test_reuse_rate_follows_tcp_tw_reuse_delay(root: Path, proc_sys: Path) -> None:
    (proc_sys / "net/ipv4/tcp_tw_reuse_delay").write_text("4000\n")
    profile = bundled("loadgen-client", root)
    ceiling = capacity.ceiling(profile, Facts(profile, LiveKernel(Host(root, proc_sys))))
    assert (ceiling.reuse.delay, ceiling.rate) == (4.0, (64512 - 33334) // 4)
    assert ceiling.lines()[-1] == (
        "with reuse, to any destination: (64,512 usable - 33,334 held by live connections) "
        "/ 4 s (reuse after 4 s) = 7,794/s"
    )


def test_memory_is_judged_three_ways_and_says_where_each_figure_comes_from(
    root: Path, proc_sys: Path
) -> None:
    """Idle sockets cost slab; the pressure guarantee is compared with a tcp_mem derived from the
    declared RAM (not this host's); busy buffers are an estimate, never a gap."""
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "m.yaml").write_text(
        "name: m\nintent: {role: proxy, concurrent_connections: 1000000, backends: 40, "
        "memory_gib: 8}\nsysctl:\n  net.ipv4.tcp_rmem: 4096 16384 4194304\n"
        "  net.ipv4.tcp_wmem: 4096 16384 4194304\n"
    )
    profile = bundled("m", root)
    checks = {
        c.name: c
        for c in capacity.checks(profile, Facts(profile, LiveKernel(Host(root, proc_sys))))
    }
    idle = checks["idle sockets vs RAM"]
    assert idle.arithmetic == (
        "2,000,000 sockets x 3,700 bytes of kernel slab = 6.9 GiB; RAM 8.0 GiB (intent)"
    )
    assert idle.ok
    pressure = checks["pressure guarantee vs tcp_mem"]
    assert pressure.arithmetic == (
        "2,000,000 sockets x (4096 + 4096) bytes granted under pressure = 15.3 GiB; tcp_mem max "
        "196,608 pages x 4096 = 0.8 GiB (derived from intent memory_gib 8)"
    )
    assert not pressure.ok
    busy = checks["busy buffers vs tcp_mem (estimate)"]
    assert busy.estimate and busy.ok
    assert "room for 1% of them" in busy.arithmetic


def test_a_default_belongs_to_a_kernel_range() -> None:
    entry = catalog.lookup("net.core.rmem_max")
    assert entry is not None
    assert entry.default_for("6.1.0-18-amd64") == "212992"
    assert entry.default_for("6.17.0") == entry.default_for("6.18.44") == "4194304"
    assert entry.default_for(None) == "4194304"  # unknown kernel: the newest known
    congestion = catalog.lookup("net.ipv4.tcp_congestion_control")
    assert congestion is not None
    assert (congestion.default_for("6.18.0"), congestion.inherited) == (None, True)


@pytest.mark.parametrize(
    ("per_tuple", "reserved"), [(19000, ""), (19800, ""), (19800, "40000-40999"), (28232, "")]
)
def test_capacity_and_doctor_agree_on_the_same_facts(
    root: Path, proc_sys: Path, per_tuple: int, reserved: str
) -> None:
    """The same port budget and the same verdict: capacity's "met" for N connections per tuple
    is doctor's silence about a tuple holding N."""
    from tuner.knowledge import diagnosis
    from tuner.machine import sockets
    from tuner.machine.processes import ProcessScan

    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    body = f"name: c\nintent: {{role: client, concurrent_connections: {per_tuple}}}\n"
    if reserved:
        body += f"sysctl:\n  net.ipv4.ip_local_reserved_ports: {reserved}\n"
    (site / "c.yaml").write_text(body)
    profile = bundled("c", root)
    facts = Facts(profile, LiveKernel(Host(root, proc_sys)))
    check = next(c for c in capacity.checks(profile, facts) if c.name.startswith("outbound"))
    use = sockets.TupleUse("10.0.0.1", "10.0.0.2", 80, per_tuple, 0)
    seen = diagnosis.Observation(
        sockets.Census({}, {}, (), (use,), 0), capacity.values(facts), diagnosis.Counters(),
        ProcessScan((), 0, 0),
    )  # fmt: skip
    assert seen.space.usable == capacity.ports(facts).usable == check.available
    warned = [f for f in diagnosis.findings(seen) if f.id == "port-exhaustion"]
    assert check.ok == (not warned)
