"""The kernel's socket table, asked through netlink sock_diag (what ss uses).

/proc/net/tcp is text the kernel formats line by line: on a proxy holding 2M connections that is
millions of lines. SOCK_DIAG_BY_FAMILY returns fixed binary records (include/uapi/linux/
inet_diag.h), filtered by state in the kernel. The census streams them: a counter per state and
per outbound tuple, never a Python object per socket, so memory does not grow with the sockets.

A socket is *outbound* when its local port is not a listening port: the kernel never picks a
port that a listener holds for connect() (``__inet_hash_connect`` skips bound buckets), so a
socket on a listener's port is the accepted side of an inbound connection. Outbound sockets are
grouped by (src IP, dst IP, dst port), the tuple a connect() must find a free local port for.
An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address: both share one port space.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
TCP_TIME_WAIT = 6
TCP_BOUND_INACTIVE = 13  # a bound, unconnected socket (Linux 6.7+ dumps it only when asked)
ALL_STATES = 0xFFF  # 1 << TCP_ESTABLISHED (1) .. 1 << TCP_NEW_SYN_RECV (12), less 1 << 0

# The state names ss uses in its filters (``ss -tan state time-wait``), by the kernel's number.
STATE_NAMES = {
    1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait-1", 5: "fin-wait-2",
    6: "time-wait", 7: "closed", 8: "close-wait", 9: "last-ack", 10: "listening",
    11: "closing", 12: "syn-recv",
}  # fmt: skip

INET_DIAG_REQ_BYTECODE = 1
INET_DIAG_BC_JMP = 1
INET_DIAG_BC_S_GE = 2
INET_DIAG_BC_S_LE = 3
INET_DIAG_BC_D_GE = 4
INET_DIAG_BC_D_LE = 5
_OP = struct.Struct("=BBH")  # inet_diag_bc_op: code, yes, no
_ATTRIBUTE = struct.Struct("=HH")  # nlattr: len, type
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_REQUEST = struct.Struct("=BBBBI48x")  # inet_diag_req_v2: family, protocol, ext, pad, states, id
# One record, read in one call: the nlmsghdr's length and type, then from the inet_diag_msg its
# state, local port and (dst port, src address, dst address) as one 34-byte key, and the
# milliseconds left on its timer (a TIME_WAIT socket's remaining life). Ports are big-endian on
# the wire; the local port is compared in this host's order (see _wire_port).
_RECORD = struct.Struct("=IH10xxBxxH34s12xI")
# A listener: family, state, ports, addresses, then rqueue (accept queue) and wqueue (backlog).
_LISTENER = struct.Struct("=BBxx2s2s16s16s4x8x4xII8x")
_RECV_SIZE = 1 << 16
# A thread back from recv() waits for the other to give up the GIL, by default up to 5 ms, while
# its half of the dump stands still in the kernel: hand over much sooner during the census.
SWITCH_INTERVAL = 0.0002
_SLACK = 128  # a record is read whole even when the buffer ends in the 20-byte DONE message

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    queue: int | None  # connections waiting in the accept queue now
    backlog: int | None  # the accept queue's size: min(listen()'s backlog, somaxconn)


@dataclass(frozen=True)
class TupleUse:
    """The outbound sockets of one (src IP, dst IP, dst port)."""

    src: str
    dst: str
    dport: int
    in_use: int  # local ports held, whatever the state (TIME_WAIT included)
    time_wait: int
    aged: int | None = None  # TIME_WAIT sockets older than the reuse delay (None: not measured)


@dataclass(frozen=True)
class SourceUse:
    """The outbound sockets of one source address, whatever their destination."""

    src: str
    ports: int  # distinct local ports they hold: what bind() to port 0 cannot have
    sockets: int


@dataclass(frozen=True)
class Census:
    states: dict[str, int]  # ss state name -> sockets, IPv4 and IPv6
    families: dict[str, int]  # "ipv4"/"ipv6" -> sockets
    listeners: tuple[Listener, ...]
    tuples: tuple[TupleUse, ...]  # outbound, in no particular order
    inbound: int  # accepted sockets (on a listener's port)
    sources: tuple[SourceUse, ...] = ()
    bound: tuple[int, ...] | None = None  # ports of bound, unconnected sockets (None: not
    # listed; never in ``states``: ss shows them only when asked for state bound-inactive)

    @property
    def total(self) -> int:
        return sum(self.families.values())

    @property
    def listening_ports(self) -> set[int]:
        return {listener.port for listener in self.listeners}


def listening_tcp_ports() -> set[int]:
    """Ports of listening TCP sockets (IPv4 and IPv6) in this process's network namespace."""
    return {listener.port for listener in _listeners()[0]}


def bound_ports() -> tuple[int, ...]:
    """Ports of bound, unconnected TCP sockets (Linux 6.7+; none before). The kernel walks every
    bind bucket for them, connected sockets included: about 1 us a socket."""
    return tuple(sorted(_listeners(TCP_BOUND_INACTIVE)[1]))


def census(
    progress: Progress | None = None, split: int | None = None, reuse_after_ms: int = 1000
) -> Census:
    """Every TCP socket of this process's network namespace, IPv4 and IPv6, counted.

    Listeners are asked for first (a short dump), so that the main dumps can tell the accepted
    side of a connection from the connecting side as each record streams past. The main dump
    runs as two halves in parallel around the port ``split`` (``_half_filter``: the kernel
    filters each with sock_diag bytecode; the dump is mostly kernel time, spent outside the GIL).
    Like ss, it is not an atomic snapshot: a socket that changes state meanwhile is counted as
    the kernel showed it. A TIME_WAIT socket with at most 60 s - ``reuse_after_ms`` left is
    counted as aged (old enough for tcp_tw_reuse)."""
    listeners, _bound = _listeners()
    wire_ports = frozenset(_wire_port(listener.port) for listener in listeners)
    middle = split if split is not None and 0 < split < 65536 else 32768
    keep = 60_000 - reuse_after_ms
    halves = [_Tally(wire_ports, (middle, False), keep), _Tally(wire_ports, (middle, True), keep)]
    seen = _Seen(progress)
    from concurrent.futures import ThreadPoolExecutor  # only doctor counts; plan never does

    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        with ThreadPoolExecutor(len(halves)) as pool:
            for done in [pool.submit(half.count, seen) for half in halves]:
                done.result()
    finally:
        sys.setswitchinterval(interval)
    counts = [sum(c) for c in zip(*(half.counts for half in halves), strict=True)]
    families = {"ipv4": 0, "ipv6": 0}
    tuples: dict[tuple[int, bytes], list[int]] = {}
    sources: dict[tuple[int, bytes], int] = {}
    for half in halves:
        for kind, count in half.families.items():
            families[kind] += count
        for family, counted in half.tuples.items():
            for key, numbers in counted.items():
                found = tuples.setdefault((family, key), [0, 0, 0])
                for index in range(3):
                    found[index] += numbers[index]
        for family, maps in half.sources.items():
            for src, used in maps.items():  # a map of 0 and 1 bytes: OR them as numbers
                sources[family, src] = sources.get((family, src), 0) | int.from_bytes(used)
    for listener in listeners:
        counts[TCP_LISTEN] += 1
        families["ipv6" if ":" in listener.address else "ipv4"] += 1
    states: dict[str, int] = {}
    for number, count in enumerate(counts):
        if count:
            name = STATE_NAMES.get(number, f"state-{number}")
            states[name] = states.get(name, 0) + count
    inbound = sum(half.inbound for half in halves)
    families = {kind: count for kind, count in families.items() if count}
    uses = _merge(_tuple_uses(tuples))
    return Census(states, families, tuple(listeners), uses, inbound,
                  _source_uses(sources, uses))  # fmt: skip


class _Seen:
    """How many sockets the dumps have read so far, for a progress display."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.count = 0
        self.lock = threading.Lock()

    def add(self, count: int) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.count += count
            self.progress(self.count)


class _Tally:
    """One half of the dump (see _half_filter), both families, counted as it streams."""

    def __init__(self, wire_ports: frozenset[int], half: tuple[int, bool], keep: int) -> None:
        self.wire_ports = wire_ports
        self.half = half
        self.keep = keep
        self.counts = [0] * 16
        self.families: dict[str, int] = {}
        # family -> key -> [in use, TIME_WAIT, TIME_WAIT aged past the reuse delay]
        self.tuples: dict[int, dict[bytes, list[int]]] = {}
        self.sources: dict[int, dict[bytes, bytearray]] = {}  # family -> src -> port map
        self.inbound = 0

    def count(self, seen: _Seen) -> None:
        for family in (socket.AF_INET, socket.AF_INET6):
            before = sum(self.counts)
            tuples = self.tuples.setdefault(family, {})
            sources = self.sources.setdefault(family, {})
            for view, end in _messages(family, ALL_STATES & ~(1 << TCP_LISTEN), self.half):
                counted = sum(self.counts)
                done = self._batch(view, end, tuples, sources)
                seen.add(sum(self.counts) - counted)
                if done:
                    break
            self.families["ipv4" if family == socket.AF_INET else "ipv6"] = (
                sum(self.counts) - before
            )

    def _batch(
        self, view: memoryview, end: int, tuples: dict[bytes, list[int]],
        sources: dict[bytes, bytearray],
    ) -> bool:  # fmt: skip
        """Count one batch of records; True at the end of the dump. The hot loop of the census:
        one unpack per record, nothing allocated for an accepted socket."""
        counts, wire_ports, unpack = self.counts, self.wire_ports, _RECORD.unpack_from
        keep = self.keep
        inbound = offset = 0
        try:
            while offset < end:
                length, kind, state, sport, key, expires = unpack(view, offset)
                if kind != SOCK_DIAG_BY_FAMILY:
                    if kind == NLMSG_ERROR:
                        (code,) = struct.unpack_from("=i", view, offset + _HEADER.size)
                        raise OSError(-code, "sock_diag request failed")
                    return bool(kind == NLMSG_DONE)
                offset += (length + 3) & ~3
                counts[state] += 1
                if sport in wire_ports:
                    inbound += 1
                    continue
                found = tuples.get(key)
                if found is None:
                    tuples[key] = found = [0, 0, 0]
                    src = key[2:18]
                    if src not in sources:
                        sources[src] = bytearray(65536)
                    found.append(sources[src])  # type: ignore[arg-type]
                found[0] += 1
                found[3][sport] = 1  # type: ignore[index]
                if state == TCP_TIME_WAIT:
                    found[1] += 1
                    if expires <= keep:
                        found[2] += 1
            return False
        finally:
            self.inbound += inbound


def census_from_text(tables: Iterable[str]) -> Census:
    """The same census from /proc/net/tcp and tcp6 text (a fake /proc in tests, or where
    netlink is refused). The text has no listen backlog: ``backlog`` is None."""
    rows: list[tuple[int, str, int, str, int, int]] = []
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 5:
                continue
            local, remote = fields[1].rsplit(":", 1), fields[2].rsplit(":", 1)
            queue = int(fields[4].split(":")[1], 16)
            rows.append((int(fields[3], 16), _hex_address(local[0]), int(local[1], 16),
                         _hex_address(remote[0]), int(remote[1], 16), queue))  # fmt: skip
    listeners = [
        Listener(address, port, queue, None)
        for state, address, port, _dst, _dport, queue in rows
        if state == TCP_LISTEN
    ]
    listening = {listener.port for listener in listeners}
    states: dict[str, int] = {}
    families: dict[str, int] = {}
    counts: dict[tuple[str, str, int], list[int]] = {}
    inbound = 0
    for state, src, sport, dst, dport, _queue in rows:
        name = STATE_NAMES.get(state, f"state-{state}")
        states[name] = states.get(name, 0) + 1
        kind = "ipv6" if ":" in src else "ipv4"
        families[kind] = families.get(kind, 0) + 1
        if state == TCP_LISTEN:
            continue
        if sport in listening:
            inbound += 1
            continue
        found = counts.setdefault((_unmapped(src), _unmapped(dst), dport), [0, 0])
        found[0] += 1
        found[1] += state == TCP_TIME_WAIT
    uses = _merge(TupleUse(s, d, p, n, tw) for (s, d, p), (n, tw) in counts.items())
    ports: dict[str, set[int]] = {}
    for state, src, sport, _dst, _dport, _queue in rows:
        if state != TCP_LISTEN and sport not in listening:
            ports.setdefault(_unmapped(src), set()).add(sport)
    sockets = {src: sum(u.in_use for u in uses if u.src == src) for src in ports}
    sources = tuple(SourceUse(src, len(used), sockets[src]) for src, used in ports.items())
    return Census(states, families, tuple(listeners), uses, inbound, sources)


def _wire_port(port: int) -> int:
    """A port as this host reads a big-endian 16-bit field natively."""
    return int.from_bytes(port.to_bytes(2, "big"), sys.byteorder)


def _request(family: int, states: int, half: tuple[int, bool] | None = None) -> bytes:
    request = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, states)
    if half is not None:
        request += _half_filter(half[0], upper=half[1])
    header = _HEADER.pack(_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0)  # fmt: skip
    return header + request


def _half_filter(middle: int, *, upper: bool) -> bytes:
    """An INET_DIAG_REQ_BYTECODE attribute for one half of the sockets: local and remote port on
    the same side of ``middle`` (or, ``upper``, on different sides). Connections out have a
    spread local port and a service's remote port, connections in the reverse, so both halves
    get about half of each kind.

    Each op is (code, yes, no); a port comparison carries the port in a second op. ``yes`` steps
    on, ``no`` jumps; landing exactly at the end accepts, 4 bytes past it rejects; every target
    is on the chain of ``yes`` steps, as the kernel's audit requires (net/ipv4/inet_diag.c)."""
    below, above = middle - 1, middle
    first = (INET_DIAG_BC_S_LE, below, INET_DIAG_BC_D_GE if upper else INET_DIAG_BC_D_LE)
    second = (INET_DIAG_BC_S_GE, above, INET_DIAG_BC_D_LE if upper else INET_DIAG_BC_D_GE)

    def compare(code: int, port: int, no: int) -> bytes:
        return _OP.pack(code, 8, no) + _OP.pack(0, 0, port)

    def remote(code: int) -> int:
        return below if code == INET_DIAG_BC_D_LE else above

    program = (
        compare(first[0], first[1], 20)  # @0: no -> @20
        + compare(first[2], remote(first[2]), 12)  # @8: no -> @20
        + _OP.pack(INET_DIAG_BC_JMP, 4, 20)  # @16: both held: jump to the end, accept
        + compare(second[0], second[1], 20)  # @20: no -> reject
        + compare(second[2], remote(second[2]), 12)  # @28: yes -> the end; no -> reject
    )
    return _ATTRIBUTE.pack(_ATTRIBUTE.size + len(program), INET_DIAG_REQ_BYTECODE) + program


def _messages(
    family: int, states: int, half: tuple[int, bool] | None = None
) -> Iterable[tuple[memoryview, int]]:
    """(buffer, length) of each batch the kernel sends for one dump request."""
    buffer = bytearray(_RECV_SIZE + _SLACK)
    view = memoryview(buffer)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as netlink:
        netlink.sendall(_request(family, states, half))
        while True:
            size = netlink.recv_into(view, _RECV_SIZE)
            if size == 0:
                return
            yield view, size


def _listeners(state: int = TCP_LISTEN) -> tuple[list[Listener], set[int]]:
    """Listening sockets, or (``state`` TCP_BOUND_INACTIVE) the ports of bound, unconnected ones
    (kernels before 6.7 list none: they ignore the state bit)."""
    found: list[Listener] = []
    bound: set[int] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        for view, end in _messages(family, 1 << state):
            done = False
            offset = 0
            while offset < end:
                length, kind = _HEADER.unpack_from(view, offset)[:2]
                if kind == NLMSG_DONE:
                    done = True
                    break
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", view, offset + _HEADER.size)
                    raise OSError(-code, "sock_diag request failed")
                _fam, state, sport, _dport, src, _dst, queue, backlog = _LISTENER.unpack_from(
                    view, offset + _HEADER.size
                )
                offset += (length + 3) & ~3
                port = int.from_bytes(sport, "big")
                if state != TCP_LISTEN:
                    bound.add(port)
                    continue
                found.append(Listener(_address(family, src), port, queue, backlog))
            if done:
                break
    return found, bound


def _tuple_uses(tuples: dict[tuple[int, bytes], list[int]]) -> list[TupleUse]:
    uses = []
    for (family, key), (in_use, time_wait, aged) in tuples.items():
        dport = int.from_bytes(key[:2], "big")
        src, dst = _address(family, key[2:18]), _address(family, key[18:34])
        uses.append(TupleUse(src, dst, dport, in_use, time_wait, aged))
    return uses


def _source_uses(
    maps: dict[tuple[int, bytes], int], uses: tuple[TupleUse, ...]
) -> tuple[SourceUse, ...]:
    """Distinct local ports per source address (IPv4-mapped folded into IPv4)."""
    merged: dict[str, int] = {}
    for (family, raw), bits in maps.items():
        src = _unmapped(_address(family, raw))
        merged[src] = merged.get(src, 0) | bits
    sockets: dict[str, int] = {}
    for use in uses:
        sockets[use.src] = sockets.get(use.src, 0) + use.in_use
    return tuple(
        SourceUse(src, bits.to_bytes(65536).count(1), sockets.get(src, 0))
        for src, bits in merged.items()
    )


def _merge(uses: Iterable[TupleUse]) -> tuple[TupleUse, ...]:
    """One entry per tuple, IPv4-mapped IPv6 folded into IPv4."""
    merged: dict[tuple[str, str, int], tuple[int, int, int | None]] = {}
    for use in uses:
        key = (_unmapped(use.src), _unmapped(use.dst), use.dport)
        in_use, time_wait, aged = merged.get(key, (0, 0, 0))
        both = None if aged is None or use.aged is None else aged + use.aged
        merged[key] = (in_use + use.in_use, time_wait + use.time_wait, both)
    return tuple(TupleUse(s, d, p, n, tw, a) for (s, d, p), (n, tw, a) in merged.items())


def _address(family: int, raw: bytes) -> str:
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    return socket.inet_ntop(socket.AF_INET6, raw[:16])


def _unmapped(address: str) -> str:
    if address.startswith("::ffff:") and "." in address:
        return address.removeprefix("::ffff:")
    return address


def _hex_address(text: str) -> str:
    """An address as /proc/net/tcp prints it: 32-bit words in this host's byte order."""
    raw = bytes.fromhex(text)
    words = b"".join(struct.pack("=I", int.from_bytes(raw[i : i + 4], "big"))
                     for i in range(0, len(raw), 4))  # fmt: skip
    return _address(socket.AF_INET if len(words) == 4 else socket.AF_INET6, words)
