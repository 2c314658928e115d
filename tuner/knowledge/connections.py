"""The connection model: which local port a new outgoing connection can get, how long a port stays
held, how many connections a second a tuple sustains, and how full is too full.

Pure and small: capacity (what a profile allows), the rules (what a profile gets wrong) and doctor
(what limits a live host now) all ask it, so they agree on every number. The facts, each shown on
the real kernel by tests/test_scenes.py (docs/kernel-facts.md, "Ephemeral ports"):

- connect() without bind() needs a local port that no other socket uses *for the same (src IP,
  dst IP, dst port)*: each such tuple has the whole range to itself.
- connect() never picks a port bound with bind(): a listener's, a bound-but-unconnected socket's,
  or one a client bound before connecting (Go's Dialer.LocalAddr, ``vegeta -laddr``, HAProxy's
  ``source`` without IP_BIND_ADDRESS_NO_PORT), nor one of ip_local_reserved_ports.
- bind() to port 0 before connect() needs a port no socket of that source address uses at all:
  its ports are shared by every tuple at once.
- A range of odd size gives one port fewer (the scan's window is the size rounded down to even;
  the range's low end is reached only by chance).
- TIME_WAIT holds a port for a fixed 60 s on the side that closed first. tcp_tw_reuse lets a
  connect() (never an accept) take such a port: 1 for any destination, 2 (the default) when the
  source or destination is a loopback address; only with TCP timestamps (tcp_timestamps 1 or 2,
  on both ends) and only once the TIME_WAIT socket is older than tcp_tw_reuse_delay (6.13+,
  1..60000 ms; 1 s before). A FIN_WAIT_2 timewait socket is never reused.
- The sustainable rate of new connections on one tuple, when this side closes first, is the
  ports *not* held by live connections over the time a closed one keeps its port.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tuner.base.keys import PORT_RANGE, PORT_START, integers

WARNING = 70.0  # percent of a limit in use: a warning, and capacity's "not met"
CRITICAL = 90.0
TIME_WAIT_SECONDS = 60  # TCP_TIMEWAIT_LEN, include/net/tcp.h
REUSE_DELAY_MS = 1000  # before tcp_tw_reuse_delay (Linux 6.13), a fixed second
REUSE_DELAY_MAX_MS = TIME_WAIT_SECONDS * 1000  # the sysctl's maximum: never before TIME_WAIT ends


def percent(part: float, whole: float | None) -> float:
    """``part`` of ``whole`` in percent, one decimal; a whole of 0 or unknown is 0%."""
    return round(100.0 * part / whole, 1) if whole else 0.0


def severity(share: float) -> str | None:
    """ "critical" at 90% of a limit, "warning" at 70%, else None: the one scale doctor warns on
    and capacity judges a declared workload by."""
    return "critical" if share >= CRITICAL else "warning" if share >= WARNING else None


def fits(needed: float, available: float) -> bool:
    """Whether ``needed`` stays below the warning share of ``available``."""
    return needed < available * WARNING / 100


def ports_in(value: str) -> set[int]:
    """The ports a portlist value names (ip_local_reserved_ports syntax: "8080,9000-9010")."""
    found: set[int] = set()
    for part in filter(None, value.replace(" ", "").split(",")):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, or an IPv4-mapped 127.x address (what tcp_tw_reuse=2 calls loopback)."""
    address = address.removeprefix("::ffff:")
    return address.startswith("127.") or address == "::1"


# --- the port space -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PortRange:
    """net.ipv4.ip_local_port_range, parsed once wherever it is read (a profile, the live value,
    a fix): the ports connect() and bind() choose a source port from."""

    low: int
    high: int

    @classmethod
    def parse(cls, text: str | None) -> PortRange | None:
        """Two integers, else None (the rules and the catalog report the shape)."""
        found = integers(text)
        return cls(found[0], found[1]) if found and len(found) == 2 else None

    @classmethod
    def of(cls, values: Mapping[str, str]) -> PortRange:
        """The range sysctl values set, else the kernel's default."""
        return cls.parse(values.get(PORT_RANGE)) or DEFAULT_RANGE

    @classmethod
    def widest(cls, values: Mapping[str, str]) -> PortRange:
        """The widest range the kernel accepts here: from ip_unprivileged_port_start (the kernel
        refuses a low end below it, EINVAL), at least 1024, to 65535; the low end even, so that
        the size is even."""
        start = numbers(values, PORT_START)
        low = max(WIDEST_RANGE.low, start[0] if start else 0)
        return cls(low + low % 2, WIDEST_RANGE.high)

    @property
    def size(self) -> int:
        return max(self.high - self.low + 1, 0)

    @property
    def same_parity(self) -> bool:
        """Low and high of the same parity (an odd size): the kernel warns, and one port of the
        parity connect() prefers is never offered."""
        return self.low % 2 == self.high % 2

    def refusal(self, values: Mapping[str, str]) -> str | None:
        """Why the kernel would refuse this range (EINVAL), or None."""
        low, high = self.low, self.high
        if not 1 <= low <= high <= 65535:
            return f"{low} {high}: the kernel needs 1 <= low <= high <= 65535"
        start = numbers(values, PORT_START)
        if start and low < start[0]:
            return f"low end {low} is below ip_unprivileged_port_start {start[0]}"
        return None

    def usable(
        self, reserved: Iterable[int] = (), listening: Iterable[int] = (), bound: Iterable[int] = ()
    ) -> PortSpace:
        """The one port budget: the range less reserved, listening and otherwise bound ports
        inside it (each port counted once), less one for an odd size."""
        low, high = self.low, self.high

        def inside(ports: Iterable[int]) -> set[int]:
            return {p for p in ports if low <= p <= high}

        held_reserved = inside(reserved)
        held_listening = inside(listening) - held_reserved
        held_bound = inside(bound) - held_reserved - held_listening
        size = self.size
        taken = held_reserved | held_listening | held_bound
        parity = 1 if size > 1 and size % 2 and low not in taken else 0
        return PortSpace(
            low, high, len(held_reserved), len(held_listening), len(held_bound), parity
        )

    def __str__(self) -> str:
        return f"{self.low} {self.high}"


WIDEST_RANGE = PortRange(1024, 65535)
DEFAULT_RANGE = PortRange(32768, 60999)


@dataclass(frozen=True)
class PortSpace:
    """The ports of ip_local_port_range a connect() may pick, and what takes the others."""

    low: int
    high: int
    reserved: int = 0  # ip_local_reserved_ports inside the range
    listening: int = 0  # listeners' ports inside the range (not reserved)
    bound: int = 0  # other bind()-held ports inside the range (bound, not listening)
    parity: int = 0  # 1 when the range's size is odd and its low end is free

    @property
    def size(self) -> int:
        return max(self.high - self.low + 1, 0)

    @property
    def usable(self) -> int:
        return max(self.size - self.reserved - self.listening - self.bound - self.parity, 0)

    @property
    def arithmetic(self) -> str:
        parts = [f"{self.high} - {self.low} + 1"]
        taken = ((self.reserved, "reserved"), (self.listening, "listening"),
                 (self.bound, "bound by bind()"), (self.parity, "odd size"))  # fmt: skip
        for count, what in taken:
            if count:
                parts.append(f"{count:,} {what}")
        return f"{' - '.join(parts)} = {self.usable:,} usable ports"

    def to_json(self) -> dict[str, object]:
        return {"low": self.low, "high": self.high, "reserved": self.reserved,
                "listening": self.listening, "bound": self.bound, "odd_size": self.parity,
                "usable": self.usable}  # fmt: skip


def space_of(
    values: Mapping[str, str], listening: Iterable[int] = (), bound: Iterable[int] = ()
) -> PortSpace:
    """The port space sysctl values (and, live, the listeners and bound sockets) leave."""
    reserved = ports_in(values.get("net.ipv4.ip_local_reserved_ports", "") or "")
    return PortRange.of(values).usable(reserved, listening, bound)


# --- TIME_WAIT and reuse ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reuse:
    """tcp_tw_reuse as the kernel applies it (tcp_twsk_unique, net/ipv4/tcp_ipv4.c)."""

    mode: int = 2  # tcp_tw_reuse: 0 never, 1 any destination, 2 loopback only
    timestamps: int = 1  # tcp_timestamps: 0 off; reuse needs them on both ends
    delay_ms: int | None = None  # tcp_tw_reuse_delay; None: a kernel before 6.13

    @property
    def delay(self) -> float:
        """Seconds before a TIME_WAIT port may be taken again by reuse."""
        return (REUSE_DELAY_MS if self.delay_ms is None else self.delay_ms) / 1000

    def blocker(self, src: str = "", dst: str = "") -> str | None:
        """Why connects from ``src`` to ``dst`` cannot take TIME_WAIT ports (None: they can);
        with no addresses, for any destination."""
        if self.mode == 0:
            return "tcp_tw_reuse is 0"
        if self.mode == 2 and not (is_loopback(src) or is_loopback(dst)):
            where = f"{dst} is not" if dst else "destinations other than loopback are not"
            return f"tcp_tw_reuse is 2 (loopback only) and {where} a loopback address"
        if self.timestamps == 0:
            return f"tcp_tw_reuse={self.mode} needs TCP timestamps, and tcp_timestamps is 0"
        if self.delay_ms is not None and self.delay_ms >= REUSE_DELAY_MAX_MS:
            return (f"tcp_tw_reuse_delay is {self.delay_ms} ms: TIME_WAIT ends "
                    f"({TIME_WAIT_SECONDS} s) before reuse may take a port")  # fmt: skip
        return None

    def applies(self, src: str = "", dst: str = "") -> bool:
        return self.blocker(src, dst) is None

    def fix(self, dst: str = "") -> dict[str, str]:
        """The settings that would let connects to ``dst`` take TIME_WAIT ports after the
        default delay (or a shorter one than now)."""
        wanted: dict[str, str] = {}
        if self.mode == 0 or (self.mode == 2 and not is_loopback(dst)):
            wanted["net.ipv4.tcp_tw_reuse"] = "1"
        if self.timestamps == 0:
            wanted["net.ipv4.tcp_timestamps"] = "1"
        if self.delay_ms is not None and self.delay_ms > REUSE_DELAY_MS:
            wanted["net.ipv4.tcp_tw_reuse_delay"] = str(REUSE_DELAY_MS)
        return wanted

    def describe(self) -> str:
        if self.mode == 0:
            return "tcp_tw_reuse=0: connects never reuse TIME_WAIT ports"
        scope = {1: "for any destination", 2: "for loopback addresses only"}
        delay = (f"tcp_tw_reuse_delay {self.delay_ms} ms" if self.delay_ms is not None
                 else "1 s (no tcp_tw_reuse_delay before 6.13)")  # fmt: skip
        text = f"tcp_tw_reuse={self.mode}: connects reuse TIME_WAIT ports {scope.get(self.mode)}"
        if self.timestamps == 0:
            return text + ", but tcp_timestamps=0 stops it: no port is ever reused"
        return f"{text}, after {delay}"


def reuse_of(values: Mapping[str, str | None]) -> Reuse:
    """tcp_tw_reuse, tcp_timestamps and tcp_tw_reuse_delay from sysctl values (the kernel's
    defaults where a value is absent)."""

    mode, stamps = (
        number(values, "net.ipv4.tcp_tw_reuse"),
        number(values, "net.ipv4.tcp_timestamps"),
    )
    return Reuse(
        2 if mode is None else mode,
        1 if stamps is None else stamps,
        number(values, "net.ipv4.tcp_tw_reuse_delay"),
    )


# --- one tuple ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TupleBudget:
    """The ports of one (src IP, dst IP, dst port) against the port space."""

    usable: int
    in_use: int  # local ports its sockets hold, TIME_WAIT included
    time_wait: int  # of those, in TIME_WAIT
    reusable: int  # of those, ones a connect may take now (reuse applies, older than the delay)

    @property
    def held(self) -> int:
        """Ports a new connect cannot take."""
        return self.in_use - self.reusable

    @property
    def free(self) -> int:
        return max(self.usable - self.held, 0)

    @property
    def share(self) -> float:
        return min(percent(self.held, self.usable), 100.0) if self.usable else 100.0

    @property
    def exhausted(self) -> bool:
        return self.free == 0

    @property
    def arithmetic(self) -> str:
        relief = f" - {self.reusable:,} TIME_WAIT reusable" if self.reusable else ""
        return (f"{self.in_use:,} ports in use{relief} = {self.held:,} held of "
                f"{self.usable:,} usable ({self.share:g}%)")  # fmt: skip


def tuple_budget(
    space: PortSpace,
    in_use: int,
    time_wait: int,
    reuse: Reuse,
    src: str,
    dst: str,
    reusable_now: int | None = None,
) -> TupleBudget:
    """A tuple's budget; ``reusable_now``: of its TIME_WAIT sockets, those older than the reuse
    delay (None: all of them)."""  # fmt: skip
    reusable = 0
    if time_wait and reuse.applies(src, dst):
        reusable = time_wait if reusable_now is None else min(reusable_now, time_wait)
    return TupleBudget(space.usable, in_use, time_wait, reusable)


def sustainable_rate(usable: int, held: int, reuse_after: float | None = None) -> int:
    """New connections per second one tuple sustains when this side closes first: the ports
    live connections leave free, each taken again after TIME_WAIT (or, when reuse applies,
    ``reuse_after`` seconds)."""
    life = TIME_WAIT_SECONDS if reuse_after is None else min(reuse_after, TIME_WAIT_SECONDS)
    return math.floor(max(usable - held, 0) / life)


def rate_arithmetic(usable: int, held: int, reuse_after: float | None = None) -> str:
    life = TIME_WAIT_SECONDS if reuse_after is None else min(reuse_after, TIME_WAIT_SECONDS)
    why = (
        f"{TIME_WAIT_SECONDS} s TIME_WAIT, no reuse"
        if reuse_after is None
        else (f"reuse after {life:g} s")
    )
    held_text = f" - {held:,} held by live connections" if held else ""
    rate = sustainable_rate(usable, held, reuse_after)
    return f"({usable:,} usable{held_text}) / {life:g} s ({why}) = {rate:,}/s"


# --- bind() before connect() ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceBudget:
    """The ports of one source address across every tuple: what bind() to port 0 has left."""

    src: str
    usable: int
    distinct: int  # local ports its outbound sockets hold, whatever the destination

    @property
    def share(self) -> float:
        return min(percent(self.distinct, self.usable), 100.0) if self.usable else 100.0

    @property
    def free(self) -> int:
        return max(self.usable - self.distinct, 0)


def numbers(values: Mapping[str, str] | Mapping[str, str | None], key: str) -> list[int] | None:
    """A sysctl value's whitespace-separated integers (None: absent, empty or not numbers)."""
    return integers(values.get(key))


def number(values: Mapping[str, str] | Mapping[str, str | None], key: str) -> int | None:
    """A sysctl value's first integer."""
    found = numbers(values, key)
    return found[0] if found else None
