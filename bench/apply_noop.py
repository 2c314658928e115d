"""A no-op apply on an already-applied host, side by side with plan in the same run.

Target: no-op apply <= 1.0x plan (the journal and lock must cost nothing when nothing
changes). The "host" is a fake tree in a temporary directory, seeded read-only from this
machine's /proc/sys and applied once before timing, so this machine is never changed.

    python bench/apply_noop.py [--runs N] [--profile NAME]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from plan_latency import FLOOR, measure, table

from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve


def seed(base: Path, profile: str) -> tuple[Path, Path]:
    root, proc_sys = base / "root", base / "proc_sys"
    for directory in ("etc/sysctl.d", "etc/security/limits.d", "etc/systemd/system", "var/lib"):
        (root / directory).mkdir(parents=True)
    resolved, problems = resolve(ProfileRef.parse(profile), ProfileLibrary.for_root(root))
    if resolved is None:
        raise SystemExit("\n".join(map(str, problems)))
    for rel in ["kernel/osrelease", *(str(e.key.path) for e in resolved.sysctl)]:
        target = proc_sys / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path("/proc/sys") / rel, target)
    return root, proc_sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", default="haproxy-2m-conns")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("tuner")
    tuner = [str(script)] if script.exists() else [sys.executable, "-m", "tuner"]
    with tempfile.TemporaryDirectory() as base:
        root, proc_sys = seed(Path(base), args.profile)
        where = ["--root", str(root), "--proc-sys", str(proc_sys)]
        subprocess.run([*tuner, "apply", args.profile, "--yes", *where], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        commands = {
            "import floor (5 dependencies)": FLOOR,
            f"tuner plan {args.profile}": [*tuner, "plan", args.profile, *where],
            f"tuner apply {args.profile} (no-op)": [*tuner, "apply", args.profile, "--yes", *where],
        }
        samples = measure(commands, args.runs)
    print(f"{args.runs} runs each, interleaved, {sys.executable}; fake applied host")
    plan = f"tuner plan {args.profile}"
    print(table({k: samples[k] for k in list(commands)[1:]}, plan,
                {f"tuner apply {args.profile} (no-op)": 1.0}))  # fmt: skip
    print()
    print(table(samples, "import floor (5 dependencies)", {}))


if __name__ == "__main__":
    main()
