"""tuner doctor: what limits this host's connections now, each finding with its fix and the
bundled profiles that carry it; with a profile, whether that profile would fix each one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tuner.app import metrics
from tuner.app.profiles import load_checked
from tuner.base.errors import TunerError
from tuner.knowledge import connections, diagnosis, fixes
from tuner.machine import sockets
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.machine.processes import ProcessScan
from tuner.model.pamlimits import accounts
from tuner.profile.cached import resolve_cached
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef

DOCTOR_KEYS = (
    "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_timestamps", "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_max_orphans",
    "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "fs.file-nr", "fs.file-max",
    "fs.nr_open", "net.netfilter.nf_conntrack_count", "net.netfilter.nf_conntrack_max",
    "net.ipv4.tcp_tw_reuse_delay", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
)  # fmt: skip


@dataclass(frozen=True)
class Doctor:
    seen: diagnosis.Observation
    findings: tuple[diagnosis.Finding, ...]
    profile: str | None = None  # --profile: the findings carry its verdicts

    @property
    def needs_attention(self) -> bool:
        return any(f.severity != "info" for f in self.findings)

    def to_json(self) -> dict[str, object]:
        seen = self.seen
        values = seen.values
        return {
            "namespace": {
                "network": seen.namespace,
                "initial": seen.initial_namespace,
                "container": seen.container,
            },
            "findings": [f.to_json() for f in self.findings],
            "profile": self.profile,
            "census": {
                "total": seen.census.total,
                "states": dict(sorted(seen.census.states.items())),
                "families": seen.census.families,
                "inbound": seen.census.inbound,
                "listeners": len(seen.census.listeners),
                "tuples": diagnosis.tuple_rows(seen),
            },
            "time_wait": {
                "total": seen.state("time-wait"),
                "fin_wait_2": seen.state("fin-wait-2"),
                "timewait_sockets": seen.counters.timewait_sockets,
                "max_tw_buckets": connections.number(values, "net.ipv4.tcp_max_tw_buckets"),
                "overflows": seen.counters.time_wait_overflow,
                "reuse": values.get("net.ipv4.tcp_tw_reuse"),
                "timestamps": values.get("net.ipv4.tcp_timestamps"),
                "reuse_delay_ms": connections.number(values, "net.ipv4.tcp_tw_reuse_delay"),
                "reuse_in_force": seen.reuse.describe(),
            },
            "ports": seen.space.to_json()
            | {"bound_inactive": None if seen.census.bound is None else len(seen.census.bound)},
            "sources": [diagnosis.source_json(s, seen.space) for s in seen.census.sources],
            "descriptors": {
                "file_nr": connections.number(values, "fs.file-nr"),
                "file_max": connections.number(values, "fs.file-max"),
                "processes": diagnosis.process_rows(seen.processes.closest),
                "processes_seen": seen.processes.seen,
                "processes_unseen": seen.processes.unseen,
            },
            "listen": {
                "somaxconn": connections.number(values, "net.core.somaxconn"),
                "listen_overflows": seen.counters.listen_overflows,
                "listen_drops": seen.counters.listen_drops,
            },
            "orphans": {
                "count": seen.counters.orphans,
                "max": connections.number(values, "net.ipv4.tcp_max_orphans"),
            },
            "conntrack": {
                "count": connections.number(values, "net.netfilter.nf_conntrack_count"),
                "max": connections.number(values, "net.netfilter.nf_conntrack_max"),
            },
            "notes": list(seen.notes),
        }


def doctor(
    host: Host,
    library: ProfileLibrary,
    profile: ProfileRef | None = None,
    *,
    top: int = 5,
    progress: sockets.Progress | None = None,
) -> Doctor:
    """What limits this host's connections now, each finding with its fix; with ``profile``,
    whether that profile would fix each one."""
    if host.image_mode:
        raise TunerError("doctor reads the running kernel: it has nothing to read in image mode")
    notes: list[str] = []
    live = LiveKernel(host)
    values = {key: value for key in DOCTOR_KEYS if (value := live.value(key)) is not None}
    if "net.netfilter.nf_conntrack_max" not in values:
        notes.append("conntrack: not loaded in this namespace (nothing tracked, nothing to check)")
    unread = sorted(key for key in DOCTOR_KEYS if live.error(key))
    if unread:
        notes.append(f"could not read {', '.join(unread)}")
    span = connections.PortRange.of(values)
    reuse = connections.reuse_of(values)
    census = host.kernel.census(progress, (span.low + span.high + 1) // 2, int(reuse.delay * 1000))
    processes = host.kernel.processes(top)
    if processes.unseen:
        notes.append(f"could not read the descriptors of {processes.unseen} of "
                     f"{processes.seen + processes.unseen} processes (not root)")  # fmt: skip
    namespace, initial = host.kernel.network_namespace()
    seen = diagnosis.Observation(
        census, values, _counters(host, notes), processes, namespace, initial,
        host.container(), tuple(notes), _users(host, processes),
    )  # fmt: skip
    listed = _list_bound(seen)
    if listed is not False:
        bound = host.kernel.bound_ports() if listed else ()
        seen = dataclasses.replace(seen, census=dataclasses.replace(census, bound=bound))
    found = diagnosis.findings(seen)
    found = _with_profiles(found, library)
    if profile is None:
        return Doctor(seen, tuple(found))
    view = _profile_view(profile, host, library, live)
    judged = [dataclasses.replace(f, verdict=diagnosis.verdict(f, seen, view)) for f in found]
    return Doctor(seen, tuple(judged), profile.text)


def _list_bound(seen: diagnosis.Observation) -> bool | None:
    """Whether to list bound, unconnected sockets: True; None when there are none; False when
    too few could exist to change a finding. Listing them costs the kernel a walk of every bind
    bucket, connected sockets included (~1 us a socket). There are at most sockstat's alloc
    (every namespace's sockets) less inuse (this one's hashed sockets)."""
    inuse, alloc = seen.counters.tcp_inuse, seen.counters.tcp_alloc
    if inuse is None or alloc is None:
        return True
    unhashed = alloc - inuse
    if unhashed <= 0:
        return None
    return diagnosis.pressure(seen, unhashed) >= connections.WARNING


def _counters(host: Host, notes: list[str]) -> diagnosis.Counters:
    sockstat = _table(host.kernel.read_proc("net/sockstat"), "TCP:")
    netstat = _table(host.kernel.read_proc("net/netstat"), "TcpExt:")
    if not sockstat:
        notes.append("could not read /proc/net/sockstat (TIME_WAIT and orphan totals)")
    if not netstat:
        notes.append("could not read /proc/net/netstat (listen queue overflows)")
    return diagnosis.Counters(
        sockstat.get("tw"), sockstat.get("orphan"),
        netstat.get("ListenOverflows"), netstat.get("ListenDrops"),
        netstat.get("TCPTimeWaitOverflow"), sockstat.get("inuse"), sockstat.get("alloc"),
    )  # fmt: skip


def _users(host: Host, processes: ProcessScan) -> dict[int, str]:
    """Names of the uids of the processes doctor lists (the host's /etc/passwd)."""
    uids = {p.uid for p in processes.closest if p.uid is not None}
    if not uids:
        return {}
    found = {uid: name for name, (uid, _gid) in accounts(host).users.items() if uid in uids}
    return found | ({0: "root"} if 0 in uids and 0 not in found else {})


def _table(text: str | None, prefix: str) -> dict[str, int]:
    """ "TCP: inuse 5 orphan 0 tw 2" (sockstat) or a header line and a value line (netstat)."""
    lines = [line.split() for line in (text or "").splitlines() if line.startswith(prefix)]
    found: dict[str, int] = {}
    if len(lines) == 1:  # sockstat: name value pairs
        pairs = lines[0][1:]
        names, numbers = pairs[0::2], pairs[1::2]
    elif len(lines) >= 2:  # netstat: names, then values
        names, numbers = lines[0][1:], lines[1][1:]
    else:
        return found
    for name, number in zip(names, numbers, strict=False):
        if number.isdigit():
            found[name] = int(number)
    return found


def _with_profiles(
    found: list[diagnosis.Finding], library: ProfileLibrary
) -> list[diagnosis.Finding]:
    """Name the bundled profiles that set each finding's fix (a value at least as large)."""
    if not any(f.fix.settings() for f in found):
        return found
    settings: dict[str, dict[str, str]] = {}
    for entry in library.entries():
        if entry.origin != "bundled":
            continue
        resolved, _problems = resolve_cached(ProfileRef.name(entry.name), library)
        if resolved is not None:
            settings[entry.name] = fixes.profile_settings(resolved)
    return [
        dataclasses.replace(
            finding,
            profiles=tuple(
                n for n, values in sorted(settings.items()) if fixes.sets(values, finding.fix)
            ),
        )
        for finding in found
    ]


def _profile_view(
    ref: ProfileRef, host: Host, library: ProfileLibrary, live: LiveKernel
) -> diagnosis.ProfileView:
    resolved, _diagnostics = load_checked(ref, host, library, live=live, rule_errors_fail=False)
    values = {key: value for key in DOCTOR_KEYS if (value := live.value(key)) is not None}
    values.update({e.key.name: e.value for e in resolved.sysctl})
    return diagnosis.ProfileView(values, resolved)


def families(result: Doctor) -> list[metrics.Family]:
    """doctor's findings and census as Prometheus metrics (``app.metrics``)."""
    seen = result.seen
    counts: dict[tuple[str, str], int] = {}
    for finding in result.findings:
        key = (finding.id, finding.severity)
        counts[key] = counts.get(key, 0) + 1
    # the shares doctor's JSON and text show: the fullest tuple's, the fullest process's
    worst = max((budget.share for _use, budget in diagnosis.worst_tuples(seen)), default=0.0)
    fullest = max((round(p.percent, 1) for p in seen.processes.closest), default=0.0)

    def value(key: str) -> int | None:
        return connections.number(seen.values, key)

    found = [
        *metrics.common(),
        metrics.Family(
            "tuner_doctor_findings",
            "gauge",
            "Doctor's findings on this host now, by finding id and severity.",
            [metrics.Sample({"id": i, "severity": s}, n) for (i, s), n in sorted(counts.items())],
        ),
        metrics.Family(
            "tuner_doctor_sockets",
            "gauge",
            "TCP sockets by state.",
            [
                metrics.Sample({"state": state}, n)
                for state, n in sorted(seen.census.states.items())
            ],
        ),
        metrics.one(
            "tuner_doctor_tuple_usage_ratio",
            "The fullest (source IP, destination IP, "
            "destination port) tuple: ports held over ports usable.",
            round(worst / 100, 4),
        ),
        metrics.one(
            "tuner_doctor_time_wait_sockets", "Sockets in TIME_WAIT.", seen.state("time-wait")
        ),
        metrics.one(
            "tuner_doctor_usable_ports",
            "Ephemeral ports usable per tuple (the port range less reserved and listening ports).",
            seen.space.usable,
        ),
        metrics.one(
            "tuner_doctor_process_descriptor_usage_ratio",
            "The fullest process: descriptors open over its soft nofile limit.",
            round(fullest / 100, 4),
        ),
    ]
    optional = [
        (
            "tuner_doctor_file_handles",
            "gauge",
            "File handles allocated (fs.file-nr).",
            value("fs.file-nr"),
        ),
        (
            "tuner_doctor_file_handles_max",
            "gauge",
            "The most file handles (fs.file-max).",
            value("fs.file-max"),
        ),
        (
            "tuner_doctor_listen_overflows_total",
            "counter",
            "Times a listener's accept queue was full (TcpExtListenOverflows).",
            seen.counters.listen_overflows,
        ),
        (
            "tuner_doctor_conntrack_entries",
            "gauge",
            "Connections conntrack tracks.",
            value("net.netfilter.nf_conntrack_count"),
        ),
        (
            "tuner_doctor_conntrack_entries_max",
            "gauge",
            "The most conntrack tracks.",
            value("net.netfilter.nf_conntrack_max"),
        ),
    ]
    found += [metrics.one(n, h, v, k) for n, k, h, v in optional if isinstance(v, int | float)]
    return found
