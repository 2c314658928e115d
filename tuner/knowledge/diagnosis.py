"""What doctor concludes from what it saw: findings, each with its evidence, the fix as profile
settings, and (with a profile) whether that profile fixes it.

Pure: ``Observation`` is everything read from the machine (ops.doctor gathers it through the
host); ``findings`` turns it into ``Finding``s; ``verdict`` asks the same models whether a
profile's values would fix one. Every number comes from the connection model (connections.py:
port space, reuse, bind-before-connect, thresholds), the nofile model (nofile.py) and the listen
queue model below; tests/test_scenes.py builds each finding on the real kernel and applies its fix.

Listen queues: an accept queue holds min(the backlog the application passed to listen(),
net.core.somaxconn) connections (sock_diag reports that minimum as the listener's backlog).
When the application asked for less than somaxconn, only the application can raise it; with
tcp_syncookies on (1, the default) tcp_max_syn_backlog bounds nothing a full queue depends on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuner.base.keys import PORT_RANGE
from tuner.base.limits import Rlimit
from tuner.base.wording import plural
from tuner.knowledge import connections, nofile
from tuner.knowledge.connections import PortRange, PortSpace, Reuse, percent, severity
from tuner.knowledge.fixes import Backlog, Fix
from tuner.machine.processes import ProcessFds, ProcessScan
from tuner.machine.sockets import Census, Listener, SourceUse, TupleUse

if TYPE_CHECKING:
    from tuner.profile.resolved import Profile

SEVERITIES = ("critical", "warning", "info")
TIME_WAIT_SHARE = 10.0  # TIME_WAIT holding this share of a tuple's ports is a pile-up
MAX_TUPLE_FINDINGS = 20

Values = dict[str, str]  # sysctl key -> live value (absent: the kernel has no such key)


@dataclass(frozen=True)
class Counters:
    """Numbers from /proc/net: sockstat (timewait sockets, orphans) and netstat (since the
    namespace began)."""

    timewait_sockets: int | None = None  # sockstat "tw": TIME-WAIT and closed FIN-WAIT-2
    orphans: int | None = None
    listen_overflows: int | None = None
    listen_drops: int | None = None
    time_wait_overflow: int | None = None  # TcpExt TCPTimeWaitOverflow
    tcp_inuse: int | None = None  # sockstat: this namespace's hashed TCP sockets
    tcp_alloc: int | None = None  # sockstat: every TCP socket allocated, in any namespace


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
    users: Mapping[int, str] = field(default_factory=dict)  # uid -> name, for nofile fixes

    @functools.cached_property
    def space(self) -> PortSpace:
        return connections.space_of(
            self.values, self.census.listening_ports, self.census.bound or ()
        )

    @functools.cached_property
    def reuse(self) -> Reuse:
        return connections.reuse_of(self.values)

    def state(self, name: str) -> int:
        return self.census.states.get(name, 0)


# --- what each finding saw ---------------------------------------------------------------------


@dataclass(frozen=True)
class TupleEvidence:
    """port-exhaustion: one tuple's ports against the port space."""

    use: TupleUse
    budget: connections.TupleBudget
    space: PortSpace

    def to_json(self) -> dict[str, object]:
        return tuple_json(self.use, self.budget) | {
            "space": self.space.to_json(),
            "arithmetic": self.budget.arithmetic,
        }


@dataclass(frozen=True)
class PileupEvidence:
    """time-wait-pileup: one tuple's TIME_WAIT, and what blocks its reuse."""

    use: TupleUse
    budget: connections.TupleBudget
    time_wait_percent: float
    blocker: str | None

    def to_json(self) -> dict[str, object]:
        relieves = 0 if self.blocker is None else self.use.time_wait
        return tuple_json(self.use, self.budget) | {
            "time_wait_percent": self.time_wait_percent,
            "reuse_relieves": relieves,
            "blocker": self.blocker,
        }


@dataclass(frozen=True)
class SourceEvidence:
    """source-ports: the local ports of one source address over every tuple."""

    source: SourceUse
    space: PortSpace

    def to_json(self) -> dict[str, object]:
        return source_json(self.source, self.space)


@dataclass(frozen=True)
class LimitEvidence:
    """A count against a sysctl limit (file-max, orphans, conntrack, time-wait-buckets)."""

    key: str
    used: int | None
    limit: int
    percent: float | None = None  # None: the finding is about a counter, not the share now
    counts: tuple[tuple[str, int | None], ...] = ()  # what ``used`` is made of

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"used": self.used, "limit": self.limit}
        if self.percent is not None:
            found["percent"] = self.percent
        return found | {"key": self.key} | dict(self.counts)


@dataclass(frozen=True)
class ProcessEvidence:
    """process-nofile: a process's descriptors against its own limit."""

    process: ProcessFds
    user: str | None

    def to_json(self) -> dict[str, object]:
        return process_json(self.process) | {"user": self.user}


@dataclass(frozen=True)
class ListenerEvidence:
    """listen-queue: an accept queue against its backlog (None: only the counters say so)."""

    listener: Listener | None
    somaxconn: int | None
    syncookies: int | None = None
    overflows: int = 0
    drops: int = 0

    @property
    def capped_by_somaxconn(self) -> bool:
        listener = self.listener
        if listener is None or listener.backlog is None or self.somaxconn is None:
            return False
        return listener.backlog >= self.somaxconn

    def to_json(self) -> dict[str, object]:
        if self.listener is None:
            return {"listen_overflows": self.overflows, "listen_drops": self.drops,
                    "somaxconn": self.somaxconn}  # fmt: skip
        return _listener_json(self.listener) | {
            "somaxconn": self.somaxconn,
            "capped_by_somaxconn": self.capped_by_somaxconn,
            "syncookies": self.syncookies,
        }


Evidence = (
    TupleEvidence | PileupEvidence | SourceEvidence | LimitEvidence | ProcessEvidence
    | ListenerEvidence
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # critical, warning or info
    summary: str
    evidence: Evidence
    fix: Fix  # what a profile would set, and what only the application can change
    advice: str = ""
    profiles: tuple[str, ...] = ()  # bundled profiles that set the fix
    verdict: str | None = None  # with --profile: whether that profile fixes it

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence.to_json(),
            "fix": self.fix.to_json(),
            "advice": self.advice,
            "profiles": list(self.profiles),
            "verdict": self.verdict,
        }


def roomy(needed: float) -> int:
    """A round limit that holds ``needed`` at under half: the next power of two of 2x."""
    return 1 << max(math.ceil(math.log2(max(needed * 2, 1))), 10)


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


# --- the findings -----------------------------------------------------------------------------


def findings(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    for check in CHECKS:
        found += check(seen)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(found, key=lambda f: order[f.severity])


def budget(seen: Observation, use: TupleUse, space: PortSpace | None = None,
           reuse: Reuse | None = None) -> connections.TupleBudget:  # fmt: skip
    """A tuple's ports against ``space`` and ``reuse`` (this host's when not given)."""
    return connections.tuple_budget(
        space or seen.space, use.in_use, use.time_wait, reuse or seen.reuse, use.src, use.dst,
        use.aged,
    )  # fmt: skip


def pressure(seen: Observation, taken: int = 0) -> float:
    """The fullest tuple's share of the usable ports, or a source address's whose ports look
    bound before connect() (none shared), in percent; with ``taken`` more ports gone from the
    range."""
    usable = max(seen.space.usable - taken, 1)
    shares = [percent(budget(seen, use).held, usable) for use in seen.census.tuples]
    shares += [percent(s.ports, usable) for s in seen.census.sources if s.sockets <= s.ports]
    return max(shares, default=0.0)


def worst_tuples(seen: Observation) -> list[tuple[TupleUse, connections.TupleBudget]]:
    """Every outbound tuple with its budget, the fullest first."""
    space, reuse = seen.space, seen.reuse
    rows = [(use, budget(seen, use, space, reuse)) for use in seen.census.tuples]
    return sorted(rows, key=lambda r: (-r[1].share, -r[0].in_use, r[0].dst, r[0].dport, r[0].src))


def tuple_json(use: TupleUse, found: connections.TupleBudget) -> dict[str, object]:
    """A tuple as census.tuples[] and a finding's evidence show it."""
    return {
        "src": use.src,
        "dst": use.dst,
        "dport": use.dport,
        "in_use": use.in_use,
        "time_wait": use.time_wait,
        "reusable": found.reusable,
        "held": found.held,
        "usable": found.usable,
        "free": found.free,
        "percent": found.share,
    }


def _range_fix(seen: Observation) -> dict[str, str]:
    """The widest range the kernel accepts here, when it is wider than this one."""
    widest = PortRange.widest(seen.values)
    if widest.size > PortRange.of(seen.values).size:
        return {PORT_RANGE: str(widest)}
    return {}


def _port_fix(seen: Observation, use: TupleUse, found: connections.TupleBudget) -> dict[str, str]:
    """Settings that free ports for this tuple: reuse where TIME_WAIT holds a share of them and
    reuse does not apply, and the widest range the kernel accepts."""
    settings: dict[str, str] = {}
    reuse = seen.reuse
    if use.time_wait and not reuse.applies(use.src, use.dst):
        settings |= reuse.fix(use.dst)
    return settings | _range_fix(seen)


def port_exhaustion(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    reuse = seen.reuse
    for use, ports in worst_tuples(seen)[:MAX_TUPLE_FINDINGS]:
        level = "critical" if ports.exhausted else severity(ports.share)
        if level is None:
            break
        state = "exhausted" if ports.exhausted else f"{ports.share:g}% held"
        relief = ""
        if ports.reusable:
            relief = f"; {ports.reusable:,} in TIME_WAIT are reusable ({reuse.describe()})"
        elif use.time_wait:
            blocker = reuse.blocker(use.src, use.dst)
            young = use.time_wait - (use.aged if use.aged is not None else use.time_wait)
            relief = (f"; {use.time_wait:,} in TIME_WAIT, not reusable: {blocker}" if blocker
                      else f"; {young:,} in TIME_WAIT become reusable within "
                           f"{reuse.delay:g} s")  # fmt: skip
        fix = _port_fix(seen, use, ports)
        if ports.held > ports.usable and seen.space.parity:
            relief += (f"; an odd-size range gives {ports.usable:,} reliably, its low end only "
                       "by chance")  # fmt: skip
        found.append(
            Finding(
                "port-exhaustion",
                level,
                f"ephemeral ports to {endpoint(use.dst, use.dport)} from {use.src}: {state} "
                f"({ports.held:,} held of {ports.usable:,} usable{relief})",
                TupleEvidence(use, ports, seen.space),
                Fix(fix),
                "each (src IP, dst IP, dst port) has its own ports: spread the connections over "
                "more destination ports or IPs, or more source IPs"
                + ("" if fix else "; the range is already the widest the kernel accepts here"),
            )
        )
    return found


def source_ports(seen: Observation) -> list[Finding]:
    """Ports of one source address across all its tuples: the budget of clients that bind()
    before connect(), whose ports every connect() skips too."""
    found: list[Finding] = []
    space = seen.space
    widest: dict[str, int] = {}
    for use in seen.census.tuples:
        widest[use.src] = max(widest.get(use.src, 0), use.in_use)
    for source in sorted(seen.census.sources, key=lambda s: -s.ports):
        ports = connections.SourceBudget(source.src, space.usable, source.ports)
        level = "critical" if ports.free == 0 else severity(ports.share)
        if level is None or source.ports <= widest.get(source.src, 0):
            continue  # one tuple holds them all: port-exhaustion says it
        state = "exhausted" if ports.free == 0 else f"{ports.share:g}% in use"
        fix = _range_fix(seen)
        # connect() shares a port between tuples, a bound client never does: where sockets
        # share ports, connect() chose them and may go on doing so; only a client that binds
        # first would find none, so it is worth knowing, not an alarm
        shared = source.sockets > source.ports
        if shared:
            level = "info"
        found.append(
            Finding(
                "source-ports",
                level,
                f"local ports of {source.src} over all destinations: {state} ({source.ports:,} "
                f"of {space.usable:,} usable, {source.sockets:,} sockets"
                + (
                    ", some sharing a port: chosen by connect()"
                    if shared
                    else ", none sharing a port: bound before connect()"
                )
                + "): a client that binds before connect() gets a port only from the rest, and "
                "connect() never takes a port bound that way",
                SourceEvidence(source, space),
                Fix(fix),
                "clients that bind() a source address first (Go Dialer.LocalAddr, vegeta -laddr, "
                "HAProxy 'source') take a port from every destination at once: let connect() "
                "choose the port (no bind, or IP_BIND_ADDRESS_NO_PORT), or add source IPs",
            )
        )
    return found[:MAX_TUPLE_FINDINGS]


def source_json(source: SourceUse, space: PortSpace) -> dict[str, object]:
    share = min(percent(source.ports, space.usable), 100.0)
    return {"src": source.src, "ports": source.ports, "sockets": source.sockets,
            "usable": space.usable, "percent": share}  # fmt: skip


def time_wait_pileup(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    reuse = seen.reuse
    for use, ports in worst_tuples(seen):
        tw_share = percent(use.time_wait, ports.usable)
        if tw_share < TIME_WAIT_SHARE or not use.time_wait:
            continue
        blocker = reuse.blocker(use.src, use.dst)
        relief = (
            f"{reuse.describe()}: new connects to it take these ports"
            if blocker is None
            else f"they stay held for {connections.TIME_WAIT_SECONDS} s: {blocker}"
        )
        fix = reuse.fix(use.dst) if blocker else {}
        found.append(
            Finding(
                "time-wait-pileup",
                "info" if blocker is None else "warning",
                f"{plural(use.time_wait, 'connection')} to {endpoint(use.dst, use.dport)} "
                f"in TIME_WAIT hold {tw_share:g}% of its {ports.usable:,} usable ports: {relief}",
                PileupEvidence(use, ports, tw_share, blocker),
                Fix(fix),
                "this side closes first, so its ports wait 60 s; reuse helps outgoing "
                "connections only (an inbound server's TIME_WAIT holds no ephemeral port); "
                "a change of tcp_timestamps applies to connections made after it",
            )
        )
    return found[:MAX_TUPLE_FINDINGS]


def _limit_finding(
    id: str, key: str, used: int | None, limit: int | None, what: str, advice: str = "",
    counts: tuple[tuple[str, int | None], ...] = (),
) -> list[Finding]:  # fmt: skip
    if used is None or not limit:
        return []
    share = percent(used, limit)
    level = severity(share)
    if level is None:
        return []
    return [
        Finding(
            id,
            level,
            f"{what}: {used:,} of {key} {limit:,} ({share:g}%)",
            LimitEvidence(key, used, limit, share, counts),
            Fix({key: str(max(roomy(used), limit))}),
            advice,
        )
    ]


def time_wait_buckets(seen: Observation) -> list[Finding]:
    total = seen.counters.timewait_sockets
    limit = connections.number(seen.values, "net.ipv4.tcp_max_tw_buckets")
    time_wait, fin_wait_2 = seen.state("time-wait"), seen.state("fin-wait-2")
    split = (
        ("time_wait", time_wait),
        ("fin_wait_2", fin_wait_2),
        ("overflows", seen.counters.time_wait_overflow),
    )
    found = _limit_finding(
        "time-wait-buckets", "net.ipv4.tcp_max_tw_buckets", total, limit,
        f"timewait sockets (TIME-WAIT {time_wait:,}, closed FIN-WAIT-2 {fin_wait_2:,})",
        "beyond the limit the kernel destroys new timewait sockets at once and counts them in "
        "TcpExt TCPTimeWaitOverflow (/proc/net/netstat); nothing is logged",
        split,
    )  # fmt: skip
    overflows = seen.counters.time_wait_overflow or 0
    if found or not overflows or not limit:
        return found
    return [
        Finding(
            "time-wait-buckets",
            "warning",
            f"the kernel destroyed {overflows:,} timewait sockets early since this network "
            f"namespace began (TCPTimeWaitOverflow): tcp_max_tw_buckets {limit:,} was reached; "
            f"{total or 0:,} now",
            LimitEvidence("net.ipv4.tcp_max_tw_buckets", total, limit, None, split),
            Fix({"net.ipv4.tcp_max_tw_buckets": str(max(roomy(total or 0), limit * 2))}),
            "a destroyed TIME_WAIT socket frees its port early; old duplicates may then reach "
            "a new connection",
        )
    ]


def orphans(seen: Observation) -> list[Finding]:
    return _limit_finding(
        "orphans", "net.ipv4.tcp_max_orphans", seen.counters.orphans,
        connections.number(seen.values, "net.ipv4.tcp_max_orphans"),
        "orphaned sockets (closed by the application, still full sockets: FIN-WAIT-1, CLOSING, "
        "LAST-ACK)",
        "beyond the limit orphans are reset at once ('too many orphaned sockets'); each may "
        "hold up to ~64 KB of unswappable memory",
    )  # fmt: skip


def conntrack(seen: Observation) -> list[Finding]:
    return _limit_finding(
        "conntrack", "net.netfilter.nf_conntrack_max",
        connections.number(seen.values, "net.netfilter.nf_conntrack_count"),
        connections.number(seen.values, "net.netfilter.nf_conntrack_max"), "tracked connections",
        "when the table is full the kernel drops new connections ('nf_conntrack: table full')",
    )  # fmt: skip


def file_max(seen: Observation) -> list[Finding]:
    numbers = connections.numbers(seen.values, "fs.file-nr")
    return _limit_finding(
        "file-max", "fs.file-max", numbers[0] if numbers else None,
        connections.number(seen.values, "fs.file-max"), "open file handles system-wide",
        "beyond it every open() and socket() fails with ENFILE",
    )  # fmt: skip


def process_nofile(seen: Observation) -> list[Finding]:
    found: list[Finding] = []
    nr_open = connections.number(seen.values, "fs.nr_open")
    for process in seen.processes.closest:
        level = severity(process.percent) if process.soft else None
        if level is None or process.soft is None:
            continue
        user = seen.users.get(process.uid) if process.uid is not None else None
        want = roomy(process.open)
        fix = nofile.fix(user=user, unit=process.unit, want=want, hard=process.hard,
                         nr_open=nr_open)  # fmt: skip
        where = f" ({process.unit})" if process.unit else f" (user {user})" if user else ""
        hard = str(Rlimit(process.hard))
        found.append(
            Finding(
                "process-nofile",
                level,
                f"{process.name}[{process.pid}]{where}: {process.open:,} descriptors open of its "
                f"soft limit {process.soft:,} ({process.percent:.1f}%; hard {hard})",
                ProcessEvidence(process, user),
                fix,
                "at its limit every accept(), connect() and open() fails with EMFILE; a new "
                "limit applies when the process starts again. "
                + (
                    "A service takes LimitNOFILE= from its unit; limits.d never reaches it."
                    if process.unit
                    else "A login takes it from pam_limits: the user's own line (root ignores '*' "
                    "and group lines)."
                ),
            )
        )
    return found


def listen_queues(seen: Observation) -> list[Finding]:
    somaxconn = connections.number(seen.values, "net.core.somaxconn")
    syncookies = connections.number(seen.values, "net.ipv4.tcp_syncookies")
    found: list[Finding] = []
    for listener in seen.census.listeners:
        if not listener.backlog or listener.queue is None:
            continue
        share = percent(listener.queue, listener.backlog)
        level = severity(share)
        if level is None:
            continue
        want = roomy(listener.backlog)
        evidence = ListenerEvidence(listener, somaxconn, syncookies)
        capped = evidence.capped_by_somaxconn
        sysctl: dict[str, str] = {}
        if capped:
            sysctl = {"net.core.somaxconn": str(max(want, somaxconn or 0))}
            if syncookies == 0:
                sysctl["net.ipv4.tcp_max_syn_backlog"] = str(want)
            cap = (f"somaxconn {somaxconn:,} caps it: raise somaxconn and the application's "
                   "backlog, then listen() again")  # fmt: skip
        else:
            cap = (f"the application asked listen() for {listener.backlog:,} (below somaxconn "
                   f"{somaxconn if somaxconn is not None else 'unknown'}): only the "
                   "application's backlog raises it, no sysctl does")  # fmt: skip
        backlog = Backlog(endpoint(listener.address, listener.port), want)
        fix = Fix(sysctl, application=backlog)
        found.append(
            Finding(
                "listen-queue",
                level,
                f"accept queue of {endpoint(listener.address, listener.port)}: {listener.queue:,} "
                f"waiting of {listener.backlog:,} ({share:g}%): {cap}",
                evidence,
                fix,
                "the queue holds min(listen() backlog, somaxconn); set the backlog in the "
                "application (HAProxy: backlog, nginx: listen ... backlog=, or listen(fd, N))"
                + (
                    ""
                    if syncookies == 0
                    else "; with tcp_syncookies on, tcp_max_syn_backlog bounds nothing here"
                ),
            )
        )
    overflows = seen.counters.listen_overflows or 0
    drops = seen.counters.listen_drops or 0
    if not found and (overflows or drops):
        found.append(
            Finding(
                "listen-queue",
                "info",
                f"listen queue overflows: {overflows:,}, drops: {drops:,} (counted since the "
                "network namespace began; no accept queue is full now: run doctor again to see "
                "if they grow)",
                ListenerEvidence(None, somaxconn, overflows=overflows, drops=drops),
                Fix(),
            )
        )
    return found


def _listener_json(listener: Listener) -> dict[str, object]:
    return {
        "address": listener.address,
        "port": listener.port,
        "queue": listener.queue,
        "backlog": listener.backlog,
    }


CHECKS: tuple[Callable[[Observation], list[Finding]], ...] = (
    port_exhaustion, source_ports, time_wait_pileup, time_wait_buckets, file_max,
    process_nofile, listen_queues, orphans, conntrack,
)  # fmt: skip


# --- would a profile fix them? ----------------------------------------------------------------


@dataclass(frozen=True)
class ProfileView:
    """What a profile would make of the machine: its sysctl values over the live ones, and the
    profile itself (its limits and services, for the nofile model)."""

    values: Values
    profile: Profile | None = None


def verdict(finding: Finding, seen: Observation, view: ProfileView) -> str:
    """ "fixed: ...", "not fixed: ..." or "not addressed: ..." for ``finding`` under ``view``."""
    judge = VERDICTS.get(finding.id, _limit_verdict)
    return judge(finding, seen, view)


def _refused_range(seen: Observation, view: ProfileView) -> str | None:
    wanted = view.values.get(PORT_RANGE)
    if wanted is None or wanted == seen.values.get(PORT_RANGE):
        return None
    span = PortRange.parse(wanted)
    if span is None:
        return f"ip_local_port_range {wanted!r} is not two numbers"
    return span.refusal(view.values)


def _ports_verdict(finding: Finding, seen: Observation, view: ProfileView) -> str:
    refused = _refused_range(seen, view)
    if refused:
        return f"not fixed: the kernel refuses the profile's ip_local_port_range ({refused})"
    evidence = finding.evidence
    after = connections.space_of(view.values, seen.census.listening_ports, seen.census.bound or ())
    if isinstance(evidence, SourceEvidence):
        used = evidence.source.ports
        share = min(percent(used, after.usable), 100.0)
        how = f"{used:,} ports of {after.usable:,} usable = {share:g}%"
        return f"fixed: {how}" if share < connections.WARNING else f"not fixed: {how}"
    if not isinstance(evidence, TupleEvidence | PileupEvidence):
        return "not addressed"
    use = evidence.use
    reuse = connections.reuse_of(view.values)
    if isinstance(evidence, PileupEvidence):
        blocker = reuse.blocker(use.src, use.dst)
        if blocker is None:
            return (f"fixed: {reuse.describe()} (for connections made after it; TIME_WAIT "
                    "without timestamps stays held until it ends)")  # fmt: skip
        return f"not fixed: {blocker}"
    stamped = seen.reuse.timestamps != 0  # TIME_WAIT made without timestamps is never reused
    ports = connections.tuple_budget(after, use.in_use, use.time_wait if stamped else 0, reuse,
                                     use.src, use.dst)  # fmt: skip
    how = ports.arithmetic + ("" if stamped else " (its TIME_WAIT was made without timestamps: "
                              "held until it ends, 60 s)")  # fmt: skip
    if ports.share < connections.WARNING:
        return f"fixed: {how}"
    return f"not fixed: {how}; spread over more destinations or source IPs"


def _nofile_verdict(finding: Finding, seen: Observation, view: ProfileView) -> str:
    evidence = finding.evidence
    if not isinstance(evidence, ProcessEvidence):
        return "not addressed"
    unit, user, uid = evidence.process.unit, evidence.user, evidence.process.uid
    if view.profile is None:
        return "not addressed: no profile"
    nr_open = connections.number(view.values, "fs.nr_open")
    who = nofile.identity(user, uid) if user else None
    granted = nofile.of_profile(view.profile, who, unit, nr_open)
    if granted is None:
        if unit:
            lines = any(e.item == "nofile" for e in view.profile.limits)
            why = " (its limits.d lines never reach a service)" if lines else ""
            return f"not addressed: the profile sets no LimitNOFILE for {unit}{why}"
        if who is None:
            return "not addressed: the process's user is unknown"
        return f"not addressed: no limits line of the profile applies to {who.name}" + (
            " ('*' and group lines do not apply to root)" if who.name == "root" else ""
        )
    opened = evidence.process.open
    if granted.hard is not None and nr_open is not None and granted.hard > nr_open:
        return f"not fixed: {granted.source} is above fs.nr_open {nr_open:,} (EPERM)"
    if granted.soft is None:
        return f"fixed: {granted.source} is unlimited (when the process starts again)"
    share = percent(opened, granted.soft)
    how = f"{opened:,} of {granted.source} = {share:g}%"
    if share < connections.WARNING:
        return f"fixed: {how} (when the process starts again)"
    return f"not fixed: {how}"


def _listen_verdict(finding: Finding, seen: Observation, view: ProfileView) -> str:
    evidence = finding.evidence
    if not isinstance(evidence, ListenerEvidence) or evidence.listener is None:
        return "not addressed: no accept queue is full now"
    if not evidence.capped_by_somaxconn:
        return ("not addressed: the application's listen() backlog is the cap; no sysctl "
                "raises it")  # fmt: skip
    before, now = (
        connections.number(seen.values, "net.core.somaxconn"),
        connections.number(view.values, "net.core.somaxconn"),
    )
    if before == now or now is None:
        return "not fixed: the profile leaves net.core.somaxconn as it is"
    asked = evidence.listener.backlog
    return (f"raises the accept-queue cap from {before} to {now}: fixed once the application "
            f"asks listen() for more than {asked} and listens again")  # fmt: skip


def _limit_verdict(finding: Finding, seen: Observation, view: ProfileView) -> str:
    evidence = finding.evidence
    if not isinstance(evidence, LimitEvidence):
        return "not addressed"
    key, used = evidence.key, evidence.used or 0
    limit = connections.number(view.values, key)
    if limit is None:
        return "not addressed"
    if view.values.get(key) == seen.values.get(key):
        return f"not addressed: the profile leaves {key} at {limit:,}"
    share = percent(used, limit)
    how = f"{used:,} of {key} {limit:,} = {share:g}%"
    return f"fixed: {how}" if share < connections.WARNING else f"not fixed: {how}"


VERDICTS: dict[str, Callable[[Finding, Observation, ProfileView], str]] = {
    "port-exhaustion": _ports_verdict,
    "source-ports": _ports_verdict,
    "time-wait-pileup": _ports_verdict,
    "process-nofile": _nofile_verdict,
    "listen-queue": _listen_verdict,
}


def tuple_rows(seen: Observation) -> list[dict[str, object]]:
    """census.tuples of the JSON contract: every outbound tuple, fullest first."""
    return [tuple_json(use, ports) for use, ports in worst_tuples(seen)]


def process_rows(processes: tuple[ProcessFds, ...]) -> list[dict[str, object]]:
    return [process_json(p) for p in processes]


def process_json(p: ProcessFds) -> dict[str, object]:
    """A process as descriptors.processes[] and a finding's evidence show it."""
    return {"pid": p.pid, "name": p.name, "unit": p.unit, "uid": p.uid, "open": p.open,
            "soft": p.soft, "hard": p.hard, "percent": round(p.percent, 1)}  # fmt: skip
