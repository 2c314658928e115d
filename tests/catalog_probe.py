"""Probe the running kernel for what the catalog says about per-netns keys (run in a new netns).

For each per-network-namespace key of the catalog: does it exist; its value in a fresh
namespace; and for integers and vectors, whether the kernel takes the catalog's minimum and
maximum and refuses one past them (EINVAL), each write followed by putting the value back.
Prints one JSON object: key -> findings.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

from tuner.knowledge import catalog

PROC = Path("/proc/sys")
# bounds that depend on another key (the port range and the first unprivileged port): the
# port-range rules and the kernel proofs cover them
CROSS = {"net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start"}


def write(path: Path, value: str) -> bool:
    try:
        path.write_text(value + "\n")
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ERANGE):
            raise
        return False
    return True


def probe(entry: catalog.Entry) -> dict[str, object]:
    parts = entry.key.split(".")
    path = PROC.joinpath(*(p.replace("/", ".") for p in parts))
    if not path.exists():
        return {"exists": False}
    fresh = " ".join(path.read_text().split())
    found: dict[str, object] = {"exists": True, "fresh": fresh}
    if entry.key in CROSS or entry.shape not in ("int", "vector"):
        return found
    values = fresh.split()
    positions = range(len(values)) if entry.shape == "vector" else range(1)

    def attempt(position: int, number: int) -> bool:
        trial = list(values)
        trial[position] = str(number)
        ok = write(path, " ".join(trial))
        write(path, fresh)
        return ok

    checks: dict[str, bool] = {}
    for position in positions:
        if entry.minimum is not None:
            checks[f"{position}:takes min {entry.minimum}"] = attempt(position, entry.minimum)
            if entry.minimum > 0:  # a positive floor must be the kernel's (0: tuner's own)
                checks[f"{position}:refuses {entry.minimum - 1}"] = not attempt(
                    position, entry.minimum - 1
                )
    last = len(values) - 1
    if entry.maximum is not None:
        checks[f"{last}:takes max {entry.maximum}"] = attempt(last, entry.maximum)
        checks[f"{last}:refuses {entry.maximum + 1}"] = not attempt(last, entry.maximum + 1)
    else:
        checks[f"{last}:takes 2147483647 (no max in the catalog)"] = attempt(last, 2147483647)
    found["checks"] = checks
    return found


def main() -> None:
    report = {
        name: probe(entry) for name, entry in catalog.entries().items() if entry.scope == "netns"
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
