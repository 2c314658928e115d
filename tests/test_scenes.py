"""Doctor's advice, judged by the kernel: each scene (tests/scenes.py) makes the real kernel fail
an operation in a throwaway network namespace; doctor must name the failure with the kernel's
numbers (and ss's), its verdict on its own fix must be "fixed", and applying that fix in the
namespace must make the operation succeed. Nofile scenes run pam_limits for real through su in
a mount namespace; a service's limit is judged on a fake /proc tree (PID 1 is not systemd here)."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_sandbox
from sandbox import REPO, sandbox, tmpfs_over

from tuner.knowledge import connections, diagnosis
from tuner.machine.processes import ProcessFds, ProcessScan
from tuner.machine.sockets import Census

SCENES = Path(__file__).with_name("scenes.py")
pytestmark = [pytest.mark.sandbox, needs_sandbox]


def scene(name: str, tmp_path: Path, timeout: float = 240) -> dict[str, Any]:
    script = f"ip link set lo up\nWORK={tmp_path} {shlex.quote(sys.executable)} {SCENES} {name}\n"
    result = sandbox(script, timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    found: dict[str, Any] = dict(json.loads(result.stdout))
    states = found["doctor"]["census"]["states"]
    assert states == {state: n for state, n in found["ss"].items() if n}  # as ss sees them
    assert found["doctor"]["census"]["total"] == found["ss_total"]
    return found


def only(found: dict[str, Any], finding: str) -> Any:
    matches = [f for f in found["doctor"]["findings"] if f["id"] == finding]
    assert len(matches) == 1, found["doctor"]["findings"]
    return matches[0]


def severe(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["id"], f["severity"]) for f in found["doctor"]["findings"]
            if f["severity"] != "info"]  # fmt: skip


def fixed(found: dict[str, Any], finding: str) -> None:
    """The fix was applied and the operation the kernel refused now succeeds; doctor's verdict
    on a profile with that fix said so before it was applied."""
    assert found["before"] is not None, "the scene did not fail"
    assert found["after"] is None, f"after the fix: {found['after']}"
    if found["verdicts"] is not None:
        assert str(found["verdicts"][finding]).startswith("fixed"), found["verdicts"]


# --- ports --------------------------------------------------------------------------------------


def test_one_tuple_exhausted(tmp_path: Path) -> None:
    found = scene("tuple", tmp_path)
    assert found["before"] == "EADDRNOTAVAIL" and found["facts"]["connected"] == 100
    finding = only(found, "port-exhaustion")
    assert finding["severity"] == "critical" and "exhausted" in finding["summary"]
    evidence = finding["evidence"]
    assert (evidence["held"], evidence["usable"], evidence["free"]) == (100, 100, 0)
    assert found["fix"] == {"sysctl": {"net.ipv4.ip_local_port_range": "1024 65535"}}
    fixed(found, "port-exhaustion")


def test_each_tuple_has_the_whole_range(tmp_path: Path) -> None:
    found = scene("spread", tmp_path)
    assert found["facts"]["connected"] == {str(p): 100 for p in range(5000, 5004)}
    exhausted = [f for f in found["doctor"]["findings"] if f["id"] == "port-exhaustion"]
    assert sorted(f["evidence"]["dport"] for f in exhausted) == [5000, 5001, 5002, 5003]
    assert all(f["evidence"]["held"] == f["evidence"]["usable"] == 100 for f in exhausted)
    assert not [f for f in found["doctor"]["findings"] if f["id"] == "source-ports"]
    fixed(found, "port-exhaustion")


def test_bind_before_connect_shares_ports_across_tuples(tmp_path: Path) -> None:
    found = scene("bindfirst", tmp_path)
    assert found["before"] == "EADDRINUSE"
    assert found["facts"]["plain_connect"] == "EADDRNOTAVAIL"  # connect() skips bound ports too
    finding = only(found, "source-ports")
    assert finding["severity"] == "critical"
    assert (finding["evidence"]["ports"], finding["evidence"]["usable"]) == (1000, 1000)
    assert not [f for f in found["doctor"]["findings"] if f["id"] == "port-exhaustion"]
    fixed(found, "source-ports")


def test_connect_shares_ports_between_tuples_and_that_is_no_alarm(tmp_path: Path) -> None:
    found = scene("shared", tmp_path)
    assert found["before"] is None
    assert severe(found) == [], found["doctor"]["findings"]
    (source,) = found["doctor"]["sources"]
    assert source["sockets"] == 241 and source["ports"] < 241  # connect() shared ports


def test_odd_range_is_exhausted_one_short(tmp_path: Path) -> None:
    found = scene("odd", tmp_path)
    assert found["before"] == "EADDRNOTAVAIL"
    assert found["facts"]["connected"] in (100, 101)  # the low end is reached only by chance
    finding = only(found, "port-exhaustion")
    assert finding["evidence"]["usable"] == 100 and finding["evidence"]["free"] == 0
    assert finding["severity"] == "critical" and "exhausted" in finding["summary"]
    fixed(found, "port-exhaustion")


def test_reserved_listening_and_bound_ports_leave_the_range(tmp_path: Path) -> None:
    found = scene("reserved", tmp_path)
    connected = found["facts"]["connected"]
    assert connected == 84  # 100 - 5 reserved - 1 listener - 10 bound, unconnected
    ports = found["doctor"]["ports"]
    assert (ports["reserved"], ports["listening"], ports["bound"]) == (5, 1, 10)
    assert only(found, "port-exhaustion")["evidence"]["usable"] == connected
    fixed(found, "port-exhaustion")


def test_a_fix_the_kernel_would_refuse_is_never_proposed(tmp_path: Path) -> None:
    found = scene("refused", tmp_path)
    assert found["fix"] == {"sysctl": {"net.ipv4.ip_local_port_range": "2048 65535"}}
    # a profile whose range the kernel would refuse is judged "not fixed", and says why
    verdict = found["facts"]["loadgen_verdicts"]["port-exhaustion"]
    assert verdict.startswith("not fixed: the kernel refuses"), verdict
    assert "ip_unprivileged_port_start 2048" in verdict
    fixed(found, "port-exhaustion")  # the write itself would raise EINVAL otherwise


# --- TIME_WAIT ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("timewait", {"net.ipv4.tcp_tw_reuse": "1"}),
        ("nostamps", {"net.ipv4.tcp_timestamps": "1"}),
        ("delay", {"net.ipv4.tcp_tw_reuse_delay": "1000"}),
        ("remote", {"net.ipv4.tcp_tw_reuse": "1"}),  # 2 covers loopback addresses only
    ],
)
def test_time_wait_that_reuse_cannot_take(tmp_path: Path, name: str, fix: dict[str, str]) -> None:
    found = scene(name, tmp_path)
    assert found["before"] == "EADDRNOTAVAIL"
    exhausted = only(found, "port-exhaustion")
    assert exhausted["severity"] == "critical"
    assert exhausted["evidence"]["time_wait"] == found["ss"]["time-wait"] == 100
    assert exhausted["evidence"]["reusable"] == 0
    pileup = only(found, "time-wait-pileup")
    assert pileup["severity"] == "warning" and pileup["evidence"]["blocker"]
    assert found["fix"] == {"sysctl": fix}  # the setting that blocks reuse, nothing already set
    fixed(found, "time-wait-pileup")


@pytest.mark.parametrize("name", ["reuse1", "reuse2"])
def test_time_wait_that_reuse_takes_is_no_exhaustion(tmp_path: Path, name: str) -> None:
    found = scene(name, tmp_path)
    assert found["before"] is None  # the kernel connected through a full TIME_WAIT tuple
    assert severe(found) == []
    pileup = only(found, "time-wait-pileup")
    assert pileup["severity"] == "info"
    assert pileup["evidence"]["reusable"] == pileup["evidence"]["time_wait"] > 90


def test_time_wait_buckets_overflow_is_a_counter(tmp_path: Path) -> None:
    found = scene("buckets", tmp_path)
    assert found["before"] == "50 TIME_WAIT sockets destroyed"
    finding = only(found, "time-wait-buckets")
    assert finding["severity"] == "critical"
    assert (finding["evidence"]["used"], finding["evidence"]["limit"]) == (50, 50)
    assert finding["evidence"]["time_wait"] == found["ss"]["time-wait"] == 50
    assert finding["evidence"]["overflows"] == 50  # TcpExt TCPTimeWaitOverflow, no log line
    fixed(found, "time-wait-buckets")


def test_fin_wait_2_is_not_time_wait(tmp_path: Path) -> None:
    found = scene("finwait2", tmp_path)
    waits = found["doctor"]["time_wait"]
    assert waits["total"] == found["ss"]["time-wait"] == 0
    assert waits["fin_wait_2"] == found["ss"]["fin-wait-2"] == 50
    assert all("TIME_WAIT" not in f["summary"] for f in found["doctor"]["findings"])


# --- listen queues --------------------------------------------------------------------------------


def test_the_applications_backlog_is_the_cap(tmp_path: Path) -> None:
    found = scene("backlog", tmp_path)
    assert found["before"] == "timeout"
    finding = only(found, "listen-queue")
    assert finding["evidence"]["backlog"] == 8 and not finding["evidence"]["capped_by_somaxconn"]
    assert "sysctl" not in found["fix"]  # somaxconn cannot raise what the application asked
    assert found["fix"]["application"]["listen_backlog"] > 8
    fixed(found, "listen-queue")


def test_somaxconn_caps_the_applications_backlog(tmp_path: Path) -> None:
    found = scene("somaxconn", tmp_path)
    finding = only(found, "listen-queue")
    assert finding["evidence"]["capped_by_somaxconn"]
    assert int(found["fix"]["sysctl"]["net.core.somaxconn"]) > 8
    assert "net.ipv4.tcp_max_syn_backlog" not in found["fix"]["sysctl"]  # syncookies are on
    assert found["after"] is None


# --- a healthy namespace ------------------------------------------------------------------------


def test_fifty_thousand_connections_and_no_finding(tmp_path: Path) -> None:
    found = scene("healthy", tmp_path, timeout=400)
    assert found["facts"]["connected"] == 50400 and found["before"] is None
    assert found["doctor"]["census"]["states"]["established"] >= 100800
    assert found["doctor"]["findings"] == []


# --- descriptors ----------------------------------------------------------------------------------

HOLDER = """
import os, sys, time
wanted = int(sys.argv[1])
opened = []
try:
    while len(opened) < wanted:
        opened.append(os.open("/dev/null", os.O_RDONLY))
except OSError as exc:
    print("EMFILE" if exc.errno == 24 else exc, len(opened), flush=True)
    sys.exit(0)
print("ok", len(opened), flush=True)
deadline = time.monotonic() + 60
while len(sys.argv) > 2 and not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def nofile_scene(user: str, tmp_path: Path) -> dict[str, Any]:
    """A login of ``user`` (su, so pam_limits) holds 900 of its soft 1,024 descriptors; doctor
    names it and fixes it for that user; the fix, written to limits.d, lets a new login of that
    user open 1,500 (EMFILE before)."""
    shared = Path(tempfile.mkdtemp(prefix="tuner-scene-", dir="/tmp"))  # readable by the user
    shared.chmod(0o755)
    holder = shared / "holder.py"
    holder.write_text(HOLDER)
    holder.chmod(0o644)
    python = "/usr/bin/python3"

    def run(args: str) -> str:
        return f"su -l {user} -s /bin/sh -c {shlex.quote(f'{python} {holder} {args}')}"

    script = (
        "ip link set lo up\n"
        + tmpfs_over("/etc/security/limits.d")
        + f"{run('1500')} > {tmp_path}/before.txt\n"
        + f"{run(f'900 {shared}/stop')} > {tmp_path}/held.txt 2>&1 &\nheld=$!\n"
        + f"for i in $(seq 100); do grep -q ok {tmp_path}/held.txt 2>/dev/null && break; "
        "sleep 0.1; done\n"
        + f"{shlex.quote(sys.executable)} -m tuner doctor --json > {tmp_path}/doctor.json\n"
        + f"{shlex.quote(sys.executable)} - <<'EOF'\n"
        "import json\n"
        f"doctor = json.load(open('{tmp_path}/doctor.json'))\n"
        "lines = []\n"
        "for finding in doctor['findings']:\n"
        "    if finding['id'] == 'process-nofile':\n"
        "        for e in finding['fix'].get('limits', []):\n"
        "            lines.append(f\"{e['domain']} {e['type']} {e['item']} {e['value']}\")\n"
        "open('/etc/security/limits.d/90-fix.conf', 'w').write('\\n'.join(lines) + '\\n')\n"
        "EOF\n"
        + f"{run('1500')} > {tmp_path}/after.txt\n"
        + f"touch {shared}/stop\nwait $held 2>/dev/null || true\n"
    )
    result = sandbox(script, 120)
    assert result.returncode == 0, result.stderr
    return {
        "before": (tmp_path / "before.txt").read_text().split(),
        "after": (tmp_path / "after.txt").read_text().split(),
        "doctor": json.loads((tmp_path / "doctor.json").read_text()),
    }


@pytest.mark.parametrize("user", ["nobody", "root"])
def test_a_login_near_its_soft_limit_is_fixed_for_its_own_user(tmp_path: Path, user: str) -> None:
    found = nofile_scene(user, tmp_path)
    assert found["before"][0] == "EMFILE"
    finding = next(f for f in found["doctor"]["findings"]
                   if f["id"] == "process-nofile" and f["evidence"]["user"] == user)  # fmt: skip
    assert finding["evidence"]["user"] == user and finding["evidence"]["soft"] == 1024
    limits = finding["fix"]["limits"]
    assert {e["domain"] for e in limits} == {user}  # never '*': it does not reach root
    hard = finding["evidence"]["hard"]
    assert all(int(e["value"]) >= hard for e in limits if e["type"] in ("hard", "-"))
    assert found["after"] == ["ok", "1500"]


# --- the models, without a kernel ---------------------------------------------------------------


def _service_seen(unit: str | None) -> diagnosis.Observation:
    process = ProcessFds(77, "haproxy", 900, 1024, 4096, unit, 0)
    return diagnosis.Observation(
        Census({}, {}, (), (), 0), {"fs.nr_open": "1048576"}, diagnosis.Counters(),
        ProcessScan((process,), 1, 0), users={0: "root"},
    )  # fmt: skip


def _profile(tmp_path: Path, body: str) -> Any:
    from tuner.profile.library import ProfileLibrary
    from tuner.profile.ref import ProfileRef
    from tuner.profile.resolve import resolve

    path = tmp_path / "p.yaml"
    path.write_text("name: p\n" + body)
    profile, problems = resolve(ProfileRef.parse(str(path)), ProfileLibrary.for_root(Path("/")))
    assert profile is not None, problems
    return profile


def test_a_service_takes_limitnofile_never_limits_d(tmp_path: Path) -> None:
    seen = _service_seen("haproxy.service")
    finding = diagnosis.findings(seen)[0]
    assert finding.fix.to_json() == {"services": {"haproxy.service": {"LimitNOFILE": "2048:4096"}}}
    lines_only = _profile(tmp_path, "limits:\n  - {domain: '*', type: '-', item: nofile, "
                                    "value: 65536}\n")  # fmt: skip
    view = diagnosis.ProfileView(seen.values, lines_only)
    assert diagnosis.verdict(finding, seen, view).startswith("not addressed")
    unit = _profile(tmp_path, "services:\n  haproxy.service:\n    LimitNOFILE: 65536\n")
    assert diagnosis.verdict(finding, seen, diagnosis.ProfileView(seen.values, unit)).startswith(
        "fixed"
    )


def test_root_is_not_fixed_by_a_wildcard_line(tmp_path: Path) -> None:
    seen = _service_seen(None)
    finding = diagnosis.findings(seen)[0]
    assert finding.fix.to_json()["limits"] == [
        {"domain": "root", "type": "soft", "item": "nofile", "value": 2048},
        {"domain": "root", "type": "hard", "item": "nofile", "value": 4096},
    ]
    star = _profile(tmp_path, "limits:\n  - {domain: '*', type: '-', item: nofile, value: 2048}\n")
    assert diagnosis.verdict(finding, seen, diagnosis.ProfileView(seen.values, star)).startswith(
        "not addressed"
    )


def test_one_port_budget_and_one_nofile_decision() -> None:
    """Capacity, the rules and doctor share connections.py and nofile.py: no module but those
    computes a range's size, reads tcp_tw_reuse's modes or asks pam_limits' ranks."""
    offenders = []
    for path in (REPO / "tuner").rglob("*.py"):
        if path.name in ("connections.py", "nofile.py", "pamlimits.py", "catalog.py"):
            continue
        text = path.read_text()
        needles = ("- low + 1", "tw_reuse_mode", "_rank(", "TIME_WAIT_SECONDS =", "def ports_in")
        for needle in needles:
            if needle in text:
                offenders.append(f"{path.name}: {needle}")
    assert offenders == []
    assert connections.PortRange(40000, 40100).usable().usable == 100
