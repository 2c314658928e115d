"""Every rule: a profile that triggers it (with the message it gives) and one that does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_proc_sys

from tuner.base.diagnostics import Diagnostic, Location
from tuner.base.keys import parse_key
from tuner.knowledge import rules
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve
from tuner.profile.resolved import Profile, SysctlEntry

PROXY = "intent: {role: proxy, concurrent_connections: 100000, backends: 4, memory_gib: 64}\n"
NOFILE = "limits:\n  - {domain: '*', type: '-', item: nofile, value: %s}\n  - {domain: root, type: '-', item: nofile, value: %s}\n"

# rule id -> (profile body, live /proc/sys overrides, a fragment of the message)
NO_CAP = {
    "../self/status": "CapBnd:\t000001fffeffffff",
    "../1/limits": "Max open files  1024  20000  files",
}
TRIGGERS: dict[str, tuple[str, dict[str, str], str]] = {
    "limit-capped": (NOFILE % (100000, 100000), NO_CAP,
                     "nofile 100000 for * cannot take effect here: a new session gets at most 20,000"),
    "catalog-value": ("sysctl:\n  net.ipv4.tcp_tw_reuse: 3\n", {},
                      "3 is not one of 0 (off), 1 (on for all outgoing connections), 2 (on for loopback only)"),
    "value-syntax": ("", {}, "a value cannot contain a newline"),  # built in code, see below
    "port-range-order": ("sysctl:\n  net.ipv4.ip_local_port_range: 1000 65535\n", {},
                         "low end 1000 is below ip_unprivileged_port_start (1024, live value)"),
    "port-range-parity": ("sysctl:\n  net.ipv4.ip_local_port_range: 1024 65534\n", {},
                          "low 1024 and high 65534 have the same parity"),
    "listener-not-reserved": ("sysctl:\n  net.ipv4.ip_local_port_range: 1024 65535\n", {},
                              "listening port 8080 lies inside ip_local_port_range 1024-65535"),
    "outbound-per-tuple": ("intent: {role: client, concurrent_connections: 100000, destinations: 1}\n", {},
                           "100,000 outbound / 1 tuple = 100,000 per tuple = 354.2% of 60999 - 32768 + 1 = 28,232 usable ports (doctor warns at 70%)"),
    "new-connection-rate": ("intent: {role: client, concurrent_connections: 1000, new_connections_per_second: 1000}\n",
                            {"net/ipv4/tcp_tw_reuse": "0"},
                            "1,000/s / 1 tuple = 1,000/s; (28,232 usable - 1,000 held by live connections) / 60 s (60 s TIME_WAIT, no reuse) = 453/s"),
    "tw-reuse": ("sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n  net.ipv4.tcp_timestamps: 0\n", {},
                 "tcp_tw_reuse=1 (profile value) reuses TIME_WAIT ports of outgoing connections only with TCP timestamps, but tcp_timestamps is 0"),
    "key-removed": ("sysctl:\n  net.ipv4.tcp_tw_recycle: 1\n", {},
                    "removed in Linux 4.12 (this kernel is 6.1.0-test)"),
    "fin-timeout": ("sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 10, why: shorter TIME_WAIT}\n", {},
                    "10 s is below 30"),
    "nofile-above-nr-open": (NOFILE % (2000000, 2000000), {},
                             "* hard nofile 2000000 is above fs.nr_open 1,048,576 (live value)"),
    "file-max": ("sysctl:\n  fs.file-max: 100000\n" + PROXY, {},
                 "100,000 is below the 201,024 descriptors this profile plans for"),
    "proxy-descriptors": (PROXY + "services:\n  haproxy.service: {LimitNOFILE: 150000}\n", {},
                          "2 x 100,000 + 1024 = 201,024 descriptors; haproxy.service LimitNOFILE=150000"),
    "somaxconn-old-kernel": ("sysctl:\n  net.core.somaxconn: 100000\n", {"kernel/osrelease": "4.0.9"},
                             "100000 is above 65535, the limit before Linux 4.1"),
    "tcp-mem": ("sysctl:\n  net.ipv4.tcp_mem: 300 200 100\n", {},
                "min 300, pressure 200, max 100 are not in ascending order"),
    "socket-buffers-order": ("sysctl:\n  net.ipv4.tcp_rmem: 4096 8192000 6291456\n", {},
                             "min 4096, default 8192000, max 6291456 are not in ascending order"),
    "tw-buckets": ("sysctl:\n  net.ipv4.tcp_max_tw_buckets: 1000\n", {},
                   "1,000 is below this host's 131,072"),
    "conntrack": ("sysctl:\n  net.netfilter.nf_conntrack_max: 1000000\n", {},
                  "the nf_conntrack module is not loaded"),
    "container-target": ("intent: {role: server, concurrent_connections: 10, target: container}\n"
                         "sysctl:\n  fs.file-max: 3000000\n", {},
                         "a global key: a container cannot set it"),
    "limits-soft-above-hard": ("limits:\n  - {domain: '*', type: soft, item: nofile, value: 10}\n"
                               "  - {domain: '*', type: hard, item: nofile, value: 5}\n", {},
                               "* soft nofile 10 is above the hard limit 5"),
    "limits-root-wildcard": ("limits:\n  - {domain: '*', type: '-', item: nofile, value: 5000}\n", {},
                             "nofile does not apply to root on Debian"),
    "unknown-key": ("sysctl:\n  net.core.somaxconn_typo: 1\n", {},
                    "has no such key; did you mean net.core.somaxconn?"),
}  # fmt: skip

# rule id -> a profile close to the trigger that must not trigger it
QUIET: dict[str, tuple[str, dict[str, str]]] = {
    "limit-capped": (NOFILE % (100000, 100000), NO_CAP | {"../self/status": "CapBnd:\t000001ffffffffff"}),
    "catalog-value": ("sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n", {}),
    "value-syntax": ("sysctl:\n  fs.nr_open: 1048576\n", {}),
    "port-range-order": ("sysctl:\n  net.ipv4.ip_local_port_range: 1024 65535\n", {}),
    "port-range-parity": ("sysctl:\n  net.ipv4.ip_local_port_range: 1024 65535\n", {}),
    "listener-not-reserved": ("sysctl:\n  net.ipv4.ip_local_port_range: 1024 65535\n"
                              "  net.ipv4.ip_local_reserved_ports: 8080\n", {}),
    "outbound-per-tuple": ("intent: {role: client, concurrent_connections: 100000, destinations: 6}\n", {}),
    "new-connection-rate": ("intent: {role: client, concurrent_connections: 1000, new_connections_per_second: 1000}\n"
                            "sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n", {}),
    "tw-reuse": ("sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n  net.ipv4.tcp_timestamps: 1\n", {}),
    "key-removed": ("sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n", {}),
    "fin-timeout": ("sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: orphans in FIN_WAIT_2}\n", {}),
    "nofile-above-nr-open": ("sysctl:\n  fs.nr_open: 4194304\n" + NOFILE % (2000000, 2000000), {}),
    "file-max": ("sysctl:\n  fs.file-max: 3000000\n" + PROXY, {}),
    "proxy-descriptors": (PROXY + "services:\n  haproxy.service: {LimitNOFILE: 300000}\n", {}),
    "somaxconn-old-kernel": ("sysctl:\n  net.core.somaxconn: 100000\n", {}),
    "tcp-mem": ("sysctl:\n  net.ipv4.tcp_mem: 100 200 300\n", {}),
    "socket-buffers-order": ("sysctl:\n  net.ipv4.tcp_rmem: 4096 131072 6291456\n", {}),
    "tw-buckets": ("sysctl:\n  net.ipv4.tcp_max_tw_buckets: 2000000\n", {}),
    "conntrack": ("sysctl:\n  net.netfilter.nf_conntrack_max: 1000000\n",
                  {"net/netfilter/nf_conntrack_max": "262144"}),
    "container-target": ("intent: {role: server, concurrent_connections: 10, target: container}\n"
                         "sysctl:\n  net.core.somaxconn: 8192\n", {}),
    "limits-soft-above-hard": ("limits:\n  - {domain: '*', type: soft, item: nofile, value: 5}\n"
                               "  - {domain: '*', type: hard, item: nofile, value: 10}\n", {}),
    "limits-root-wildcard": (NOFILE % (5000, 5000), {}),
    "unknown-key": ("sysctl:\n  net.core.somaxconn: 1\n", {}),
}  # fmt: skip

LISTENING = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
)


def findings(
    tmp_path: Path, proc_sys: Path, root: Path, body: str, live: dict[str, str]
) -> list[Diagnostic]:
    write_proc_sys(proc_sys, live)
    (proc_sys.parent / "net").mkdir(exist_ok=True)
    (proc_sys.parent / "net/tcp").write_text(LISTENING)  # something listens on 8080
    (proc_sys.parent / "meminfo").write_text("MemTotal:       24576000 kB\n")
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True, exist_ok=True)
    (site / "t.yaml").write_text("name: t\n" + body)
    profile, problems = resolve(ProfileRef.parse("t"), ProfileLibrary.for_root(root))
    assert profile is not None, problems
    return rules.check(rules.Context(profile, LiveKernel(Host(root, proc_sys))))


def code_built_profile(value: str) -> Profile:
    entry = SysctlEntry(parse_key("fs.nr_open"), value, None, Location("t.yaml", 3, 3))
    return Profile("t", "", Path("t.yaml"), ("t",), sysctl=(entry,))


@pytest.mark.parametrize("rule_id", TRIGGERS)
def test_rule_triggers(rule_id: str, tmp_path: Path, proc_sys: Path, root: Path) -> None:
    body, live, fragment = TRIGGERS[rule_id]
    if rule_id == "value-syntax":
        ctx = rules.Context(code_built_profile("1\nkernel.x = 1"), LiveKernel(Host(root, proc_sys)))
        found = rules.check(ctx)
    else:
        found = findings(tmp_path, proc_sys, root, body, live)
    mine = [d for d in found if d.rule == rule_id]
    assert mine, [str(d) for d in found]
    assert any(fragment in d.message for d in mine), [d.message for d in mine]


@pytest.mark.parametrize("rule_id", QUIET)
def test_rule_stays_quiet(rule_id: str, tmp_path: Path, proc_sys: Path, root: Path) -> None:
    body, live = QUIET[rule_id]
    found = findings(tmp_path, proc_sys, root, body, live)
    assert [str(d) for d in found if d.rule == rule_id] == []


def test_every_rule_has_both_tests() -> None:
    ids = [r.id for r in rules.RULES]
    assert len(ids) == len(set(ids)) >= 20
    assert set(TRIGGERS) == set(ids)
    assert set(QUIET) == set(ids)


def test_every_rule_names_a_source_and_a_severity() -> None:
    for rule in rules.RULES:
        assert rule.source and rule.summary
        assert rule.severity in ("error", "warning", "info")


def test_errors_block_validation(tmp_path: Path, proc_sys: Path, root: Path) -> None:
    found = findings(tmp_path, proc_sys, root, "sysctl:\n  net.ipv4.tcp_mem: 3 2 1\n", {})
    assert [d.severity for d in found if d.rule == "tcp-mem"] == ["error"]


# Issue 11: cases where a rule used to speak wrongly, or to miss; each (rule, body, live, fragment
# or None for "quiet").
KERNEL_TRUTH: list[tuple[str, str, dict[str, str], str | None]] = [
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: 'the FIN_WAIT_2 timeout, "
     "not the TIME_WAIT length'}\n", {}, None),
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: TIME_WAIT is not "
     "shortened by it; it is FIN_WAIT_2}\n", {}, None),
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: shortens TIME_WAIT}\n",
     {}, "the why says this is about TIME_WAIT"),
    # issue 20: a correct why that names TIME_WAIT in passing is no mistake
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: 'orphans in FIN_WAIT_2 "
     "go sooner; TIME_WAIT stays a fixed 60 s'}\n", {}, None),
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: 'FIN_WAIT_2 of orphans; "
     "TIME_WAIT is TCP_TIMEWAIT_LEN'}\n", {}, None),
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: 'frees ports stuck in "
     "TIME_WAIT faster'}\n", {}, "the why says this is about TIME_WAIT"),
    ("fin-timeout", "sysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: 'the TIME_WAIT "
     "timeout'}\n", {}, "the why says this is about TIME_WAIT"),
    # issue 20: reuse that cannot work, and '*' soft lines that miss root
    ("tw-reuse", "sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n  net.ipv4.tcp_tw_reuse_delay: 60000\n", {},
     "tcp_tw_reuse_delay is 60000 ms: TIME_WAIT ends (60 s) before reuse may take a port"),
    ("tw-reuse", "sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n  net.ipv4.tcp_tw_reuse_delay: 2000\n", {},
     None),
    ("limits-root-wildcard", "limits:\n  - {domain: '*', type: soft, item: nofile, value: 4096}\n",
     {}, "'*' soft nofile does not apply to root on Debian"),
    # issue 20: held ports leave fewer for churn: 20,000 held of 28,232 leave 137/s
    ("new-connection-rate", "intent: {role: client, concurrent_connections: 20000, "
     "new_connections_per_second: 100}\n", {"net/ipv4/tcp_tw_reuse": "0"},
     "(28,232 usable - 20,000 held by live connections) / 60 s (60 s TIME_WAIT, no reuse) = 137/s"),
    ("nofile-above-nr-open", NOFILE % ("unlimited", "unlimited"), {}, None),
    ("nofile-above-nr-open", "services:\n  haproxy.service: {LimitNOFILE: infinity}\n", {}, None),
    ("container-target", "intent: {role: server, concurrent_connections: 10, target: container}\n"
     "sysctl:\n  kernel.shm_rmid_forced: 1\n", {}, None),
    ("container-target", "intent: {role: server, concurrent_connections: 10, target: kubernetes}\n"
     "sysctl:\n  net.ipv4.tcp_rmem: 4096 131072 6291456\n", {}, "safe since Kubernetes 1.32"),
    ("catalog-value", "sysctl:\n  net.ipv4.tcp_rmem: 0 131072 6291456\n", {}, "min 0 is below the minimum 1"),
    ("catalog-value", "sysctl:\n  net.ipv4.tcp_rmem: 1 131072 6291456\n", {}, None),
    ("catalog-value", "sysctl:\n  net.ipv4.tcp_tw_reuse_delay: 60001\n", {}, "60001 is above the maximum 60000"),
    ("catalog-value", "sysctl:\n  net.ipv4.tcp_syn_linear_timeouts: 127\n", {}, None),
    ("catalog-value", "sysctl:\n  net.ipv4.ping_group_range: 0 4294967294\n", {}, None),
    ("catalog-value", "sysctl:\n  net.ipv4.udp_rmem_min: 1\n", {}, None),
    # timestamps off while the live tcp_tw_reuse is 2 (the default) or 1: nothing is reused
    ("tw-reuse", "sysctl:\n  net.ipv4.tcp_timestamps: 0\n", {}, "tcp_tw_reuse=2 (live value)"),
    ("tw-reuse", "sysctl:\n  net.ipv4.tcp_timestamps: 0\n", {"net/ipv4/tcp_tw_reuse": "1"},
     "tcp_tw_reuse=1 (live value)"),
    ("tw-reuse", "sysctl:\n  net.ipv4.tcp_timestamps: 0\n", {"net/ipv4/tcp_tw_reuse": "0"}, None),
    # descriptors are per process: the limit each process gets, from any line or unit
    ("proxy-descriptors", "intent: {role: proxy, concurrent_connections: 600000, backends: 40}\n"
     "sysctl:\n  fs.nr_open: 2000000\n"
     "limits:\n  - {domain: haproxy, type: '-', item: nofile, value: 700000}\n", {},
     "2 x 600,000 + 1024 = 1,201,024 descriptors; haproxy soft nofile 700000"),
    ("proxy-descriptors", "intent: {role: proxy, concurrent_connections: 600000, backends: 40, "
     "processes: 2}\nsysctl:\n  fs.nr_open: 2000000\n"
     "limits:\n  - {domain: haproxy, type: '-', item: nofile, value: 900000}\n", {}, None),
    ("proxy-descriptors", "intent: {role: proxy, concurrent_connections: 600000, backends: 40, "
     "user: haproxy}\nsysctl:\n  fs.nr_open: 2000000\nlimits:\n"
     "  - {domain: '*', type: '-', item: nofile, value: 1000}\n"
     "  - {domain: haproxy, type: '-', item: nofile, value: 1800000}\n", {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("rule_id", "body", "live", "fragment"), KERNEL_TRUTH)
def test_rules_say_what_the_kernel_does(
    rule_id: str,
    body: str,
    live: dict[str, str],
    fragment: str | None,
    tmp_path: Path,
    proc_sys: Path,
    root: Path,
) -> None:
    found = [d for d in findings(tmp_path, proc_sys, root, body, live) if d.rule == rule_id]
    if fragment is None:
        assert [str(d) for d in found if d.severity != "info"] == []
    else:
        assert any(fragment in d.message for d in found), [d.message for d in found]


# --- acknowledged rules (issue 22) ---------------------------------------------------------------


@pytest.mark.parametrize("rule_id", [r for r in TRIGGERS if r != "value-syntax"])
def test_a_profile_acknowledges_a_rule_or_is_told_why_it_cannot(
    rule_id: str, tmp_path: Path, proc_sys: Path, root: Path
) -> None:
    body, live, _fragment = TRIGGERS[rule_id]
    plain = findings(tmp_path, proc_sys, root, body, live)
    acked = findings(
        tmp_path, proc_sys, root, body + f"acknowledge:\n  {rule_id}: 'decided in RFC-7'\n", live
    )
    others = [str(d) for d in plain if d.rule != rule_id]
    moved = [str(d) for d in acked if d.rule != rule_id and d.key != f"acknowledge.{rule_id}"]
    assert moved == others  # no other rule moves
    mine = [d for d in plain if d.rule == rule_id]
    rule = rules.by_id(rule_id)
    assert rule is not None and mine
    if rule.binding is None:
        assert [(d.severity, d.message, d.location) for d in acked if d.rule == rule_id] == [
            ("info", f"{d.message} (acknowledged: decided in RFC-7)", d.location) for d in mine
        ]
        assert not [d for d in acked if d.key == f"acknowledge.{rule_id}"]
    else:
        assert [d for d in acked if d.rule == rule_id] == mine  # only a fix answers it
        refused = [d for d in acked if d.key == f"acknowledge.{rule_id}"]
        assert [d.severity for d in refused] == ["error"]
        assert "cannot be acknowledged" in refused[0].message
        assert refused[0].location is not None and refused[0].location.line > 1


def test_a_settings_acknowledgement_covers_only_that_setting(
    tmp_path: Path, proc_sys: Path, root: Path
) -> None:
    body = (
        "limits:\n"
        "  - {domain: '*', type: soft, item: nofile, value: 4096,\n"
        "     acknowledge: {limits-root-wildcard: root runs nothing here}}\n"
        "  - {domain: '*', type: soft, item: nproc, value: 4096}\n"
    )
    found = [d for d in findings(tmp_path, proc_sys, root, body, {}) if d.rule]
    by_key = {d.key: d for d in found if d.rule == "limits-root-wildcard"}
    assert by_key["* nofile"].severity == "info"
    assert by_key["* nofile"].message.endswith("(acknowledged: root runs nothing here)")
    assert by_key["* nproc"].severity == "warning"
    assert str(by_key["* nproc"]).endswith("[limits-root-wildcard]")


def test_an_unknown_rule_id_is_an_error_with_a_suggestion(
    tmp_path: Path, proc_sys: Path, root: Path
) -> None:
    body = "acknowledge:\n  port-range-parityy: typo\n"
    found = findings(tmp_path, proc_sys, root, body, {})
    said = [d for d in found if d.key and d.key.startswith("acknowledge")]
    assert [(d.severity, d.key, d.location and d.location.line, d.message) for d in said] == [
        ("error", "acknowledge.port-range-parityy", 3, "no rule 'port-range-parityy'; did you "
         "mean 'port-range-parity'? `tuner explain RULE-ID` shows a rule")
    ]  # fmt: skip


def test_acknowledgements_follow_extends_and_null_withdraws_them(
    tmp_path: Path, proc_sys: Path, root: Path
) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True, exist_ok=True)
    (site / "parent.yaml").write_text(
        "sysctl:\n  net.ipv4.ip_local_port_range: 1024 65534\n"
        "acknowledge: {port-range-parity: fleet decision}\n"
    )
    body = "extends: [parent]\n"
    inherited = findings(tmp_path, proc_sys, root, body, {})
    assert [d.severity for d in inherited if d.rule == "port-range-parity"] == ["info"]
    withdrawn = findings(
        tmp_path, proc_sys, root, body + "acknowledge: {port-range-parity: null}\n", {}
    )
    assert [d.severity for d in withdrawn if d.rule == "port-range-parity"] == ["warning"]
