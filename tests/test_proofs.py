"""The claims the profiles make, proved on the real kernel in throwaway network namespaces.

1. With the default port range, one destination takes exactly 28,232 connections before
   EADDRNOTAVAIL; after `tuner apply loadgen-client`, exactly 64,512 (the sockets are spread over
   several processes: the hard descriptor limit here is 20,000 per process; half of them let
   bind() pick the port, so the kernel fills the range from both parities in seconds, not
   minutes: see portproof.exhaust).
2. tcp_tw_reuse: when the client closes first and every port sits in TIME_WAIT, a new connect
   fails with tcp_tw_reuse=0 and succeeds (after the 1 s minimum) with the profile's 1.
3. A port in ip_local_reserved_ports is never chosen as a source port.
4. `tuner capacity` predicts the ceilings measured in 1 and 3.

net.core.somaxconn is raised in each namespace only so that the test's listener can hold every
connection in its accept queue without accepting (and without needing descriptors).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from conftest import needs_sandbox
from sandbox import COVER_ETC, sandbox

from tuner.knowledge import capacity, catalog
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve

pytestmark = [pytest.mark.sandbox, needs_sandbox]
PROOF = Path(__file__).with_name("portproof.py")
ROOMY_QUEUE = "sysctl -q -w net.core.somaxconn=1000000\n"


def run(tmp_path: Path, body: str, timeout: float = 300) -> dict[str, object]:
    script = (
        f"WORK={shlex.quote(str(tmp_path))}\nPROOF={shlex.quote(str(PROOF))}\n" + COVER_ETC + body
    )
    result = sandbox(script, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    found: dict[str, object] = {}
    current = ""
    for line in result.stdout.splitlines():
        if line.startswith("== "):
            current = line[3:]
        elif current:
            found[current] = json.loads(line) if line.startswith(("{", "[")) else line
            current = ""
    return found


def test_loadgen_profile_has_no_global_keys(root: Path) -> None:
    """The proofs apply it on the real kernel inside a netns: only per-netns keys may be in it."""
    profile, _ = resolve(ProfileRef.parse("loadgen-client"), ProfileLibrary.for_root(root))
    assert profile is not None
    scopes = {e.key.name: (catalog.lookup(e.key.name) or catalog.Entry("", "", "", "", "global")).scope
              for e in profile.sysctl}  # fmt: skip
    assert set(scopes.values()) == {"netns"}, scopes


def test_port_exhaustion_default_then_loadgen_client(tmp_path: Path) -> None:
    body = (
        ROOMY_QUEUE
        + 'echo "== default"; python3 "$PROOF" exhaust 80\n'
        + 'echo "== predicted default"; $TUNER capacity base --json | tr -d "\\n"; echo\n'
        + '$TUNER apply loadgen-client --yes > "$WORK/apply.out"\n'
        + 'echo "== predicted"; $TUNER capacity loadgen-client --json | tr -d "\\n"; echo\n'
        + ROOMY_QUEUE  # base set somaxconn back to 4096
        + 'echo "== widened"; python3 "$PROOF" exhaust 80\n'
    )
    found = run(tmp_path, body)
    default, widened = found["default"], found["widened"]
    exhausted = {"error": "EADDRNOTAVAIL", "bind_error": "EADDRINUSE", "processes": 4}
    assert default == {"connected": 28232, **exhausted}
    assert widened == {"connected": 64512, **exhausted}
    predicted_default = found["predicted default"]
    predicted = found["predicted"]
    assert isinstance(predicted_default, dict) and isinstance(predicted, dict)
    assert isinstance(default, dict) and isinstance(widened, dict)
    assert predicted_default["ceiling"]["usable_ports_per_tuple"] == default["connected"]
    assert predicted["ceiling"]["usable_ports_per_tuple"] == widened["connected"]


def test_tw_reuse_lets_connects_through_time_wait(tmp_path: Path) -> None:
    (tmp_path / "tw.yaml").write_text(
        "name: tw\nextends: [loadgen-client]\nintent: null\nsysctl:\n"
        '  net.ipv4.ip_local_port_range: "40000 40009"\n'
    )
    body = (
        'sysctl -q -w net.ipv4.ip_local_port_range="40000 40009" net.ipv4.tcp_tw_reuse=0\n'
        + 'echo "== without"; python3 "$PROOF" timewait 80 10\n'
        + "sysctl -q -w net.ipv4.tcp_tw_reuse=2\n"
        + 'echo "== loopback"; python3 "$PROOF" timewait 81 10\n'
        + '$TUNER apply "$WORK/tw.yaml" --yes > /dev/null\n'
        + 'echo "== reuse"; sysctl -n net.ipv4.tcp_tw_reuse\n'
        + 'echo "== timewait"; ss -tan state time-wait "( dport = :80 )" | tail -n +2 | wc -l\n'
        + 'echo "== with"; python3 "$PROOF" retry 80\n'
    )
    found = run(tmp_path, body)
    assert found["without"] == {"ok": False, "error": "EADDRNOTAVAIL"}
    assert found["loopback"] == {"ok": True, "error": None}  # 2, the default: loopback reuses
    assert found["reuse"] == "1"
    assert found["timewait"] == "10"  # every port of the range still in TIME_WAIT
    with_reuse = found["with"]
    assert isinstance(with_reuse, dict)
    assert with_reuse["ok"] is True
    assert 40000 <= with_reuse["port"] <= 40009


def test_reserved_ports_are_never_source_ports(tmp_path: Path) -> None:
    (tmp_path / "res.yaml").write_text(
        "name: res\nsysctl:\n"
        '  net.ipv4.ip_local_port_range: "40000 40009"\n'
        '  net.ipv4.ip_local_reserved_ports: "40000-40004"\n'
    )
    body = (
        '$TUNER apply "$WORK/res.yaml" --yes > /dev/null\n'
        + 'echo "== ports"; python3 "$PROOF" ports 80\n'
        + 'echo "== predicted"; $TUNER capacity "$WORK/res.yaml" --json | tr -d "\\n"; echo\n'
    )
    found = run(tmp_path, body)
    assert found["ports"] == {
        "ports": [40005, 40006, 40007, 40008, 40009],
        "error": "EADDRNOTAVAIL",
    }
    predicted = found["predicted"]
    assert isinstance(predicted, dict)
    assert predicted["ceiling"]["usable_ports_per_tuple"] == 5


def test_an_idle_socket_costs_slab_not_its_buffer_minimums(tmp_path: Path) -> None:
    """What the capacity model charges an idle socket (SOCKET_KERNEL_BYTES of slab), measured; and
    idle sockets hold next to no TCP buffer pages, whatever tcp_rmem[0] + tcp_wmem[0] say."""
    found = run(tmp_path, 'echo "== idle"; python3 "$PROOF" idle 80 8000\n')
    idle = found["idle"]
    assert isinstance(idle, dict)
    assert idle["sockets"] == 16000
    per_socket = idle["slab_per_socket"]
    assert 0.5 * capacity.SOCKET_KERNEL_BYTES < per_socket < 1.5 * capacity.SOCKET_KERNEL_BYTES
    minimums_pages = idle["sockets"] * (4096 + 4096) // 4096
    assert idle["tcp_mem_pages"] < minimums_pages / 20  # not the 16,000 pages the premise says
