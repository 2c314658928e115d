"""Failure scenes on the real kernel, for tests/test_scenes.py (run inside a throwaway network
namespace, loopback up):

    python scenes.py SCENE

Each scene makes the kernel fail an operation (or shows that it succeeds), then, with every
socket still held: runs ``tuner doctor --json``, counts ``ss -tanH state S`` for every state,
writes the fix doctor proposes for the scene's target finding as a profile and asks
``tuner doctor --profile`` for its verdict, applies that fix inside the namespace (sysctl writes;
an application's backlog by listening again), and runs the operation again. Prints one JSON line:

    {"before": error-or-null, "after": error-or-null, "doctor": ..., "verdicts": ...,
     "ss": {state: n}, "ss_total": n, "fix": {...}, "facts": {...}}

The operation after the fix runs on a fresh destination port where the scene's failure was made
by churn (TIME_WAIT), so it repeats the workload under the fixed settings: a change of
tcp_timestamps, for one, applies to connections made after it.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

STATES = ("established", "syn-sent", "syn-recv", "fin-wait-1", "fin-wait-2", "time-wait",
          "close-wait", "last-ack", "listening", "closing")  # fmt: skip
LOOP = "127.0.0.1"
HELD: list[socket.socket] = []  # every socket a scene makes stays open until the end


def sysctl(key: str, value: str) -> None:
    with Path("/proc/sys", key.replace(".", "/")).open("w") as handle:
        handle.write(value)


def error_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc))


def listen(port: int, backlog: int = 4096) -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((LOOP, port))
    server.listen(backlog)
    HELD.append(server)
    return server


def connect(port: int, *, bind_first: bool = False, timeout: float | None = None) -> str | None:
    """One connection to 127.0.0.1:port, held; its error name, or None."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(timeout)
    try:
        if bind_first:
            client.bind((LOOP, 0))
        client.connect((LOOP, port))
    except OSError as exc:
        client.close()
        return "timeout" if isinstance(exc, TimeoutError) else error_name(exc)
    HELD.append(client)
    return None


def fill(port: int, *, bind_first: bool = False, retries: int = 20, cap: int = 5000) -> int:
    """Connect until the kernel refuses ``retries`` times in a row; how many were made."""
    made = misses = 0
    while misses < retries and made < cap:
        if connect(port, bind_first=bind_first) is None:
            made += 1
            misses = 0
        else:
            misses += 1
    return made


def churn(port: int, count: int) -> str | None:
    """``count`` connections the client closes first (its ports go to TIME_WAIT), then, past
    the reuse delay of 1 s, one more connect: its error, or None."""
    server = listen(port)
    for _ in range(count):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.connect((LOOP, port))
        accepted, _ = server.accept()
        client.close()
        accepted.recv(1)
        accepted.close()
    time.sleep(1.3)
    return connect(port)


class Scene:
    """A failure and what makes it: ``build`` returns the error of the operation (None: it
    succeeds); ``again`` runs the operation after the fix."""

    target: str | None = None  # the finding whose fix is applied
    facts: dict[str, object]

    def __init__(self) -> None:
        self.facts = {}

    def build(self) -> str | None:
        raise NotImplementedError

    def again(self) -> str | None:
        raise NotImplementedError

    def backlog(self, _listener: dict[str, object], _size: int) -> None:
        raise SystemExit("this scene has no application backlog to raise")

    def judge(self) -> None:
        """More questions to doctor while the failure stands (into ``facts``)."""


class Tuple(Scene):
    """One tuple exhausted: 100 ports, connect until EADDRNOTAVAIL."""

    target = "port-exhaustion"
    port_range = "40000 40099"

    def setup(self) -> None:
        pass

    def build(self) -> str | None:
        sysctl("net.ipv4.ip_local_port_range", self.port_range)
        self.setup()
        listen(5000)
        self.facts["connected"] = fill(5000)
        return connect(5000)

    def again(self) -> str | None:
        return connect(5000)


class Odd(Tuple):
    """A range of odd size (101 ports): connect() gets one fewer, now and then all of them."""

    port_range = "40000 40100"


class Refused(Tuple):
    """ip_unprivileged_port_start 2048: a range from 1024 would be refused (EINVAL)."""

    def setup(self) -> None:
        sysctl("net.ipv4.ip_unprivileged_port_start", "2048")

    def judge(self) -> None:
        """loadgen-client's range starts at 1024: the kernel here would refuse it."""
        judged = tuner("doctor", "--json", "--profile", "loadgen-client")
        listed = judged["findings"]
        assert isinstance(listed, list)
        self.facts["loadgen_verdicts"] = {f["id"]: f["verdict"] for f in listed}


class Reserved(Tuple):
    """Reserved ports, a listener and bound-but-unconnected sockets inside the range."""

    port_range = "43000 43099"

    def setup(self) -> None:
        sysctl("net.ipv4.ip_local_reserved_ports", "43060-43064")
        for port in range(43000, 43010):
            bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            bound.bind((LOOP, port))
            HELD.append(bound)
        listen(43050)


class Spread(Scene):
    """Four tuples, each with the whole 100-port range to itself: 400 connections."""

    target = "port-exhaustion"

    def build(self) -> str | None:
        sysctl("net.ipv4.ip_local_port_range", "40000 40099")
        made = {}
        for port in range(5000, 5004):
            listen(port)
            made[port] = fill(port)
        self.facts["connected"] = made
        return connect(5000)

    def again(self) -> str | None:
        return connect(5000)


class Shared(Scene):
    """Four tuples at 60 of a 100-port range each, connect() choosing: ports shared between
    tuples, every tuple with room left."""

    target = None

    def build(self) -> str | None:
        sysctl("net.ipv4.ip_local_port_range", "40000 40099")
        for port in range(5000, 5004):
            listen(port)
            for _ in range(60):
                failed = connect(port)
                if failed:
                    return failed
        return connect(5000)

    def again(self) -> str | None:
        return connect(5000)


class BindFirst(Scene):
    """Clients that bind() before connect(): 4 tuples x 250 take all 1,000 ports."""

    target = "source-ports"

    def build(self) -> str | None:
        sysctl("net.ipv4.ip_local_port_range", "42000 42999")
        for port in range(7000, 7004):
            listen(port)
            for _ in range(250):
                failed = connect(port, bind_first=True)
                if failed:
                    raise SystemExit(f"bind-before-connect failed early: {failed}")
        listen(7010)
        self.facts["plain_connect"] = connect(7010)
        return connect(7010, bind_first=True)

    def again(self) -> str | None:
        return connect(7010, bind_first=True)


class TimeWait(Scene):
    """A tuple of 100 ports full of TIME_WAIT (the client closes first), with the reuse
    settings of the subclass; the operation is the churn itself."""

    target: str | None = "time-wait-pileup"
    settings: ClassVar[dict[str, str]] = {"net.ipv4.tcp_tw_reuse": "0"}

    def build(self) -> str | None:
        sysctl("net.ipv4.ip_local_port_range", "41000 41099")
        for key, value in self.settings.items():
            sysctl(key, value)
        return churn(6000, 100)

    def again(self) -> str | None:
        return churn(6001, 100)


class Reuse1(TimeWait):
    target = None
    settings: ClassVar[dict[str, str]] = {"net.ipv4.tcp_tw_reuse": "1"}


class Reuse2(TimeWait):
    """tcp_tw_reuse=2, the default: loopback connections reuse."""

    target = None
    settings: ClassVar[dict[str, str]] = {"net.ipv4.tcp_tw_reuse": "2"}


class NoStamps(TimeWait):
    settings: ClassVar[dict[str, str]] = {
        "net.ipv4.tcp_tw_reuse": "1",
        "net.ipv4.tcp_timestamps": "0",
    }


class LongDelay(TimeWait):
    settings: ClassVar[dict[str, str]] = {
        "net.ipv4.tcp_tw_reuse": "1",
        "net.ipv4.tcp_tw_reuse_delay": "60000",
    }


class Remote(TimeWait):
    """tcp_tw_reuse=2 (the default) to an address that is not a loopback address, though on the
    loopback interface (10.1.0.1 on lo): no reuse."""

    settings: ClassVar[dict[str, str]] = {"net.ipv4.tcp_tw_reuse": "2"}

    def build(self) -> str | None:
        global LOOP  # noqa: PLW0603
        subprocess.run(["ip", "addr", "add", "10.1.0.1/32", "dev", "lo"], check=True)
        LOOP = "10.1.0.1"
        return super().build()


def overflows() -> int:
    """TcpExt TCPTimeWaitOverflow of this namespace."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
             if line.startswith("TcpExt:")]  # fmt: skip
    return int(dict(zip(lines[0], lines[1], strict=True))["TCPTimeWaitOverflow"])


class Buckets(Scene):
    """tcp_max_tw_buckets 50 and 100 connections closed first: the kernel keeps 50 TIME_WAIT
    sockets and destroys the rest at once; the operation is closing 10 more without a loss."""

    target = "time-wait-buckets"

    def build(self) -> str | None:
        sysctl("net.ipv4.tcp_max_tw_buckets", "50")
        sysctl("net.ipv4.tcp_tw_reuse", "0")
        self.server = listen(6000)
        return self.close_some(100)

    def close_some(self, count: int) -> str | None:
        before = overflows()
        for _ in range(count):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.connect((LOOP, 6000))
            accepted, _ = self.server.accept()
            client.close()
            accepted.recv(1)
            accepted.close()
        time.sleep(0.2)
        lost = overflows() - before
        self.facts["destroyed"] = self.facts.get("destroyed", 0) + lost  # type: ignore[operator]
        return f"{lost} TIME_WAIT sockets destroyed" if lost else None

    def again(self) -> str | None:
        return self.close_some(10)


class FinWait2(Scene):
    """50 connections the client closes while the server never does: the client's side waits in
    FIN-WAIT-2 (a timewait socket once orphaned), the server's in CLOSE-WAIT."""

    target = None

    def build(self) -> str | None:
        server = listen(5000)
        for _ in range(50):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.connect((LOOP, 5000))
            HELD.append(server.accept()[0])
            client.close()
        time.sleep(0.3)
        return connect(5000)

    def again(self) -> str | None:
        return connect(5000)


class Backlog(Scene):
    """An application that asked listen() for 8: its accept queue fills, a new connect's SYN is
    dropped and it times out; somaxconn (4096) has nothing to do with it."""

    target = "listen-queue"
    somaxconn = "4096"
    asked = 8

    def build(self) -> str | None:
        sysctl("net.core.somaxconn", self.somaxconn)
        self.server = listen(5000, self.asked)
        for _ in range(12):
            connect(5000, timeout=0.5)
        return connect(5000, timeout=1.5)

    def backlog(self, _listener: dict[str, object], size: int) -> None:
        self.server.listen(size)  # listen() again on a listening socket sets its backlog

    def again(self) -> str | None:
        return connect(5000, timeout=1.5)


class Somaxconn(Backlog):
    """somaxconn 8 caps an application that asked for 4096."""

    somaxconn = "8"
    asked = 4096


class Healthy(Scene):
    """50,000+ connections over 4 tuples, spread over processes (20,000 descriptors each)."""

    target = None

    def build(self) -> str | None:
        sysctl("net.ipv4.ip_local_port_range", "1024 65535")
        sysctl("net.core.somaxconn", "65535")
        for port in range(5001, 5005):
            listen(port, 65535)
        script = (
            "import socket, sys, resource\n"
            "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
            "held = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) "
            "for _ in range(int(sys.argv[2]))]\n"
            "print(len(held), flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.children = [
            subprocess.Popen([sys.executable, "-c", script, str(5001 + i % 4), "12600"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for i in range(4)
        ]  # fmt: skip
        counts = []
        for child in self.children:
            assert child.stdout is not None
            counts.append(int(child.stdout.readline()))
        self.facts["connected"] = sum(counts)
        return connect(5001)

    def again(self) -> str | None:
        return connect(5001)


SCENES: dict[str, Callable[[], Scene]] = {
    "tuple": Tuple, "odd": Odd, "refused": Refused, "reserved": Reserved, "spread": Spread,
    "bindfirst": BindFirst, "shared": Shared, "timewait": TimeWait, "reuse1": Reuse1, "reuse2": Reuse2,
    "nostamps": NoStamps, "delay": LongDelay, "remote": Remote, "buckets": Buckets, "finwait2": FinWait2, "backlog": Backlog,
    "somaxconn": Somaxconn, "healthy": Healthy,
}  # fmt: skip


def tuner(*args: str) -> dict[str, object]:
    command = os.environ.get("TUNER", f"{sys.executable} -m tuner").split()
    done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 2):
        raise SystemExit(f"tuner {' '.join(args)} exited {done.returncode}: {done.stderr}")
    found: dict[str, object] = json.loads(done.stdout)
    return found


def ss_counts() -> tuple[dict[str, int], int]:
    counts = {}
    for state in STATES:
        out = subprocess.run(["ss", "-tanH", "state", state], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        counts[state] = len(out.splitlines())
    total = subprocess.run(["ss", "-tanH"], capture_output=True, text=True, check=True).stdout
    return counts, len(total.splitlines())


def profile_of(fix: dict[str, object], directory: Path) -> Path:
    """The fix's sysctl settings as a profile file."""
    settings = fix.get("sysctl") or {}
    assert isinstance(settings, dict)
    lines = ["name: scene-fix", "sysctl:"]
    lines += [f"  {key}: {json.dumps(str(value))}" for key, value in settings.items()]
    path = directory / "scene-fix.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    scene = SCENES[sys.argv[1]]()
    before = scene.build()
    doctor = tuner("doctor", "--json")
    counts, total = ss_counts()
    findings = doctor["findings"]
    assert isinstance(findings, list)
    scene.judge()
    target = next((f for f in findings if f["id"] == scene.target), None)
    fix: dict[str, object] = target["fix"] if target else {}
    verdicts = None
    after = None
    if target is not None:
        if fix.get("sysctl"):
            work = Path(os.environ.get("WORK", "/tmp"))
            judged = tuner("doctor", "--json", "--profile", str(profile_of(fix, work)))
            listed = judged["findings"]
            assert isinstance(listed, list)
            verdicts = {f["id"]: f["verdict"] for f in listed}
        settings = fix.get("sysctl") or {}
        assert isinstance(settings, dict)
        for key, value in settings.items():
            sysctl(str(key), str(value))
        application = fix.get("application")
        if isinstance(application, dict):
            scene.backlog(application, int(application["listen_backlog"]))
        after = scene.again()
    print(json.dumps({"before": before, "after": after, "doctor": doctor, "verdicts": verdicts,
                      "ss": counts, "ss_total": total, "fix": fix, "facts": scene.facts}))  # fmt: skip
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
