"""tuner doctor on a host holding many connections, side by side with ss in the same run.

Holds N loopback connections (2N sockets: the connecting side and the accepted side, which waits
in its listener's accept queue) in a private network namespace, spread over processes (a
process's hard descriptor limit is 20000 here) and over 8 listener ports (one tuple holds at most
64,512). For each N it measures, interleaved, the median wall time of:

- ``tuner doctor --json``                                    (sock_diag, streamed)
- ``ss -tan | awk '{print $5}' | sed 's/:[^ ]*//g' | sort | uniq -c``   (the blog's pipeline)
- ``ss -tan > /dev/null``                                   (what ss itself costs)

and doctor's peak RSS. Targets at 400k sockets: doctor <= 0.6x the pipeline, <= 0.7x plain ss,
peak RSS <= 200 MB. Needs root (unshare --net); nothing outside the namespace is touched.

    python bench/doctor_census.py [--connections 50000,100000,200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

PORTS = range(5001, 5009)
PER_PROCESS = 18000
PIPELINE = "ss -tan | awk '{print $5}' | sed 's/:[^ ]*//g' | sort | uniq -c > /dev/null"


def hold(port: int, count: int) -> None:
    """Connect ``count`` times to 127.0.0.1:port, say so, and hold until stdin closes."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    for _ in range(count):
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.connect(("127.0.0.1", port))
        held.append(client)
    print(len(held), flush=True)
    sys.stdin.read()


def run_once(command: list[str] | str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(command, shell=isinstance(command, str),
                               stdout=subprocess.DEVNULL)  # fmt: skip
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 2):
        raise SystemExit(f"{command} exited {process.returncode}")
    return elapsed, usage.ru_maxrss


def inside(targets: list[int], runs: int, also: list[str]) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for key, value in (("net/ipv4/ip_local_port_range", "1024 65535"),
                       ("net/core/somaxconn", str(1 << 20)),
                       ("net/ipv4/tcp_max_syn_backlog", str(1 << 20))):  # fmt: skip
        Path("/proc/sys", key).write_text(value)
    listeners = []
    for port in PORTS:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", port))
        server.listen(1 << 20)
        listeners.append(server)
    script = Path(sys.executable).with_name("tuner")
    tuner = [str(script)] if script.exists() else [sys.executable, "-m", "tuner"]
    commands: dict[str, list[str] | str] = {
        "tuner doctor --json": [*tuner, "doctor", "--json"],
        "blog pipeline (ss | awk | sed | sort | uniq -c)": PIPELINE,
        "ss -tan > /dev/null": "ss -tan > /dev/null",
        **{extra: extra for extra in also},
    }
    holders: list[subprocess.Popen[str]] = []
    held = 0
    rows = []
    try:
        for target in targets:
            while held < target:
                count = min(PER_PROCESS, target - held)
                port = PORTS[len(holders) % len(PORTS)]
                holder = subprocess.Popen(
                    [sys.executable, __file__, "--hold", str(port), str(count)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                )  # fmt: skip
                assert holder.stdout is not None
                held += int(holder.stdout.readline())
                holders.append(holder)
            samples: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
            for _ in range(runs):
                for name, command in commands.items():
                    samples[name].append(run_once(command))
            rows.append((target, samples))
            print_row(target, samples)
    finally:
        for holder in holders:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait()
    print_table(rows)


def median(samples: list[tuple[float, int]]) -> float:
    return statistics.median(s[0] for s in samples)


def print_row(target: int, samples: dict[str, list[tuple[float, int]]]) -> None:
    names = list(samples)
    print(f"{target:,} connections: " + ", ".join(f"{n} {median(samples[n]):.3f}s" for n in names),
          file=sys.stderr, flush=True)  # fmt: skip


def print_table(rows: list[tuple[int, dict[str, list[tuple[float, int]]]]]) -> None:
    doctor, pipeline, plain = (
        "tuner doctor --json",
        "blog pipeline (ss | awk | sed | sort | uniq -c)",
        "ss -tan > /dev/null",
    )
    print(
        "| connections | sockets | doctor s | pipeline s | ss -tan s | doctor/pipeline "
        "(<= 0.6) | doctor/ss (<= 0.7) | doctor peak RSS MB (<= 200) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for target, samples in rows:
        d, p, s = median(samples[doctor]), median(samples[pipeline]), median(samples[plain])
        rss = max(r for _, r in samples[doctor]) / 1024
        print(f"| {target:,} | {2 * target:,} | {d:.3f} | {p:.3f} | {s:.3f} | {d / p:.2f}x | "
              f"{d / s:.2f}x | {rss:.0f} |")  # fmt: skip


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--hold":
        hold(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="50000,100000,200000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="COMMAND",
        help="another shell command to measure beside them",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    targets = sorted(int(n) for n in args.connections.split(","))
    if args.inside:
        inside(targets, args.runs, args.also)
        return
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        raise SystemExit("needs root and unshare: the connections live in a private namespace")
    print(f"{args.runs} runs each, interleaved, median wall time; {sys.executable}")
    sys.stdout.flush()
    command = ["unshare", "--net", "--", sys.executable, __file__, "--inside",
               "--connections", args.connections, "--runs", str(args.runs)]  # fmt: skip
    command += [f"--also={extra}" for extra in args.also]
    raise SystemExit(subprocess.run(command, check=False).returncode)


if __name__ == "__main__":
    main()
