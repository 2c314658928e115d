"""The kernel's socket table, asked through netlink sock_diag (what ss uses).

/proc/net/tcp is text the kernel formats line by line: on a proxy holding 2M connections that is
millions of lines to read just to find a few listeners. SOCK_DIAG_BY_FAMILY with a state filter
makes the kernel return only the listening sockets (Documentation/networking/proc_net_tcp.rst;
include/uapi/linux/inet_diag.h).
"""

from __future__ import annotations

import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
TCP_LISTEN = 10
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_REQUEST = struct.Struct("=BBBBI48x")  # inet_diag_req_v2: family, protocol, ext, pad, states, id
_SPORT = struct.Struct(">H")  # inet_diag_msg: 4 bytes of flags, then id.idiag_sport (big-endian)


def listening_tcp_ports() -> set[int]:
    """Ports of listening TCP sockets (IPv4 and IPv6) in this process's network namespace."""
    ports: set[int] = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        ports |= _dump(family, 1 << TCP_LISTEN)
    return ports


def _dump(family: int, states: int) -> set[int]:
    request = _REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, states)
    header = _HEADER.pack(_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0)  # fmt: skip
    found: set[int] = set()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as netlink:
        netlink.sendall(header + request)
        while True:
            data = netlink.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _flags, _seq, _pid = _HEADER.unpack_from(data, offset)
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                    raise OSError(-code, "sock_diag request failed")
                found.add(_SPORT.unpack_from(data, offset + _HEADER.size + 4)[0])
                offset += (length + 3) & ~3
            if not data:
                return found
