"""The capacity model: how many connections a profile really allows, with the arithmetic shown.

Facts it rests on (docs/kernel-facts.md): one (src IP, dst IP, dst port) tuple holds at most one
connection per usable ephemeral port; TIME_WAIT is a fixed 60 s, so without reuse a tuple sustains
usable/60 new connections per second (the local side closing first); tcp_tw_reuse=1 with
timestamps lets a port be reused after 1 s; a proxied connection costs about 2 descriptors.

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

from tuner import catalog
from tuner.facts import Facts
from tuner.keys import PORT_RANGE
from tuner.limits import UNLIMITED
from tuner.order import boot_current
from tuner.report import plural
from tuner.resolve import Intent, Profile

SOCKET_KERNEL_BYTES = 3700  # slab of one idle TCP socket: ~3.6 KiB measured on Linux 6.18
TIME_WAIT_SECONDS = 60
REUSE_DELAY_SECONDS = 1
FD_OVERHEAD = 1024  # listeners, logs, health checks, libraries
GIB = 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    needed: float
    available: float | None  # None: unknown (not declared and not readable)
    arithmetic: str
    fix: str | None = None
    estimate: bool = False  # shown for judgement, never a gap

    @property
    def ok(self) -> bool:
        return self.estimate or self.available is None or self.needed <= self.available

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.name,
            "needed": self.needed,
            "available": self.available,
            "ok": self.ok,
            "estimate": self.estimate,
            "arithmetic": self.arithmetic,
            "fix": None if self.ok else self.fix,
        }


@dataclass(frozen=True)
class Ports:
    low: int
    high: int
    reserved: int  # reserved ports inside the range

    @property
    def usable(self) -> int:
        return self.high - self.low + 1 - self.reserved

    @property
    def arithmetic(self) -> str:
        reserved = f" - {self.reserved} reserved" if self.reserved else ""
        return f"{self.high} - {self.low} + 1{reserved} = {self.usable:,} usable ports"


def ports(facts: Facts) -> Ports:
    low, high = facts.ints(PORT_RANGE) or [
        int(p) for p in (boot_current(PORT_RANGE) or "0 0").split()
    ]
    reserved_text = facts.value("net.ipv4.ip_local_reserved_ports")
    reserved = catalog.ports_in(reserved_text.text) if reserved_text else set()
    return Ports(low, high, len({p for p in reserved if low <= p <= high}))


def reuse_effective(facts: Facts) -> bool:
    """Whether outgoing connections to any destination reuse TIME_WAIT ports (tcp_tw_reuse=1)."""
    return reuse_mode(facts) == "all"


def reuse_mode(facts: Facts) -> str | None:
    """catalog.tw_reuse_mode for the profile's values over the live ones."""
    return catalog.tw_reuse_mode(
        facts.first_int("net.ipv4.tcp_tw_reuse"), facts.first_int("net.ipv4.tcp_timestamps")
    )


def reuse_delay(facts: Facts) -> float:
    """Seconds before tcp_tw_reuse may take a TIME_WAIT port: tcp_tw_reuse_delay (ms) since
    Linux 6.13, a fixed second before."""
    delay_ms = facts.first_int("net.ipv4.tcp_tw_reuse_delay")
    return delay_ms / 1000 if delay_ms else REUSE_DELAY_SECONDS


def descriptors_needed(intent: Intent) -> int:
    """Descriptors of the whole workload: about 2 per proxied connection, 1 otherwise."""
    per_connection = 2 if intent.role == "proxy" else 1
    return per_connection * intent.concurrent_connections + FD_OVERHEAD


def descriptors_per_process(intent: Intent) -> int:
    """What each of ``intent.processes`` processes needs: its share of the connections' descriptors
    plus its own overhead (descriptor limits are per process)."""
    per_connection = 2 if intent.role == "proxy" else 1
    share = math.ceil(intent.concurrent_connections / intent.processes)
    return per_connection * share + FD_OVERHEAD


def nofile_limits(profile: Profile) -> list[tuple[float, str]]:
    """The descriptor limits a process of the workload may run under: each unit's LimitNOFILE
    (services ignore limits.conf), and from pam_limits the line for ``intent.user`` (a user's line
    beats ``*``), or, with no user declared, every hard nofile line of the profile."""
    found: list[tuple[float, str]] = []
    for limit in profile.services:
        if limit.directive == "LimitNOFILE":
            hard = limit.numbers.hard
            found.append((math.inf if hard is None else float(hard),
                          f"{limit.unit} LimitNOFILE={limit.value}"))  # fmt: skip
    lines = [e for e in profile.limits if e.item == "nofile" and e.kind == "hard"]
    user = profile.intent.user if profile.intent else None
    if user is not None:
        own = [e for e in lines if e.domain == user]
        lines = own or [e for e in lines if e.domain == "*"]
    for entry in lines:
        number = math.inf if entry.value == UNLIMITED else float(entry.value)
        found.append((number, f"{entry.domain} hard nofile {entry.value}"))
    return found


def checks(profile: Profile, facts: Facts) -> list[Check]:
    intent = profile.intent
    if intent is None:
        return []
    found: list[Check] = []
    span = ports(facts)
    outbound = intent.concurrent_connections if intent.role in ("proxy", "client") else 0
    tuples = intent.tuples
    if outbound:
        per_tuple = math.ceil(outbound / tuples)
        more = math.ceil(outbound / span.usable) - tuples if span.usable > 0 else 0
        found.append(
            Check(
                "outbound connections per tuple",
                per_tuple,
                span.usable,
                f"{outbound:,} outbound / {plural(tuples, 'tuple')} = {per_tuple:,} per tuple; "
                f"{span.arithmetic}",
                f"{more} more {'destination or source IP' if more == 1 else 'destinations'}"
                f"{'' if more == 1 else ' or source IPs'}, or widen ip_local_port_range",
            )
        )
    rate = intent.new_connections_per_second
    if outbound and rate:
        per_tuple_rate = math.ceil(rate / tuples)
        more_tuples = "add destinations or source IPs, or widen ip_local_port_range"
        if reuse_effective(facts):
            delay = reuse_delay(facts)
            limit = int(span.usable / delay)
            how = f"tcp_tw_reuse=1: a port is reusable after {delay:g} s"
            fix = more_tuples
        else:
            limit = span.usable // TIME_WAIT_SECONDS
            how = f"no reuse: {span.usable:,} ports / {TIME_WAIT_SECONDS} s TIME_WAIT"
            fix = f"set tcp_tw_reuse=1 (with tcp_timestamps), or {more_tuples}"
        found.append(
            Check(
                "new connections per second per tuple",
                per_tuple_rate,
                limit,
                f"{rate:,}/s / {plural(tuples, 'tuple')} = {per_tuple_rate:,}/s; "
                f"{how} = {limit:,}/s",
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
    for number, label in nofile_limits(profile):
        found.append(Check("descriptors vs nofile", each, number, f"{each_text}; {label}",
                           f"raise it to at least {each:,}"))  # fmt: skip
    for key, need, text in (("fs.nr_open", each, each_text), ("fs.file-max", fds, fd_text)):
        value = facts.value(key)
        setting = facts.first_int(key)
        shown = f"{setting:,} ({value.origin})" if value and setting is not None else "unknown"
        found.append(Check(f"descriptors vs {key}", need, setting, f"{text}; {key} = {shown}",
                           f"raise {key} to at least {need:,}"))  # fmt: skip
    sockets = intent.concurrent_connections * (2 if intent.role == "proxy" else 1)
    found += memory_checks(sockets, facts, intent)
    return found


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
    """What the port range allows, whatever the intent."""

    ports: Ports
    tuples: int
    reuse: bool
    delay: float = REUSE_DELAY_SECONDS
    loopback_reuse: bool = False  # tcp_tw_reuse=2: reuse for loopback destinations only
    range_origin: str = "the kernel default"  # where ip_local_port_range comes from

    @property
    def max_outbound(self) -> int:
        return self.ports.usable * self.tuples

    @property
    def rate_without_reuse(self) -> int:
        return self.ports.usable // TIME_WAIT_SECONDS

    @property
    def rate(self) -> int:
        return int(self.ports.usable / self.delay) if self.reuse else self.rate_without_reuse

    def lines(self) -> list[str]:
        if self.reuse:
            reuse = (
                f"tcp_tw_reuse=1 with timestamps: a port is reusable after {self.delay:g} s, "
                f"up to {self.rate:,}/s per tuple"
            )
        elif self.loopback_reuse:
            reuse = (
                "tcp_tw_reuse=2 (the default): connections to a loopback address reuse a port "
                f"after {self.delay:g} s; to any other destination, no reuse"
            )
        else:
            reuse = "tcp_tw_reuse is 0 (or timestamps are off): no reuse for outgoing connections"
        return [
            f"usable ephemeral ports per (src IP, dst IP, dst port): {self.ports.arithmetic} "
            f"(ip_local_port_range: {self.range_origin})",
            f"concurrent outbound: {self.ports.usable:,} per tuple x "
            f"{plural(self.tuples, 'tuple')} = "
            f"{self.max_outbound:,}",
            "new connections/s per tuple when this side closes first, without reuse: "
            f"{self.ports.usable:,} / {TIME_WAIT_SECONDS} s TIME_WAIT "
            f"= {self.rate_without_reuse:,}/s",
            reuse,
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "port_range": [self.ports.low, self.ports.high],
            "reserved_in_range": self.ports.reserved,
            "usable_ports_per_tuple": self.ports.usable,
            "tuples": self.tuples,
            "max_concurrent_outbound": self.max_outbound,
            "new_per_second_per_tuple_without_reuse": self.rate_without_reuse,
            "reuse": self.reuse,
            "reuse_loopback_only": self.loopback_reuse,
            "new_per_second_per_tuple": self.rate,
        }


def ceiling(profile: Profile, facts: Facts) -> Ceiling:
    tuples = profile.intent.tuples if profile.intent else 1
    mode = reuse_mode(facts)
    found = facts.value(PORT_RANGE)
    origin = {"profile": "the profile", "live": "this host"}.get(
        found.origin if found else "", "the kernel default"
    )
    return Ceiling(
        ports(facts), tuples, mode == "all", reuse_delay(facts), mode == "loopback", origin
    )
