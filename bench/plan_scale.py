"""Plan at scale: a 2,000-key profile against a 20-key one, measured side by side.

Both profiles set real per-network-namespace keys (net.ipv4.conf.IFACE.KEY for generated
interfaces) against a fake /proc/sys tree that has them; plan runs on a scratch root, read-only.
Target: the 2,000-key plan takes at most 2x the 20-key plan.

    python bench/plan_scale.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from plan_latency import measure, table

KEYS = ("forwarding", "rp_filter", "accept_redirects", "send_redirects", "accept_source_route",
        "log_martians", "arp_ignore", "arp_announce", "arp_filter", "proxy_arp")  # fmt: skip


def scenario(base: Path, count: int) -> list[str]:
    """A profile of ``count`` keys, a root and a fake /proc/sys holding them; plan's arguments."""
    directory = base / f"keys-{count}"
    (directory / "root/etc/sysctl.d").mkdir(parents=True)
    proc_sys = directory / "proc_sys"
    (proc_sys / "kernel").mkdir(parents=True)
    (proc_sys / "kernel/osrelease").write_text("6.1.0\n")
    lines = [f"name: keys-{count}", "sysctl:"]
    for index in range(count):
        interface, key = f"veth{index // len(KEYS)}", KEYS[index % len(KEYS)]
        path = proc_sys / "net/ipv4/conf" / interface / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("0\n")
        lines.append(f"  net.ipv4.conf.{interface}.{key}: 1")
    profile = directory / f"keys-{count}.yaml"
    profile.write_text("\n".join(lines) + "\n")
    return ["plan", str(profile), "--root", str(directory / "root"), "--proc-sys", str(proc_sys)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    script = Path(sys.executable).with_name("tuner")
    tuner = [str(script)] if script.exists() else [sys.executable, "-m", "tuner"]
    with tempfile.TemporaryDirectory() as scratch:
        small, large = (scenario(Path(scratch), n) for n in (20, 2000))
        commands = {"tuner plan (20 keys)": [*tuner, *small],
                    "tuner plan (2,000 keys)": [*tuner, *large]}  # fmt: skip
        samples = measure(commands, args.runs)
    print(f"{args.runs} runs each, interleaved, {sys.executable}")
    print(table(samples, "tuner plan (20 keys)", {"tuner plan (2,000 keys)": 2.0}))


if __name__ == "__main__":
    main()
