"""Socket scenes for the doctor tests (run inside a throwaway network namespace, lo up).

    python doctorscene.py SCENE

Builds the scene, then, while every socket is still held, runs ``tuner doctor --json`` and
``ss -tanH state S`` for every TCP state; prints {"doctor": ..., "ss": {state: count},
"ss_total": n, "scene": {...}} as one JSON line.

    exhaust   ip_local_port_range 40000-40099, connect to 127.0.0.1:5000 until EADDRNOTAVAIL
    timewait  tcp_tw_reuse 0, range 40000-40199, 120 connections the client closes first
    healthy   4 connections, nothing else
    mixed     IPv6 and IPv4-mapped connections to a dual-stack listener, IPv4 ones to another,
              with TIME_WAIT, FIN_WAIT2/CLOSE_WAIT pairs and established ones
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

STATES = ("established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
          "close-wait", "last-ack", "listening", "closing")  # fmt: skip


def sysctl(key: str, value: str) -> None:
    Path("/proc/sys", key.replace(".", "/")).write_text(value)


def listen(family: int, address: str, port: int) -> socket.socket:
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    server.bind((address, port))
    server.listen(4096)
    return server


def connect(family: int, address: str, port: int) -> socket.socket:
    client = socket.socket(family, socket.SOCK_STREAM)
    client.connect((address, port))
    return client


def close_first(server: socket.socket, family: int, address: str, port: int, count: int) -> None:
    """``count`` connections the client closes first: the client's side ends in TIME_WAIT."""
    for _ in range(count):
        client = connect(family, address, port)
        accepted, _ = server.accept()
        client.close()
        assert accepted.recv(1) == b""
        accepted.close()


def exhaust(held: list[socket.socket]) -> dict[str, object]:
    sysctl("net.ipv4.ip_local_port_range", "40000 40099")
    held.append(listen(socket.AF_INET, "127.0.0.1", 5000))
    error = None
    while len(held) < 1000:
        try:
            held.append(connect(socket.AF_INET, "127.0.0.1", 5000))
        except OSError as exc:
            error = errno.errorcode.get(exc.errno or 0, str(exc))
            break
    return {"connected": len(held) - 1, "error": error}


def timewait(held: list[socket.socket]) -> dict[str, object]:
    sysctl("net.ipv4.tcp_tw_reuse", "0")
    sysctl("net.ipv4.ip_local_port_range", "40000 40199")
    server = listen(socket.AF_INET, "127.0.0.1", 5000)
    held.append(server)
    close_first(server, socket.AF_INET, "127.0.0.1", 5000, 120)
    return {"time_wait": 120}


def healthy(held: list[socket.socket]) -> dict[str, object]:
    server = listen(socket.AF_INET, "127.0.0.1", 5000)
    held.append(server)
    for _ in range(4):
        held.append(connect(socket.AF_INET, "127.0.0.1", 5000))
        held.append(server.accept()[0])
    return {}


def mixed(held: list[socket.socket]) -> dict[str, object]:
    dual = listen(socket.AF_INET6, "::", 5000)
    plain = listen(socket.AF_INET, "127.0.0.1", 6000)
    held += [dual, plain]
    for family, address, count in ((socket.AF_INET6, "::1", 20), (socket.AF_INET, "127.0.0.1", 10)):
        for _ in range(count):  # IPv4 clients reach the dual-stack listener as ::ffff:127.0.0.1
            held.append(connect(family, address, 5000))
            held.append(dual.accept()[0])
    for _ in range(7):
        held.append(connect(socket.AF_INET, "127.0.0.1", 6000))
        held.append(plain.accept()[0])
    close_first(dual, socket.AF_INET6, "::1", 5000, 6)
    for _ in range(3):  # the client closes, the server does not: FIN_WAIT2 and CLOSE_WAIT
        client = connect(socket.AF_INET6, "::1", 5000)
        held.append(dual.accept()[0])
        client.close()
    return {}


def main() -> None:
    scene = sys.argv[1]
    held: list[socket.socket] = []
    facts = {"exhaust": exhaust, "timewait": timewait, "healthy": healthy, "mixed": mixed}[scene](
        held
    )
    tuner = os.environ.get("TUNER", f"{sys.executable} -m tuner").split()
    doctor = subprocess.run([*tuner, "doctor", "--json"], capture_output=True, text=True,
                            check=False)  # fmt: skip
    if doctor.returncode != 0:
        raise SystemExit(f"doctor exited {doctor.returncode}: {doctor.stderr}")
    counts = {}
    for state in STATES:
        out = subprocess.run(["ss", "-tanH", "state", state], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        counts[state] = len(out.splitlines())
    total = len(subprocess.run(["ss", "-tanH"], capture_output=True, text=True,
                               check=True).stdout.splitlines())  # fmt: skip
    print(json.dumps({"doctor": json.loads(doctor.stdout), "ss": counts, "ss_total": total,
                      "scene": facts}))  # fmt: skip


if __name__ == "__main__":
    main()
