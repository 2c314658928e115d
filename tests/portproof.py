"""Socket experiments for the kernel proofs (run inside a throwaway network namespace).

    python portproof.py exhaust PORT     connect to 127.0.0.1:PORT until EADDRNOTAVAIL, with the
                                         sockets spread over processes (the hard fd limit here is
                                         20000); print {"connected": N, "error": ...}
    python portproof.py timewait PORT N  make N connections the client closes first (so their
                                         ports sit in TIME_WAIT), then try one more connect
    python portproof.py retry PORT       one connect: {"ok": bool, "error": ..., "port": ...}
    python portproof.py ports PORT       connect until refused; print the source ports used
    python portproof.py idle PORT N      hold N idle connections; print their kernel memory

The listener never accepts in exhaust: established connections wait in its accept queue (the
caller raises net.core.somaxconn in the namespace), so the server side needs no descriptors.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

PER_PROCESS = 18000
ADDRESS = "127.0.0.1"


def listener(port: int, backlog: int = 1 << 20) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((ADDRESS, port))
    server.listen(backlog)
    return server


def connect(port: int, *, bind_first: bool = False) -> tuple[socket.socket | None, str | None]:
    """A connection to ADDRESS:port from a port the kernel picks from ip_local_port_range:
    in connect() (which prefers ports of the range's low parity), or with ``bind_first`` in
    bind() to port 0 (which prefers the other parity)."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if bind_first:
            client.bind((ADDRESS, 0))
        client.connect((ADDRESS, port))
    except OSError as exc:
        client.close()
        return None, errno.errorcode.get(exc.errno or 0, str(exc))
    return client, None


def worker(port: int, *, bind_first: bool) -> None:
    """Connect up to PER_PROCESS times; report; hold the sockets until stdin closes."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held, error = [], None
    for _ in range(min(PER_PROCESS, hard - 50)):
        client, error = connect(port, bind_first=bind_first)
        if client is None:
            break
        held.append(client)
    print(json.dumps({"connected": len(held), "error": error}), flush=True)
    sys.stdin.read()


def exhaust(port: int, processes: int = 4) -> None:
    """All workers connect at once (ports are only taken, never freed, so the sum is exact once
    one of them sees EADDRNOTAVAIL, as long as their caps add up to more than the range).

    Half the workers let connect() pick the source port, half bind() to port 0 first: the kernel
    fills one parity of the range from each side. With connect() alone, once its parity is
    used up every further connect() walks all of it before trying the other (quadratic: minutes
    for 64,512); the count, and the final EADDRNOTAVAIL, are the kernel's either way."""
    server = listener(port)
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "worker", str(port), "bind" if i % 2 else "connect"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for i in range(processes)
    ]  # fmt: skip
    results = []
    for child in workers:
        assert child.stdout is not None
        results.append(json.loads(child.stdout.readline()))
    total = sum(r["connected"] for r in results)
    capped = all(r["error"] is None for r in results)  # every worker hit its cap: not exhausted

    def errors(kind: int) -> str | None:
        found = sorted({r["error"] for r in results[kind::2] if r["error"]})
        return None if capped else ",".join(found)

    # connect() says EADDRNOTAVAIL when no port is left; bind() to port 0 says EADDRINUSE
    report = {"connected": total, "error": errors(0), "bind_error": errors(1)}
    print(json.dumps(report | {"processes": processes}))
    for child in workers:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    server.close()


def timewait(port: int, count: int) -> None:
    server = listener(port)
    for _ in range(count):
        client, error = connect(port)
        assert client is not None, error
        accepted, _ = server.accept()
        client.close()  # the client closes first: its side goes to TIME_WAIT
        assert accepted.recv(1) == b""
        accepted.close()
    time.sleep(1.2)  # past the 1 s tcp_tw_reuse minimum
    client, error = connect(port)
    print(json.dumps({"ok": client is not None, "error": error}))


def retry(port: int) -> None:
    server = listener(port)
    client, error = connect(port)
    source = client.getsockname()[1] if client else None
    print(json.dumps({"ok": client is not None, "error": error, "port": source}))
    server.close()


def ports(port: int) -> None:
    server = listener(port)
    held: list[socket.socket] = []
    error = None
    while len(held) < 1000:
        client, error = connect(port)
        if client is None:
            break
        held.append(client)
    print(json.dumps({"ports": sorted(c.getsockname()[1] for c in held), "error": error}))
    server.close()


def idle(port: int, count: int) -> None:
    """Hold ``count`` idle loopback connections (2 sockets each): the kernel memory they cost, as
    slab (/proc/meminfo) and as TCP buffer pages (/proc/net/sockstat)."""

    def slab() -> int:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("Slab:"):
                return int(line.split()[1]) * 1024
        raise SystemExit("no Slab in /proc/meminfo")

    def tcp_pages() -> int:
        for line in Path("/proc/net/sockstat").read_text().splitlines():
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
        raise SystemExit("no TCP line in /proc/net/sockstat")

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = listener(port)
    before, pages_before = slab(), tcp_pages()
    held = []
    for _ in range(count):
        client, error = connect(port)
        assert client is not None, error
        accepted, _ = server.accept()
        held += [client, accepted]
    after, pages_after = slab(), tcp_pages()
    print(json.dumps({"sockets": len(held), "slab_per_socket": (after - before) / len(held),
                      "tcp_mem_pages": pages_after - pages_before}))  # fmt: skip


if __name__ == "__main__":
    command, port = sys.argv[1], int(sys.argv[2])
    if command == "worker":
        worker(port, bind_first=sys.argv[3] == "bind")
    elif command == "exhaust":
        exhaust(port)
    elif command == "timewait":
        timewait(port, int(sys.argv[3]))
    elif command == "retry":
        retry(port)
    elif command == "ports":
        ports(port)
    elif command == "idle":
        idle(port, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command}")
    os._exit(0)
