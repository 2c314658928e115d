"""A TAB's cost: the completion request a shell makes, against the dependency import floor.

Target: a completion request <= 0.4x the floor (`python -c "import pydantic, yaml, jinja2, typer,
deepdiff"`), measured interleaved in one run, so that a noisy machine affects all alike. The
requests are the ones a user makes most: a command name, a profile name (which lists the site
and bundled profiles), an option, and a catalog key for explain. ``typer's engine`` is the same
profile-name request answered the way tuner did before the fast path (typer loads the commands
and answers), for comparison.

    python bench/completion.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from plan_latency import FLOOR, table, timed


def bash(line: str) -> dict[str, str]:
    words = line.split(" ")
    return {"_TUNER_COMPLETE": "complete_bash", "COMP_WORDS": "\n".join(words),
            "COMP_CWORD": str(len(words) - 1)}  # fmt: skip


TYPER_ENGINE = (
    "import os, typer\n"
    "from typer.completion import completion_init, shell_complete\n"
    "from tuner.cli.main import app\n"
    "completion_init()\n"
    "shell_complete(typer.main.get_command(app), {}, 'tuner', '_TUNER_COMPLETE', 'complete_bash')\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("tuner")
    tuner = [str(script)] if script.exists() else [sys.executable, "-m", "tuner"]
    floor = "import floor (5 dependencies)"
    requests: dict[str, tuple[list[str], dict[str, str] | None]] = {
        floor: (FLOOR, None),
        "tuner pl<TAB> (a command)": (tuner, bash("tuner pl")),
        "tuner plan ha<TAB> (a profile)": (tuner, bash("tuner plan ha")),
        "tuner plan --d<TAB> (an option)": (tuner, bash("tuner plan --d")),
        "tuner explain net.core.so<TAB>": (tuner, bash("tuner explain net.core.so")),
        "typer's engine: tuner plan ha<TAB>": (
            [sys.executable, "-c", TYPER_ENGINE], bash("tuner plan ha")),
    }  # fmt: skip
    samples: dict[str, list[float]] = {name: [] for name in requests}
    for command, env in requests.values():  # warm the page cache once
        timed(command, env)
    for _ in range(args.runs):
        for name, (command, env) in requests.items():
            samples[name].append(timed(command, env))
    targets = {name: 0.4 for name in requests if "<TAB>" in name and "typer" not in name}
    print(f"{args.runs} runs each, interleaved, {sys.executable}")
    print(table(samples, floor, targets))
    worst = max(statistics.median(samples[name]) for name in targets)
    ratio = worst / statistics.median(samples[floor])
    print(f"\nslowest completion request: {ratio:.2f}x the import floor (target <= 0.40)")


if __name__ == "__main__":
    main()
