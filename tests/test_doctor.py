"""tuner doctor: the census against ss on the real kernel (in throwaway network namespaces), the
findings and their fixes, the JSON contract, and what it says when it cannot see everything."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_sandbox
from sandbox import REPO, sandbox

from tuner.knowledge import diagnosis
from tuner.machine import sockets
from tuner.machine.processes import ProcessFds, ProcessScan, scan

SCENE = Path(__file__).with_name("doctorscene.py")


def scene(name: str) -> dict[str, object]:
    result = sandbox(f"ip link set lo up\n{shlex.quote(sys.executable)} {SCENE} {name}\n")
    assert result.returncode == 0, result.stdout + result.stderr
    found: dict[str, object] = json.loads(result.stdout)
    return found


def severe(doctor: dict[str, object]) -> list[dict[str, object]]:
    findings = doctor["findings"]
    assert isinstance(findings, list)
    return [f for f in findings if f["severity"] in ("warning", "critical")]


def assert_census_matches_ss(found: dict[str, object]) -> None:
    doctor, counts = found["doctor"], found["ss"]
    assert isinstance(doctor, dict) and isinstance(counts, dict)
    states = doctor["census"]["states"]
    assert states == {state: n for state, n in counts.items() if n}
    assert doctor["census"]["total"] == found["ss_total"]


# --- the real kernel, in a network namespace --------------------------------------------------


@pytest.mark.sandbox
@needs_sandbox
def test_exhausted_tuple_is_flagged_with_exact_counts_and_the_fix() -> None:
    found = scene("exhaust")
    assert found["scene"] == {"connected": 100, "error": "EADDRNOTAVAIL"}
    doctor = found["doctor"]
    assert isinstance(doctor, dict)
    assert doctor["command"] == "doctor" and doctor["format_version"] == 1
    worst = doctor["census"]["tuples"][0]
    assert worst == {"src": "127.0.0.1", "dst": "127.0.0.1", "dport": 5000, "in_use": 100,
                     "usable": 100, "percent": 100.0, "time_wait": 0, "reusable": 0,
                     "held": 100, "free": 0}  # fmt: skip
    first = doctor["findings"][0]
    assert first["id"] == "port-exhaustion" and first["severity"] == "critical"
    assert first["evidence"]["in_use"] == 100 and first["evidence"]["usable"] == 100
    assert first["fix"] == {"sysctl": {"net.ipv4.ip_local_port_range": "1024 65535"}}
    assert "destination" in first["advice"]
    assert "loadgen-client" in first["profiles"]
    assert_census_matches_ss(found)


@pytest.mark.sandbox
@needs_sandbox
def test_time_wait_pileup_and_the_reuse_relief() -> None:
    found = scene("timewait")
    doctor = found["doctor"]
    assert isinstance(doctor, dict)
    pileup = [f for f in doctor["findings"] if f["id"] == "time-wait-pileup"]
    assert len(pileup) == 1
    assert pileup[0]["severity"] == "warning"
    evidence = pileup[0]["evidence"]
    assert (evidence["time_wait"], evidence["usable"], evidence["reuse_relieves"]) == (
        120,
        200,
        120,
    )
    assert pileup[0]["fix"] == {"sysctl": {"net.ipv4.tcp_tw_reuse": "1"}}
    assert doctor["time_wait"]["total"] == 120
    assert doctor["time_wait"]["reuse"] == "0"
    assert doctor["census"]["states"]["time-wait"] == 120
    assert_census_matches_ss(found)


@pytest.mark.sandbox
@needs_sandbox
def test_healthy_namespace_has_no_findings() -> None:
    found = scene("healthy")
    doctor = found["doctor"]
    assert isinstance(doctor, dict)
    assert doctor["findings"] == [], doctor["findings"]
    assert doctor["census"]["tuples"][0]["in_use"] == 4
    assert doctor["census"]["inbound"] == 4
    assert doctor["namespace"]["initial"] in (False, None)
    assert_census_matches_ss(found)


@pytest.mark.sandbox
@needs_sandbox
def test_ipv6_and_mapped_addresses_counted_like_ss() -> None:
    found = scene("mixed")
    doctor = found["doctor"]
    assert isinstance(doctor, dict)
    assert_census_matches_ss(found)
    census = doctor["census"]
    assert census["families"]["ipv6"] > 0 and census["families"]["ipv4"] > 0
    tuples = {(t["src"], t["dst"], t["dport"]): t for t in census["tuples"]}
    assert tuples[("::1", "::1", 5000)]["in_use"] == 20 + 6 + 3  # established, TIME_WAIT, FIN_WAIT2
    assert tuples[("::1", "::1", 5000)]["time_wait"] == 6
    # IPv4 clients of the dual-stack listener: their own side is IPv4
    assert tuples[("127.0.0.1", "127.0.0.1", 5000)]["in_use"] == 10
    assert tuples[("127.0.0.1", "127.0.0.1", 6000)]["in_use"] == 7
    assert census["inbound"] == 20 + 10 + 7 + 3  # accepted sides, CLOSE_WAIT included
    assert severe(doctor) == []


@pytest.mark.sandbox
@needs_sandbox
def test_half_filters_split_every_socket_exactly_once() -> None:
    """The two bytecode halves partition the sockets: sums equal one unfiltered dump."""
    script = (
        "ip link set lo up\n"
        f"{shlex.quote(sys.executable)} - <<'EOF'\n"
        "import socket, sys, json\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from tuner.machine import sockets\n"
        "server = socket.create_server(('127.0.0.1', 40001), backlog=500)\n"
        "held = [socket.create_connection(('127.0.0.1', 40001)) for _ in range(300)]\n"
        "low = sockets.census(split=20000)\n"
        "high = sockets.census(split=60000)\n"
        "print(json.dumps([low.states, high.states, sorted((t.dport, t.in_use) for t in low.tuples)]))\n"
        "EOF\n"
    )  # fmt: skip
    result = sandbox(script)
    assert result.returncode == 0, result.stderr
    low, high, tuples = json.loads(result.stdout)
    assert low == high == {"established": 600, "listening": 1}
    assert tuples == [[40001, 300]]


@pytest.mark.sandbox
@needs_sandbox
def test_non_root_sees_what_it_can_and_says_what_it_could_not() -> None:
    """As nobody: the census works (sock_diag needs no privilege), other users' descriptors
    are unseen and counted as such."""
    # The interpreter lives under /root here, so doctor runs once as root (loading every module
    # it needs); then the process becomes nobody and runs it again.
    script = (
        "ip link set lo up\n"
        f"TUNER_NO_CACHE=1 {shlex.quote(sys.executable)} - <<'EOF'\n"
        "import os, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "import contextlib, io\n"
        "from tuner.cli import main as cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert cli.main(['doctor', '--json']) == 0\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        "sys.exit(cli.main(['doctor', '--json']))\n"
        "EOF\n"
    )
    result = sandbox(script)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    # kernel threads are never counted as unseen; another user's descriptors may be readable
    # (a stat of /proc/PID/fd gives the count since 6.2); what is not is said
    unseen = body["descriptors"]["processes_unseen"]
    assert body["descriptors"]["processes_seen"] > 0
    assert (unseen > 0) == any("not root" in note for note in body["notes"])
    assert body["census"]["states"] == {}


# --- the findings, from observations ----------------------------------------------------------


def observe(
    tuples: tuple[sockets.TupleUse, ...] = (),
    values: dict[str, str] | None = None,
    counters: diagnosis.Counters | None = None,
    processes: tuple[ProcessFds, ...] = (),
    listeners: tuple[sockets.Listener, ...] = (),
) -> diagnosis.Observation:
    base = {"net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_tw_reuse": "2",
            "net.ipv4.tcp_timestamps": "1", "net.core.somaxconn": "4096",
            "net.ipv4.tcp_max_tw_buckets": "131072", "fs.file-nr": "1000\t0\t100000",
            "fs.file-max": "100000", "fs.nr_open": "1048576"}  # fmt: skip
    census = sockets.Census({"established": 1}, {"ipv4": 1}, listeners, tuples, 0)
    return diagnosis.Observation(
        census, base | (values or {}), counters or diagnosis.Counters(0, 0, 0, 0),
        ProcessScan(processes, len(processes), 0),
    )  # fmt: skip


def ids(found: list[diagnosis.Finding]) -> list[tuple[str, str]]:
    return [(f.id, f.severity) for f in found]


def test_quiet_when_nothing_is_near_a_limit() -> None:
    seen = observe((sockets.TupleUse("10.0.0.1", "10.0.0.2", 80, 19000, 100),))
    assert diagnosis.findings(seen) == []  # 19,000 of 28,232 = 67%


def test_port_thresholds_and_reserved_and_listening_ports() -> None:
    use = sockets.TupleUse("10.0.0.1", "10.0.0.2", 80, 19800, 0)
    assert ids(diagnosis.findings(observe((use,)))) == [("port-exhaustion", "warning")]
    reserved = observe((use,), {"net.ipv4.ip_local_reserved_ports": "33000-40000"})
    found = diagnosis.findings(reserved)
    assert ids(found) == [("port-exhaustion", "critical")]
    assert found[0].evidence.to_json()["usable"] == 28232 - 7001
    listening = observe((use,), listeners=(sockets.Listener("0.0.0.0", 40000, 0, 128),))
    assert diagnosis.findings(listening)[0].evidence.to_json()["usable"] == 28231


def test_pileup_relief_depends_on_destination_and_timestamps() -> None:
    remote = sockets.TupleUse("10.0.0.1", "10.0.0.2", 80, 5000, 4000)
    loop = sockets.TupleUse("127.0.0.1", "127.0.0.1", 80, 5000, 4000)
    found = diagnosis.findings(observe((remote, loop)))
    pileups = {f.evidence.to_json()["dst"]: f for f in found if f.id == "time-wait-pileup"}
    assert pileups["10.0.0.2"].severity == "warning"  # tcp_tw_reuse=2 covers loopback only
    assert pileups["127.0.0.1"].severity == "info"
    no_stamps = diagnosis.findings(observe((loop,), {"net.ipv4.tcp_timestamps": "0"}))
    assert [f.severity for f in no_stamps if f.id == "time-wait-pileup"] == ["warning"]


def test_limit_findings_each_with_a_roomier_value() -> None:
    seen = observe(
        values={"fs.file-nr": "95000\t0\t100000", "net.netfilter.nf_conntrack_count": "60000",
                "net.netfilter.nf_conntrack_max": "65536", "net.ipv4.tcp_max_orphans": "1000"},
        counters=diagnosis.Counters(timewait_sockets=120000, orphans=800, listen_overflows=0,
                                    listen_drops=0),
    )  # fmt: skip
    found = {f.id: f for f in diagnosis.findings(seen)}
    assert found["file-max"].severity == "critical"
    assert found["file-max"].fix.to_json() == {"sysctl": {"fs.file-max": "262144"}}
    assert found["conntrack"].fix.to_json() == {
        "sysctl": {"net.netfilter.nf_conntrack_max": "131072"}
    }
    assert found["time-wait-buckets"].severity == "critical"  # 120,000 of 131,072
    assert found["orphans"].severity == "warning"


def test_process_near_its_limit_fix_names_its_service() -> None:
    service = ProcessFds(10, "haproxy", 3900, 4096, 4096, "haproxy.service")
    shell = ProcessFds(11, "vegeta", 1000, 1024, 4096, uid=1000)
    seen = observe(processes=(service, shell))
    seen = diagnosis.Observation(seen.census, seen.values, seen.counters, seen.processes,
                                 users={1000: "load"})  # fmt: skip
    fixes = {
        f.evidence.to_json()["name"]: f.fix.to_json()
        for f in diagnosis.findings(seen)
        if f.id == "process-nofile"
    }
    assert fixes["haproxy"] == {"services": {"haproxy.service": {"LimitNOFILE": "8192"}}}
    # the user's own lines, soft raised, hard kept (never lowered): not '*'
    assert fixes["vegeta"] == {"limits": [
        {"domain": "load", "type": "soft", "item": "nofile", "value": 2048},
        {"domain": "load", "type": "hard", "item": "nofile", "value": 4096},
    ]}  # fmt: skip


def test_listen_queue_now_and_since_boot() -> None:
    full = sockets.Listener("0.0.0.0", 443, 4000, 4096)
    now = diagnosis.findings(observe(listeners=(full,)))
    assert ids(now) == [("listen-queue", "critical")]
    # somaxconn caps it; syncookies (default on) make tcp_max_syn_backlog irrelevant
    assert now[0].fix.to_json()["sysctl"] == {"net.core.somaxconn": "8192"}
    app = diagnosis.findings(observe(listeners=(sockets.Listener("0.0.0.0", 443, 8, 8),)))
    assert "sysctl" not in app[0].fix.to_json()
    assert app[0].fix.to_json()["application"] == {
        "listener": "0.0.0.0:443",
        "listen_backlog": 1024,
    }
    no_cookies = diagnosis.findings(
        observe(values={"net.ipv4.tcp_syncookies": "0"}, listeners=(full,))
    )
    assert no_cookies[0].fix.to_json()["sysctl"] == {"net.core.somaxconn": "8192",
                                           "net.ipv4.tcp_max_syn_backlog": "8192"}  # fmt: skip
    past = diagnosis.findings(observe(counters=diagnosis.Counters(0, 0, 12, 12)))
    assert ids(past) == [("listen-queue", "info")]


def test_verdict_uses_the_profiles_values() -> None:
    use = sockets.TupleUse("10.0.0.1", "10.0.0.2", 80, 28000, 9000)
    seen = observe((use,), {"net.ipv4.tcp_tw_reuse": "0"})
    finding = diagnosis.findings(seen)[0]
    wider = diagnosis.ProfileView(seen.values | {"net.ipv4.ip_local_port_range": "1024 65535"})
    assert diagnosis.verdict(finding, seen, wider).startswith("fixed: 28,000 ports in use")
    same = diagnosis.ProfileView(seen.values)
    assert diagnosis.verdict(finding, seen, same).startswith("not fixed")
    reuse = diagnosis.ProfileView(seen.values | {"net.ipv4.tcp_tw_reuse": "1"})
    assert "= 19,000 held" in diagnosis.verdict(finding, seen, reuse)


# --- the doors: /proc text and process scans --------------------------------------------------

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1388 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 1 1
   1: 0100007F:9C40 0100007F:1388 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:1388 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:9C41 0100007F:1388 06 00000000:00000000 00:00000000 00000000     0        0 0 1
"""
TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 0000000000000000FFFF00000100007F:9C42 0000000000000000FFFF00000100007F:1388 01 00000000:00000000
"""


def test_census_from_proc_text_folds_mapped_addresses() -> None:
    census = sockets.census_from_text([TCP, TCP6])
    assert census.states == {"listening": 1, "established": 3, "time-wait": 1}
    assert census.listeners == (sockets.Listener("127.0.0.1", 5000, 2, None),)
    assert census.inbound == 1
    assert census.tuples == (sockets.TupleUse("127.0.0.1", "127.0.0.1", 5000, 3, 1),)


def fake_process(
    proc: Path, name: str, opened: int, soft: int, hard: int, unit: str | None = None
) -> None:
    """/proc/4242 of a root process holding ``opened`` descriptors, in ``unit`` if given."""
    process = proc / "4242"
    (process / "fd").mkdir(parents=True)
    for n in range(opened):
        (process / "fd" / str(n)).write_text("")
    (process / "limits").write_text(
        "Limit                     Soft Limit           Hard Limit           Units\n"
        f"Max open files            {soft:<20} {hard:<20} files\n"
    )
    (process / "comm").write_text(f"{name}\n")
    (process / "status").write_text(f"Name:\t{name}\nUid:\t0\t0\t0\t0\n")
    if unit:
        (process / "cgroup").write_text(f"0::/system.slice/{unit}\n")


def test_doctor_on_a_fake_proc_tree(tmp_path: Path) -> None:
    proc_sys = tmp_path / "proc" / "sys"
    for key, value in {"net/ipv4/ip_local_port_range": "40000 40003", "net/core/somaxconn": "128",
                       "net/ipv4/tcp_tw_reuse": "0",
                       "fs/file-nr": "10\t0\t1000", "fs/file-max": "1000"}.items():  # fmt: skip
        (proc_sys / key).parent.mkdir(parents=True, exist_ok=True)
        (proc_sys / key).write_text(value + "\n")
    (tmp_path / "proc" / "net").mkdir()
    (tmp_path / "proc" / "net" / "tcp").write_text(TCP)
    (tmp_path / "proc" / "net" / "tcp6").write_text(TCP6)
    fake_process(tmp_path / "proc", "worker", 9, 10, 4096)
    result = subprocess.run(
        [sys.executable, "-m", "tuner", "doctor", "--json", "--proc-sys", str(proc_sys)],
        capture_output=True, text=True, check=False, cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    found = {f["id"]: f for f in body["findings"]}
    assert found["port-exhaustion"]["evidence"]["usable"] == 4  # 40000-40003
    assert found["port-exhaustion"]["evidence"]["in_use"] == 3
    assert found["process-nofile"]["evidence"]["open"] == 9
    # its fix is for root's own lines (root ignores '*'), met by the profiles with a root line
    assert {e["domain"] for e in found["process-nofile"]["fix"]["limits"]} == {"root"}
    assert "loadgen-client" in found["process-nofile"]["profiles"]
    assert body["descriptors"]["processes"][0]["name"] == "worker"
    human = subprocess.run(
        [sys.executable, "-m", "tuner", "doctor", "--proc-sys", str(proc_sys),
         "--detailed-exitcode", "--profile", "loadgen-client"],
        capture_output=True, text=True, check=False, cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert human.returncode == 2, human.stderr
    assert "WARNING port-exhaustion" in human.stdout
    assert "CRITICAL process-nofile: worker[4242] (user root): 9 descriptors" in human.stdout
    # the profile's range, less the listener's port; its reuse frees the TIME_WAIT port
    assert ("with loadgen-client: fixed: 3 ports in use - 1 TIME_WAIT reusable = 2 held of 64,511"
            in human.stdout)  # fmt: skip
    assert "1 connection to 127.0.0.1:5000 in TIME_WAIT" in human.stdout


def test_process_scan_keeps_the_closest_and_counts_unreadable(tmp_path: Path) -> None:
    for pid, (count, soft) in {"1": (5, 1000), "2": (90, 100), "3": (50, 100)}.items():
        (tmp_path / pid / "fd").mkdir(parents=True)
        for n in range(count):
            (tmp_path / pid / "fd" / str(n)).write_text("")
        (tmp_path / pid / "limits").write_text(f"Max open files  {soft}  {soft}  files\n")
    (tmp_path / "4").mkdir()  # no limits file: gone, skipped
    result = scan(tmp_path, 2, fd_count_in_size=False)
    assert [(p.pid, p.open) for p in result.closest] == [(2, 90), (3, 50)]
    assert result.seen == 3


def test_the_doctor_op_reads_only_through_the_host(tmp_path: Path) -> None:
    """ops.doctor with an injected kernel: its values, /proc text, sockets and processes."""
    from conftest import FakeKernel, library

    from tuner.app.doctor import doctor
    from tuner.machine.host import Host

    kernel = FakeKernel(
        {
            "net.ipv4.ip_local_port_range": "40000 40009",
            "net.ipv4.tcp_max_tw_buckets": "100",
            "net.core.somaxconn": "4096",
        }
    )
    kernel.sockets = sockets.Census(
        {"time-wait": 95},
        {"ipv4": 95},
        (),
        (sockets.TupleUse("10.0.0.1", "10.0.0.9", 443, 9, 9),),
        0,
    )
    kernel.proc = {
        "net/sockstat": "sockets: used 9\nTCP: inuse 0 orphan 0 tw 95 alloc 0 mem 0\n",
        "net/netstat": "TcpExt: ListenOverflows ListenDrops\nTcpExt: 0 0\n",
    }
    kernel.scanned = ProcessScan((ProcessFds(7, "svc", 10, 1000, 1000),), 1, 0)
    result = doctor(Host(tmp_path, None, kernel=kernel), library(tmp_path), top=5)
    assert [(f.id, f.severity) for f in result.findings] == [
        ("port-exhaustion", "critical"),
        ("time-wait-buckets", "critical"),
        ("time-wait-pileup", "warning"),
    ]
    body: dict[str, Any] = json.loads(json.dumps(result.to_json()))
    assert body["namespace"] == {"network": "net:[4026532000]", "initial": False, "container": None}
    waits = {k: body["time_wait"][k] for k in ("total", "timewait_sockets", "max_tw_buckets")}
    assert waits == {"total": 95, "timewait_sockets": 95, "max_tw_buckets": 100}
    assert body["census"]["tuples"] == [
        {
            "src": "10.0.0.1",
            "dst": "10.0.0.9",
            "dport": 443,
            "in_use": 9,
            "usable": 10,
            "percent": 90.0,
            "time_wait": 9,
            "reusable": 0,
            "held": 9,
            "free": 1,
        }
    ]
    assert any("conntrack" in note for note in body["notes"])


def test_doctor_refuses_image_mode(tmp_path: Path) -> None:
    from conftest import library

    from tuner.app.doctor import doctor
    from tuner.base.errors import TunerError
    from tuner.machine.host import Host

    with pytest.raises(TunerError, match="image mode"):
        doctor(Host(tmp_path, None), library(tmp_path))


def test_progress_only_once_a_census_takes_a_while(capsys: pytest.CaptureFixture[str]) -> None:
    from tuner.cli.doctor import Progress

    progress = Progress()
    progress(1000)  # at once: nothing drawn
    assert capsys.readouterr().err == ""
    progress.start -= 1.0  # a second into the census
    progress(250000)
    progress(250001)  # within 0.1 s of the last: not drawn again
    progress.clear()
    assert capsys.readouterr().err == "\rcounting sockets: 250,000\r\x1b[K"


def test_a_service_near_its_limit_on_a_fake_proc_tree(tmp_path: Path) -> None:
    """A process in haproxy.service (its cgroup says so) near its soft limit: the fix is the
    unit's LimitNOFILE, soft raised and hard kept; a profile with only limits.d lines does not
    address it, one with LimitNOFILE fixes it."""
    proc_sys = tmp_path / "proc" / "sys"
    for key, value in {"fs/nr_open": "1048576", "fs/file-nr": "10\t0\t1000",
                       "fs/file-max": "100000"}.items():  # fmt: skip
        (proc_sys / key).parent.mkdir(parents=True, exist_ok=True)
        (proc_sys / key).write_text(value + "\n")
    fake_process(tmp_path / "proc", "haproxy", 900, 1024, 524288, "haproxy.service")
    lines_only = tmp_path / "lines.yaml"
    lines_only.write_text("name: lines\nlimits:\n  - {domain: root, type: '-', item: nofile, "
                          "value: 65536}\n")  # fmt: skip
    unit = tmp_path / "unit.yaml"
    unit.write_text("name: unit\nservices:\n  haproxy.service:\n    LimitNOFILE: 65536\n")

    def doctor(*extra: str) -> dict[str, Any]:
        result = subprocess.run(
            [sys.executable, "-m", "tuner", "doctor", "--json", "--proc-sys", str(proc_sys),
             *extra],
            capture_output=True, text=True, check=False, cwd=REPO,
            env=os.environ | {"PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        body: dict[str, Any] = json.loads(result.stdout)
        return next(f for f in body["findings"] if f["id"] == "process-nofile")

    found = doctor()
    assert found["evidence"]["unit"] == "haproxy.service"
    assert found["fix"] == {"services": {"haproxy.service": {"LimitNOFILE": "2048:524288"}}}
    assert doctor("--profile", str(lines_only))["verdict"].startswith(
        "not addressed: the profile sets no LimitNOFILE for haproxy.service (its limits.d lines "
        "never reach a service)"
    )
    assert doctor("--profile", str(unit))["verdict"].startswith(
        "fixed: 900 of haproxy.service LimitNOFILE=65536"
    )
