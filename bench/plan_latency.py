"""Median wall time of `tuner plan haproxy-2m-conns` against the floor set by the dependencies.

The floor is `python -c "import pydantic, yaml, jinja2, typer, deepdiff"`. Both run interleaved in
the same process, so a noisy machine affects them alike; the ratio is what counts (target <= 1.0).

    python bench/plan_latency.py [--runs N] [--root DIR --proc-sys DIR] [--also PYTHON]

``--also PYTHON`` times the tuner installed beside another interpreter in the same run (another
version of tuner, say), so that two versions are compared on the same noise.

plan is read-only: by default it reads this host's /proc/sys and /etc, as a user would run it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

FLOOR = [sys.executable, "-c", "import pydantic, yaml, jinja2, typer, deepdiff"]


def timed(
    command: list[str], env: dict[str, str] | None = None, codes: tuple[int, ...] = (0, 2)
) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            check=False, env=None if env is None else os.environ | env)  # fmt: skip
    elapsed = time.perf_counter() - start
    if result.returncode not in codes:
        raise SystemExit(f"{command} failed: {result.stderr.decode()}")
    return elapsed


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():  # warm the page cache (and tuner's profile cache) once
        timed(command)
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(timed(command))
    return samples


def table(samples: dict[str, list[float]], floor: str, targets: dict[str, float]) -> str:
    base = statistics.median(samples[floor])
    lines = [f"{'command':<40} {'median ms':>10} {'p90 ms':>8} {'ratio':>7} {'target':>7}"]
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        target = f"<={targets[name]:.2f}" if name in targets else ""
        ratio = median / base
        verdict = "" if name not in targets else (" ok" if ratio <= targets[name] else " MISSED")
        timing = f"{median * 1000:>10.1f} {p90 * 1000:>8.1f}"
        lines.append(f"{name:<40} {timing} {ratio:>7.2f} {target:>7}{verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--root")
    parser.add_argument("--proc-sys")
    parser.add_argument("--also", metavar="PYTHON", help="time this interpreter's tuner too")
    args = parser.parse_args()
    where = ["--root", args.root] if args.root else []
    where += ["--proc-sys", args.proc_sys] if args.proc_sys else []
    commands = {
        "import floor (5 dependencies)": FLOOR,
        "tuner plan haproxy-2m-conns": [
            *console(sys.executable),
            "plan",
            "haproxy-2m-conns",
            *where,
        ],
    }
    if args.also:
        also = [*console(args.also), "plan", "haproxy-2m-conns", *where]
        commands[f"tuner plan ({args.also})"] = also
    samples = measure(commands, args.runs)
    print(f"{args.runs} runs each, interleaved, {sys.executable}")
    targets = dict.fromkeys((name for name in commands if name.startswith("tuner")), 1.0)
    print(table(samples, "import floor (5 dependencies)", targets))


def console(python: str) -> list[str]:
    """The console script beside ``python``, as a user runs it."""
    script = Path(python).with_name("tuner")
    return [str(script)] if script.exists() else [python, "-m", "tuner"]


if __name__ == "__main__":
    main()
