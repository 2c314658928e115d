"""The capacity model: how many connections a profile really allows, with the arithmetic shown.

The connection facts are connections.py's (the one port budget, reuse as the kernel applies it,
the sustainable rate with held ports, the 70% threshold doctor warns at); the descriptor facts are
nofile.py's (which limit a process of the workload starts with). A proxied connection costs
about 2 descriptors. A declared workload is "met" only below the share doctor warns at, so a
profile capacity calls sufficient is one doctor stays quiet about.

Memory, three ways (an idle socket does not hold its buffer minimums):
- idle: every socket costs kernel slab (TCP socket, socket inode, file, dentry), about 3.6 KiB,
  whatever its buffers (measured on the real kernel: tests/test_proofs.py);
- under pressure: the kernel still grants each socket tcp_rmem[0] + tcp_wmem[0]; that guarantee
  must fit in tcp_mem;
- busy (an estimate): sockets at their default buffer sizes, for the share that is busy at once.
tcp_mem is the profile's, else derived from the intent's memory_gib as tcp_init does, else this
host's; RAM is the intent's, else this host's; each figure says where it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tuner.base.keys import PORT_RANGE
from tuner.base.wording import plural
from tuner.knowledge import connections, nofile
from tuner.knowledge.connections import PortSpace, Reuse
from tuner.knowledge.facts import Facts
from tuner.profile.resolved import Intent, Profile

SOCKET_KERNEL_BYTES = 3700  # slab of one idle TCP socket: ~3.6 KiB measured on Linux 6.18
FD_OVERHEAD = 1024  # listeners, logs, health checks, libraries
GIB = 1024**3
REUSE_KEYS = ("net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_tw_reuse_delay",
              "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports",
              "net.ipv4.ip_unprivileged_port_start")  # fmt: skip


@dataclass(frozen=True)
class Check:
    name: str
    needed: float
    available: float | None  # None: unknown (not declared and not readable)
    arithmetic: str
    fix: str | None = None
    estimate: bool = False  # shown for judgement, never a gap
    headroom: bool = True  # met only below connections.WARNING of available (doctor's scale)

    @property
    def ok(self) -> bool:
        if self.estimate or self.available is None:
            return True
        if self.headroom:
            return connections.fits(self.needed, self.available)
        return self.needed <= self.available

    @property
    def share(self) -> float | None:
        return None if self.available is None else connections.percent(self.needed, self.available)

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.name,
            "needed": self.needed,
            "available": self.available,
            "percent": self.share,
            "ok": self.ok,
            "estimate": self.estimate,
            "arithmetic": self.arithmetic,
            "fix": None if self.ok else self.fix,
        }


def values(facts: Facts) -> dict[str, str]:
    """The profile's values over the live ones (else defaults) for the connection model."""
    return {key: found.text for key in REUSE_KEYS if (found := facts.value(key)) is not None}


def ports(facts: Facts) -> PortSpace:
    """The port budget per tuple of the profile's range and reserved ports."""
    return connections.space_of(values(facts))


def reuse(facts: Facts) -> Reuse:
    return connections.reuse_of(values(facts))


def sockets_per_connection(intent: Intent) -> int:
    """A proxied connection holds two sockets, so two descriptors and two conntrack flows (client
    and backend, HAProxy management guide, section 5); a client's or a server's holds one."""
    return 2 if intent.role == "proxy" else 1


def descriptors_needed(intent: Intent) -> int:
    """Descriptors of the whole workload."""
    return sockets_per_connection(intent) * intent.concurrent_connections + FD_OVERHEAD


def descriptors_per_process(intent: Intent) -> int:
    """What each of ``intent.processes`` processes needs: its share of the connections' descriptors
    plus its own overhead (descriptor limits are per process)."""
    share = math.ceil(intent.concurrent_connections / intent.processes)
    return sockets_per_connection(intent) * share + FD_OVERHEAD


def nofile_limits(profile: Profile) -> list[tuple[float, str]]:
    """The soft nofile limit a process of the workload starts with, by nofile.py: each unit's
    LimitNOFILE (services ignore limits.d), and what pam_limits gives ``intent.user`` (with no
    user declared: each user the nofile lines name, and anyone a '*' line is for)."""
    found: list[tuple[float, str]] = []
    units = dict.fromkeys(s.unit for s in profile.services if s.directive == "LimitNOFILE")
    for unit in units:
        granted = nofile.for_unit(unit, profile.services)
        if granted is not None:
            found.append((granted.soft_number, f"{granted.source} (soft)"))
    lines = nofile.conf_lines(profile.limits)
    user = profile.intent.user if profile.intent else None
    if user is not None:
        who = [nofile.identity(user)]
    else:  # every login the profile's nofile lines name, and anyone '*' is for
        named = dict.fromkeys(e.domain for e in profile.limits if e.item == "nofile")
        who = [nofile.identity("\0anyone" if d == "*" else d) for d in named
               if d == "*" or (d[:1] not in "@%" and ":" not in d)]  # fmt: skip
    for person in who:
        granted = nofile.for_login(lines, person)
        if granted is not None:
            label = "a login" if person.name.startswith("\0") else f"a login of {person.name}"
            found.append((granted.soft_number, f"{granted.source}, soft, for {label}"))
    return found


def checks(profile: Profile, facts: Facts) -> list[Check]:
    intent = profile.intent
    if intent is None:
        return []
    found: list[Check] = []
    span = ports(facts)
    outbound = intent.concurrent_connections if intent.role in ("proxy", "client") else 0
    tuples = intent.tuples
    per_tuple = math.ceil(outbound / tuples) if outbound else 0
    if outbound:
        share = connections.percent(per_tuple, span.usable)
        found.append(
            Check(
                "outbound connections per tuple",
                per_tuple,
                span.usable,
                f"{outbound:,} outbound / {plural(tuples, 'tuple')} = {per_tuple:,} per tuple "
                f"= {share:g}% of {span.arithmetic} (doctor warns at {connections.WARNING:g}%)",
                _more_tuples(outbound, tuples, span.usable),
            )
        )
    rate = intent.new_connections_per_second
    if outbound and rate:
        per_tuple_rate = math.ceil(rate / tuples)
        policy = reuse(facts)
        applies = policy.applies()  # a remote destination
        after = policy.delay if applies else None
        limit = connections.sustainable_rate(span.usable, per_tuple, after)
        more_tuples = "add destinations or source IPs, or widen ip_local_port_range"
        why = "" if applies else f" ({policy.blocker()})"
        fix = more_tuples if applies else f"{_reuse_fix(policy)}, or {more_tuples}"
        found.append(
            Check(
                "new connections per second per tuple",
                per_tuple_rate,
                limit,
                f"{rate:,}/s / {plural(tuples, 'tuple')} = {per_tuple_rate:,}/s; "
                f"{connections.rate_arithmetic(span.usable, per_tuple, after)}"
                f"{why}",
                fix,
            )
        )
    fds = descriptors_needed(intent)
    per = "2 x " if intent.role == "proxy" else ""
    fd_text = f"{per}{intent.concurrent_connections:,} + {FD_OVERHEAD} = {fds:,} descriptors"
    each = descriptors_per_process(intent)
    each_text = (
        fd_text
        if intent.processes == 1
        else f"{per}{intent.concurrent_connections:,} / {intent.processes} processes + "
        f"{FD_OVERHEAD} = {each:,} descriptors per process"
    )
    roomy = math.ceil(each * 100 / connections.WARNING)
    for number, label in nofile_limits(profile):
        found.append(Check("descriptors vs nofile", each, number, f"{each_text}; {label}",
                           f"raise it to at least {roomy:,}"))  # fmt: skip
    for key, need, text in (("fs.nr_open", each, each_text), ("fs.file-max", fds, fd_text)):
        value = facts.value(key)
        setting = facts.first_int(key)
        shown = f"{setting:,} ({value.origin})" if value and setting is not None else "unknown"
        # fs.nr_open is a ceiling for limits, not a count doctor watches: it must only hold them
        headroom = key == "fs.file-max"
        least = math.ceil(need * 100 / connections.WARNING) if headroom else need
        found.append(Check(f"descriptors vs {key}", need, setting, f"{text}; {key} = {shown}",
                           f"raise {key} to at least {least:,}", headroom=headroom))  # fmt: skip
    sockets = intent.concurrent_connections * sockets_per_connection(intent)
    found += memory_checks(sockets, facts, intent)
    return found


def _more_tuples(outbound: int, tuples: int, usable: int) -> str:
    """How many more tuples keep each below the warning share, or the range to widen."""
    if usable <= 0:
        return "widen ip_local_port_range"
    more = max(math.ceil(outbound / (usable * connections.WARNING / 100)) - tuples, 1)
    kind = "destination or source IP" if more == 1 else "destinations or source IPs"
    return f"{more} more {kind}, or widen ip_local_port_range"


def _reuse_fix(policy: Reuse) -> str:
    wanted = policy.fix()
    return "set " + ", ".join(f"{key.rsplit('.', 1)[1]}={value}" for key, value in wanted.items())


def tcp_mem(facts: Facts, intent: Intent) -> tuple[list[int], str] | None:
    """tcp_mem in pages and where it comes from: the profile's, else what tcp_init derives from
    the intent's memory_gib (a sixteenth of the pages; min 3/4 of that, max twice min), else this
    host's."""
    value = facts.value("net.ipv4.tcp_mem")
    if value is not None and value.origin == "profile" and (numbers := value.ints()):
        return numbers, "profile"
    if intent.memory_gib:
        limit = max(int(intent.memory_gib * GIB / facts.page_size) // 16, 128)
        low = limit // 4 * 3
        return [low, limit, low * 2], f"derived from intent memory_gib {intent.memory_gib:g}"
    if value is not None and (numbers := value.ints()):
        return numbers, "this host" if value.origin == "live" else value.origin
    return None


def memory_checks(sockets: int, facts: Facts, intent: Intent) -> list[Check]:
    """Idle kernel memory against RAM; the pressure guarantee against tcp_mem; busy buffers as an
    estimate (see the module's docstring)."""
    found: list[Check] = []
    memory = facts.memory_bytes
    ram_origin = "intent" if intent.memory_gib else "this host"
    ram = f"RAM {memory / GIB:.1f} GiB ({ram_origin})" if memory else "RAM unknown"
    idle = sockets * SOCKET_KERNEL_BYTES
    found.append(
        Check(
            "idle sockets vs RAM",
            idle,
            memory,
            f"{sockets:,} sockets x {SOCKET_KERNEL_BYTES:,} bytes of kernel slab = "
            f"{idle / GIB:.1f} GiB; {ram}" + ("" if memory else " (declare intent.memory_gib)"),
            "more memory, or fewer connections per machine",
            headroom=False,
        )
    )
    rmem, wmem = facts.ints("net.ipv4.tcp_rmem"), facts.ints("net.ipv4.tcp_wmem")
    limits = tcp_mem(facts, intent)
    if not (rmem and wmem and len(rmem) == 3 and len(wmem) == 3) or limits is None:
        return found
    pages, origin = limits
    top = pages[2] * facts.page_size
    top_text = (
        f"tcp_mem max {pages[2]:,} pages x {facts.page_size} = {top / GIB:.1f} GiB ({origin})"
    )
    floor = sockets * (rmem[0] + wmem[0])
    found.append(
        Check(
            "pressure guarantee vs tcp_mem",
            floor,
            top,
            f"{sockets:,} sockets x ({rmem[0]} + {wmem[0]}) bytes granted under pressure = "
            f"{floor / GIB:.1f} GiB; {top_text}",
            f"raise tcp_mem max to at least {math.ceil(floor / facts.page_size):,} pages, "
            "or lower the tcp_rmem/tcp_wmem minimums",
            headroom=False,
        )
    )
    busy = sockets * (rmem[1] + wmem[1])
    share = top / busy if busy else 1.0
    found.append(
        Check(
            "busy buffers vs tcp_mem (estimate)",
            busy,
            top,
            f"{sockets:,} sockets x ({rmem[1]} + {wmem[1]}) default bytes = {busy / GIB:.1f} GiB "
            f"if all were busy at once; {top_text}: room for {min(share, 1.0):.0%} of them",
            estimate=True,
        )
    )
    return found


@dataclass(frozen=True)
class Ceiling:
    """What the port range allows, whatever the intent (``held``: the intent's connections per
    tuple, which the sustainable rate leaves out)."""

    ports: PortSpace
    tuples: int
    reuse: Reuse
    held: int = 0
    range_origin: str = "the kernel default"  # where ip_local_port_range comes from

    @property
    def max_outbound(self) -> int:
        return self.ports.usable * self.tuples

    @property
    def rate_without_reuse(self) -> int:
        return connections.sustainable_rate(self.ports.usable, self.held)

    @property
    def rate(self) -> int:
        """New connections/s per tuple to a remote destination with the reuse in force."""
        after = self.reuse.delay if self.reuse.applies() else None
        return connections.sustainable_rate(self.ports.usable, self.held, after)

    def lines(self) -> list[str]:
        held = f", {self.held:,} of them held by the intent's connections" if self.held else ""
        lines = [
            f"usable ephemeral ports per (src IP, dst IP, dst port): {self.ports.arithmetic} "
            f"(ip_local_port_range: {self.range_origin})",
            f"concurrent outbound: {self.ports.usable:,} per tuple x "
            f"{plural(self.tuples, 'tuple')} = {self.max_outbound:,}{held}",
            "new connections/s per tuple when this side closes first, without reuse: "
            + connections.rate_arithmetic(self.ports.usable, self.held),
            self.reuse.describe(),
        ]
        if self.reuse.applies():
            lines.append("with reuse, to any destination: " + connections.rate_arithmetic(
                self.ports.usable, self.held, self.reuse.delay))  # fmt: skip
        elif self.reuse.applies("127.0.0.1", "127.0.0.1"):
            lines.append("with reuse, to a loopback address: " + connections.rate_arithmetic(
                self.ports.usable, self.held, self.reuse.delay))  # fmt: skip
        return lines

    def to_json(self) -> dict[str, object]:
        return {
            "port_range": [self.ports.low, self.ports.high],
            "reserved_in_range": self.ports.reserved,
            "odd_size": self.ports.parity,
            "usable_ports_per_tuple": self.ports.usable,
            "tuples": self.tuples,
            "held_per_tuple": self.held,
            "max_concurrent_outbound": self.max_outbound,
            "new_per_second_per_tuple_without_reuse": self.rate_without_reuse,
            "reuse": self.reuse.applies(),
            "reuse_loopback_only": self.reuse.applies("127.0.0.1") and not self.reuse.applies(),
            "reuse_delay_seconds": self.reuse.delay,
            "new_per_second_per_tuple": self.rate,
        }


def ceiling(profile: Profile, facts: Facts) -> Ceiling:
    intent = profile.intent
    tuples = intent.tuples if intent else 1
    held = 0
    if intent and intent.role in ("proxy", "client"):
        held = math.ceil(intent.concurrent_connections / tuples)
    found = facts.value(PORT_RANGE)
    origin = {"profile": "the profile", "live": "this host"}.get(
        found.origin if found else "", "the kernel default"
    )
    return Ceiling(ports(facts), tuples, reuse(facts), held, origin)
