"""What doctor concludes from what it saw: findings, each with its evidence, the fix as profile
settings, and (with a profile) whether that profile fixes it.

Pure: ``Observation`` is everything read from the machine (ops.doctor gathers it through the
host); ``findings`` turns it into ``Finding``s; ``verdict`` asks the capacity model whether a
profile's values would fix one. Thresholds: a use of 70% of a limit is a warning, 90% critical.

Facts behind the findings (docs/kernel-facts.md): a (src IP, dst IP, dst port) tuple holds one
connection per usable ephemeral port; ports held by listeners and ip_local_reserved_ports are
never picked by connect(); TIME_WAIT lasts 60 s and tcp_tw_reuse lets only *outgoing* connects
take such a port (1: any destination, 2: loopback only; both need tcp_timestamps); the listen
backlog is truncated to somaxconn; ListenOverflows/ListenDrops count since the namespace began.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tuner import catalog
from tuner.processes import ProcessFds, ProcessScan
from tuner.report import plural
from tuner.sockets import Census, Listener, TupleUse

WARNING = 70.0
CRITICAL = 90.0
TIME_WAIT_SHARE = 10.0  # TIME_WAIT holding this share of a tuple's ports is a pile-up
WIDEST_RANGE = (1024, 65535)
SEVERITIES = ("critical", "warning", "info")
MAX_TUPLE_FINDINGS = 20

Values = dict[str, str]  # sysctl key -> live value (absent: the kernel has no such key)


@dataclass(frozen=True)
class Counters:
    """Numbers from /proc/net: sockstat (TIME_WAIT, orphans) and netstat (listen queue)."""

    time_wait: int | None = None
    orphans: int | None = None
    listen_overflows: int | None = None
    listen_drops: int | None = None


@dataclass(frozen=True)
class Observation:
    census: Census
    values: Values
    counters: Counters
    processes: ProcessScan
    namespace: str | None = None
    initial_namespace: bool | None = None
    container: str | None = None
    notes: tuple[str, ...] = ()  # what could not be seen


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # critical, warning or info
    summary: str
    evidence: dict[str, object]
    fix: dict[str, object]  # profile settings: {"sysctl": {...}, "limits": [...], "services": {}}
    advice: str = ""
    profiles: tuple[str, ...] = ()  # bundled profiles that set the fix
    verdict: str | None = None  # with --profile: whether that profile fixes it

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence,
            "fix": self.fix,
            "advice": self.advice,
            "profiles": list(self.profiles),
            "verdict": self.verdict,
        }


# --- reading values ---------------------------------------------------------------------------


def _ints(values: Values, key: str) -> list[int] | None:
    try:
        return [int(p) for p in values[key].split()]
    except (KeyError, ValueError):
        return None


def _int(values: Values, key: str) -> int | None:
    numbers = _ints(values, key)
    return numbers[0] if numbers else None


def usable_ports(values: Values, listening: set[int]) -> tuple[int, int, int]:
    """(low, high, usable): ports connect() may pick for one tuple: the range, less reserved
    ports and ports listeners hold inside it."""
    low, high = (_ints(values, "net.ipv4.ip_local_port_range") or [32768, 60999])[:2]
    taken = catalog.ports_in(values.get("net.ipv4.ip_local_reserved_ports", "")) | listening
    return low, high, high - low + 1 - len({p for p in taken if low <= p <= high})


def reuse_covers(values: Values, destination: str) -> bool:
    """Whether outgoing connects to ``destination`` may take a TIME_WAIT port."""
    mode = catalog.tw_reuse_mode(
        _int(values, "net.ipv4.tcp_tw_reuse"), _int(values, "net.ipv4.tcp_timestamps")
    )
    return mode == "all" or (mode == "loopback" and _is_loopback(destination))


def _is_loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def _them(count: int) -> str:
    return "that port" if count == 1 else f"these {count:,} ports"


def percent(part: int, whole: int | None) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _severity(share: float) -> str | None:
    return "critical" if share >= CRITICAL else "warning" if share >= WARNING else None


def roomy(needed: float) -> int:
    """A round limit that holds ``needed`` at under half: the next power of two of 2x."""
    return 1 << max(math.ceil(math.log2(max(needed * 2, 1))), 10)


# --- the findings -----------------------------------------------------------------------------


def findings(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    for check in CHECKS:
        found += check(seen)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(found, key=lambda f: order[f.severity])


def worst_tuples(seen: Observation) -> list[tuple[TupleUse, int, float]]:
    """(tuple, usable ports, percent) for every outbound tuple, worst first."""
    _low, _high, usable = usable_ports(seen.values, seen.census.listening_ports)
    rows = [(use, usable, percent(use.in_use, usable)) for use in seen.census.tuples]
    return sorted(rows, key=lambda r: (-r[2], -r[0].in_use, r[0].dst, r[0].dport, r[0].src))


def _port_fix(seen: Observation, use: TupleUse) -> dict[str, object]:
    low, high, _usable = usable_ports(seen.values, seen.census.listening_ports)
    sysctl: dict[str, str] = {}
    if (low, high) != WIDEST_RANGE and high - low < WIDEST_RANGE[1] - WIDEST_RANGE[0]:
        sysctl["net.ipv4.ip_local_port_range"] = f"{WIDEST_RANGE[0]} {WIDEST_RANGE[1]}"
    if use.time_wait and not reuse_covers(seen.values, use.dst):
        sysctl["net.ipv4.tcp_tw_reuse"] = "1"
        if _int(seen.values, "net.ipv4.tcp_timestamps") in (0, None):
            sysctl["net.ipv4.tcp_timestamps"] = "1"
    return {"sysctl": sysctl} if sysctl else {}


def tuple_json(use: TupleUse, usable: int, share: float) -> dict[str, object]:
    """A tuple as census.tuples[] and a finding's evidence show it."""
    return {
        "src": use.src,
        "dst": use.dst,
        "dport": use.dport,
        "in_use": use.in_use,
        "usable": usable,
        "percent": share,
        "time_wait": use.time_wait,
    }


def port_exhaustion(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    for use, usable, share in worst_tuples(seen)[:MAX_TUPLE_FINDINGS]:
        severity = _severity(share)
        if severity is None:
            break
        state = "exhausted" if use.in_use >= usable else f"{share:g}% used"
        found.append(
            Finding(
                "port-exhaustion",
                severity,
                f"ephemeral ports to {endpoint(use.dst, use.dport)} from {use.src}: {state} "
                f"({use.in_use:,} of {usable:,} usable)",
                tuple_json(use, usable, share),
                _port_fix(seen, use),
                "each (src IP, dst IP, dst port) has its own ports: spread the connections over "
                "more destination ports or IPs, or more source IPs",
            )
        )
    return found


def time_wait_pileup(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    for use, usable, _share in worst_tuples(seen):
        tw_share = percent(use.time_wait, usable)
        if tw_share < TIME_WAIT_SHARE or not use.time_wait:
            continue
        covered = reuse_covers(seen.values, use.dst)
        reuse = seen.values.get("net.ipv4.tcp_tw_reuse", "unknown")
        relief = (
            f"tcp_tw_reuse={reuse} already lets new connects to it take these ports after 1 s"
            if covered
            else f"tcp_tw_reuse=1 would let new connects to it take {_them(use.time_wait)} "
            f"after 1 s instead of 60 (it is {reuse})"
        )
        found.append(
            Finding(
                "time-wait-pileup",
                "info" if covered else "warning",
                f"{plural(use.time_wait, 'connection')} to {endpoint(use.dst, use.dport)} "
                "in TIME_WAIT "
                f"hold {tw_share:g}% of its {usable:,} usable ports: {relief}",
                tuple_json(use, usable, percent(use.in_use, usable))
                | {
                    "time_wait_percent": tw_share,
                    "reuse_relieves": 0 if covered else use.time_wait,
                },
                {} if covered else {"sysctl": {"net.ipv4.tcp_tw_reuse": "1"}},
                "this side closes first, so its ports wait 60 s; reuse helps outgoing "
                "connections only (an inbound server's TIME_WAIT holds no ephemeral port)",
            )
        )
    return found[:MAX_TUPLE_FINDINGS]


def _limit_finding(
    id: str, key: str, used: int | None, limit: int | None, what: str, advice: str = ""
) -> list[Finding]:
    if used is None or not limit:
        return []
    share = percent(used, limit)
    severity = _severity(share)
    if severity is None:
        return []
    return [
        Finding(
            id,
            severity,
            f"{what}: {used:,} of {key} {limit:,} ({share:g}%)",
            {"used": used, "limit": limit, "percent": share, "key": key},
            {"sysctl": {key: str(max(roomy(used), limit))}},
            advice,
        )
    ]


def time_wait_buckets(seen: Observation) -> list[Finding]:
    return _limit_finding(
        "time-wait-buckets", "net.ipv4.tcp_max_tw_buckets", seen.counters.time_wait,
        _int(seen.values, "net.ipv4.tcp_max_tw_buckets"), "sockets in TIME_WAIT",
        "beyond the limit the kernel destroys TIME_WAIT sockets early and logs "
        "'time wait bucket table overflow'",
    )  # fmt: skip


def orphans(seen: Observation) -> list[Finding]:
    return _limit_finding(
        "orphans", "net.ipv4.tcp_max_orphans", seen.counters.orphans,
        _int(seen.values, "net.ipv4.tcp_max_orphans"), "orphaned sockets (closed, not yet gone)",
        "beyond the limit orphans are reset at once; each may hold up to ~64 KB",
    )  # fmt: skip


def conntrack(seen: Observation) -> list[Finding]:
    return _limit_finding(
        "conntrack", "net.netfilter.nf_conntrack_max",
        _int(seen.values, "net.netfilter.nf_conntrack_count"),
        _int(seen.values, "net.netfilter.nf_conntrack_max"), "tracked connections",
        "when the table is full the kernel drops new connections ('nf_conntrack: table full')",
    )  # fmt: skip


def file_max(seen: Observation) -> list[Finding]:
    numbers = _ints(seen.values, "fs.file-nr")
    return _limit_finding(
        "file-max", "fs.file-max", numbers[0] if numbers else None,
        _int(seen.values, "fs.file-max"), "open file handles system-wide",
        "beyond it every open() and socket() fails with ENFILE",
    )  # fmt: skip


def process_nofile(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    nr_open = _int(seen.values, "fs.nr_open")
    for process in seen.processes.closest:
        severity = _severity(process.percent) if process.soft else None
        if severity is None or process.soft is None:
            continue
        want = roomy(process.open)
        fix: dict[str, object] = {}
        if process.unit:
            fix["services"] = {process.unit: {"LimitNOFILE": str(want)}}
        else:
            fix["limits"] = [{"domain": "*", "type": "-", "item": "nofile", "value": want}]
        if nr_open is not None and want > nr_open:
            fix["sysctl"] = {"fs.nr_open": str(roomy(want))}
        where = f" ({process.unit})" if process.unit else ""
        found.append(
            Finding(
                "process-nofile",
                severity,
                f"{process.name}[{process.pid}]{where}: {process.open:,} descriptors open of its "
                f"soft limit {process.soft:,} ({process.percent:.1f}%)",
                process_json(process),
                fix,
                "at its limit every accept(), connect() and open() fails with EMFILE; a new "
                "limit applies when the process starts again (services: LimitNOFILE=, which "
                "ignores limits.conf)",
            )
        )
    return found


def listen_queues(seen: Observation) -> list[Finding]:
    somaxconn = _int(seen.values, "net.core.somaxconn")
    full = [
        listener
        for listener in seen.census.listeners
        if listener.backlog and listener.queue is not None
        and percent(listener.queue, listener.backlog) >= WARNING
    ]  # fmt: skip
    overflows = seen.counters.listen_overflows or 0
    drops = seen.counters.listen_drops or 0
    if not full and not overflows and not drops:
        return []
    capped = [entry for entry in full if somaxconn and entry.backlog == somaxconn]
    fix: dict[str, object] = {}
    if somaxconn is not None and somaxconn < 65535:
        fix = {"sysctl": {"net.core.somaxconn": "65535", "net.ipv4.tcp_max_syn_backlog": "65535"}}
    worst = max((percent(e.queue or 0, e.backlog) for e in full), default=0.0)
    severity = _severity(worst) or "info"
    if full:
        names = ", ".join(f"{endpoint(e.address, e.port)} {e.queue}/{e.backlog}" for e in full)
        summary = f"accept queues nearly full now: {names}"
    else:
        summary = (
            f"listen queue overflows: {overflows:,}, drops: {drops:,} (counted since the network "
            "namespace began; no accept queue is full now: run doctor again to see if they grow)"
        )
    return [
        Finding(
            "listen-queue",
            severity,
            summary,
            {
                "listen_overflows": overflows,
                "listen_drops": drops,
                "somaxconn": somaxconn,
                "listeners": [_listener_json(e) for e in full],
                "capped_by_somaxconn": len(capped),
            },
            fix,
            "the application must also ask for a larger backlog in listen() (HAProxy: "
            "backlog); the kernel truncates it to somaxconn",
        )
    ]


def _listener_json(listener: Listener) -> dict[str, object]:
    return {
        "address": listener.address,
        "port": listener.port,
        "queue": listener.queue,
        "backlog": listener.backlog,
    }


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


CHECKS: tuple[Callable[[Observation], list[Finding]], ...] = (
    port_exhaustion, time_wait_pileup, time_wait_buckets, file_max, process_nofile,
    listen_queues, orphans, conntrack,
)  # fmt: skip


# --- would a profile fix them? ----------------------------------------------------------------


@dataclass(frozen=True)
class ProfileView:
    """What a profile would make of the machine: its sysctl values over the live ones, and its
    descriptor limits (``nofile``: unit -> LimitNOFILE soft; ``limits``: domain -> soft)."""

    values: Values
    unit_nofile: dict[str, int | None] = field(default_factory=dict)
    login_nofile: dict[str, int | None] = field(default_factory=dict)


def verdict(finding: Finding, seen: Observation, profile: ProfileView) -> str:
    """ "fixed: ...", "not fixed: ..." or "not addressed: ..." for ``finding`` under ``profile``."""
    after = profile.values
    evidence = finding.evidence
    if finding.id in ("port-exhaustion", "time-wait-pileup"):
        _low, _high, usable = usable_ports(after, seen.census.listening_ports)
        in_use = int(str(evidence["in_use"]))
        time_wait = int(str(evidence["time_wait"]))
        held = in_use - (time_wait if reuse_covers(after, str(evidence["dst"])) else 0)
        share = percent(held, usable)
        how = f"{held:,} ports held for new connects of {usable:,} usable = {share:g}%"
        if finding.id == "time-wait-pileup":
            if reuse_covers(after, str(evidence["dst"])):
                return "fixed: tcp_tw_reuse lets new connects take TIME_WAIT ports after 1 s"
            return "not fixed: the profile leaves tcp_tw_reuse off for this destination"
        return f"fixed: {how}" if share < WARNING else f"not fixed: {how}; add destinations"
    if finding.id == "process-nofile":
        unit = evidence.get("unit")
        limit = profile.unit_nofile.get(str(unit)) if unit else None
        source = f"LimitNOFILE of {unit}"
        if not unit or str(unit) not in profile.unit_nofile:
            limit, source = _login_nofile(profile, str(evidence["name"]))
        if source == "":
            return "not addressed: the profile sets no descriptor limit for this process"
        opened = int(str(evidence["open"]))
        if limit is None:
            return f"fixed: {source} is unlimited (when the process starts again)"
        share = percent(opened, limit)
        how = f"{opened:,} of {source} {limit:,} = {share:g}%"
        return (
            f"fixed: {how} (when the process starts again)"
            if share < WARNING
            else (f"not fixed: {how}")
        )
    if finding.id == "listen-queue":
        before, now = seen.values.get("net.core.somaxconn"), after.get("net.core.somaxconn")
        if before == now:
            return "not addressed: the profile leaves net.core.somaxconn as it is"
        return (
            f"raises the accept-queue cap from {before} to {now}; listeners must ask for it in "
            "listen() and start again"
        )
    key = str(evidence.get("key", ""))
    used = int(str(evidence.get("used", 0)))
    limit = _int(after, key)
    if not key or limit is None:
        return "not addressed"
    if after.get(key) == seen.values.get(key):
        return f"not addressed: the profile leaves {key} at {limit:,}"
    share = percent(used, limit)
    how = f"{used:,} of {key} {limit:,} = {share:g}%"
    return f"fixed: {how}" if share < WARNING else f"not fixed: {how}"


def _login_nofile(profile: ProfileView, _name: str) -> tuple[int | None, str]:
    """The profile's nofile for a process started from a login: the ``*`` line, else any."""
    for domain in ("*", *sorted(profile.login_nofile)):
        if domain in profile.login_nofile:
            return profile.login_nofile[domain], f"limits.d nofile for {domain}"
    return None, ""


def tuple_rows(seen: Observation) -> list[dict[str, object]]:
    """census.tuples of the JSON contract: every outbound tuple, worst first."""
    return [tuple_json(use, usable, share) for use, usable, share in worst_tuples(seen)]


def process_rows(processes: tuple[ProcessFds, ...]) -> list[dict[str, object]]:
    return [process_json(p) for p in processes]


def process_json(p: ProcessFds) -> dict[str, object]:
    """A process as descriptors.processes[] and a finding's evidence show it."""
    return {"pid": p.pid, "name": p.name, "unit": p.unit, "open": p.open, "soft": p.soft,
            "hard": p.hard, "percent": round(p.percent, 1)}  # fmt: skip
