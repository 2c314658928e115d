"""What systemd makes of unit files: ``systemd-analyze verify`` at debug level prints each unit's
parsed limits; the tests compare them with what tuner meant."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def systemd_view(units: Path, names: list[str]) -> tuple[str, dict[str, dict[str, int]]]:
    """systemd's whole output, and for each of ``names`` its Limit*= numbers (hard and Soft)."""
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(units / n) for n in names)],
        capture_output=True,
        text=True,
        env={"SYSTEMD_LOG_LEVEL": "debug", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        check=False,
        timeout=120,
    )
    output = result.stdout + result.stderr
    parsed: dict[str, dict[str, int]] = {}
    current = None
    for line in output.splitlines():
        header = re.match(r"\s*-> Unit (\S+):$", line)
        if header:
            current = parsed.setdefault(header[1], {}) if header[1] in names else None
            continue
        limit = re.match(r"\s*(Limit[A-Z]+(?:Soft)?): (\d+)$", line)
        if current is not None and limit:
            current[limit[1]] = int(limit[2])
    return output, parsed
