"""Scale curves: validate and plan over profiles 1,000 and 10,000 wide in each dimension that was
once quadratic (live keys the kernel lacks, keys of a fake /proc/sys, limits lines, services,
extends siblings), measured side by side, interleaved, against a 1-key profile (the floor).

The growth column is t(10,000) / t(1,000): at most 10 when the work is linear (less, as the
fixed start-up cost is shared); a quadratic step shows as far more. Targets: 10,000 of each in
under 2 s, growth at most 10.

    python bench/scale_curves.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from plan_latency import timed


def profile(base: Path, kind: str, count: int) -> list[str]:
    """Arguments for ``tuner validate|plan`` of a profile ``count`` wide in ``kind``."""
    directory = base / f"{kind}-{count}"
    (directory / "root/etc").mkdir(parents=True)
    proc_sys = directory / "proc_sys"
    (proc_sys / "kernel").mkdir(parents=True)
    (proc_sys / "kernel/osrelease").write_text("6.1.0\n")
    lines = [f"name: {kind}-{count}"]
    if kind == "fake-proc-keys":
        lines.append("sysctl:")
        for index in range(count):
            path = proc_sys / f"net/ipv4/conf/veth{index}/forwarding"
            path.parent.mkdir(parents=True)
            path.write_text("0\n")
            lines.append(f"  net.ipv4.conf.veth{index}.forwarding: 1")
    elif kind == "unknown-keys":  # checked against the running kernel: one walk, set lookups
        lines += ["sysctl:"] + [f"  net.ipv4.nosuch_{i}: 1" for i in range(count)]
    elif kind == "limits":
        lines += ["limits:"] + [
            f"  - {{domain: user{i}, type: soft, item: nofile, value: {1024 + i}}}"
            for i in range(count)
        ]
    elif kind == "services":
        lines += ["services:"] + [
            f"  svc{i}.service: {{LimitNOFILE: {1024 + i}}}" for i in range(count)
        ]
    elif kind == "extends":
        parents = [f"sib{i}" for i in range(count)]
        lines.append(f"extends: [{', '.join(parents)}]")
        for name in parents:
            (directory / f"{name}.yaml").write_text(f"name: {name}\n")
    path = directory / f"{kind}-{count}.yaml"
    path.write_text("\n".join(lines) + "\n")
    where = ["--root", str(directory / "root")]
    if kind != "unknown-keys":
        where += ["--proc-sys", str(proc_sys)]
    return [str(path), *where]


KINDS = ("unknown-keys", "fake-proc-keys", "limits", "services", "extends")
SIZES = (1000, 10000)
TARGET_SECONDS, TARGET_GROWTH = 2.0, 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("tuner")
    tuner = [str(script)] if script.exists() else [sys.executable, "-m", "tuner"]
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        floor_args = profile(base, "limits", 1)
        commands: dict[tuple[str, str, int], list[str]] = {}
        for verb in ("validate", "plan"):
            commands[(verb, "floor", 1)] = [*tuner, verb, *floor_args]
            for kind in KINDS:
                for size in SIZES:
                    arguments = profile(base, kind, size) if verb == "validate" else (
                        commands[("validate", kind, size)][len(tuner) + 1 :])  # fmt: skip
                    commands[(verb, kind, size)] = [*tuner, verb, *arguments]
        samples: dict[tuple[str, str, int], list[float]] = {name: [] for name in commands}
        env_note = "TUNER_NO_CACHE=1 (every run parses)"
        for _ in range(args.runs):
            for name, command in commands.items():
                # extends past 1,000 profiles is refused (exit 1): the refusal is what is timed
                samples[name].append(timed(command, {"TUNER_NO_CACHE": "1"}, (0, 1, 2)))
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{args.runs} runs each, interleaved, {env_note}, {sys.executable}")
    print(f"{'command':<30} {'1,000 s':>8} {'10,000 s':>9} {'growth':>7}  target")
    for verb in ("validate", "plan"):
        floor = median[(verb, "floor", 1)]
        print(f"{verb + ' (1 entry: floor)':<30} {floor:>8.2f}")
        for kind in KINDS:
            small, large = median[(verb, kind, 1000)], median[(verb, kind, 10000)]
            growth = large / small
            ok = large <= TARGET_SECONDS and growth <= TARGET_GROWTH
            verdict = "ok" if ok else "MISSED"
            print(f"{verb + ' ' + kind:<30} {small:>8.2f} {large:>9.2f} {growth:>7.1f}  "
                  f"<{TARGET_SECONDS:.0f} s, <={TARGET_GROWTH:.0f}x {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
