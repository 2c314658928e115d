"""Run a shell script in a throwaway network + mount namespace (root and unshare(1) required).

Inside, writes to per-netns sysctls hit only the new namespace, and mounts (tmpfs over /etc
paths, a fake tree over /proc/sys) vanish with it. The script first proves it is not in the
test's own namespaces, so a failed unshare can never fall through to the real host.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _guard() -> str:
    checks = []
    for ns in ("net", "mnt"):
        outer = os.readlink(f"/proc/self/ns/{ns}")
        checks.append(
            f'[ "$(readlink /proc/self/ns/{ns})" != "{outer}" ] '
            f'|| {{ echo "refusing: still in the outer {ns} namespace" >&2; exit 99; }}'
        )
    return "\n".join(checks) + "\n"


def sandbox(script: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")}
    env["TUNER"] = f"{sys.executable} -m tuner"
    env["PYTHONPATH"] = str(REPO)
    command = ["unshare", "--net", "--mount", "--propagation", "private", "--",
               "bash", "-euo", "pipefail", "-c", _guard() + script]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def sourced(script: str, directory: Path) -> str:
    """A long script as a file the sandbox sources (argv has a size limit)."""
    path = directory / "sandbox-script.sh"
    path.write_text(script)
    return f"source {shlex.quote(str(path))}\n"


def tmpfs_over(*paths: str) -> str:
    """Shell lines that cover each real path with an empty tmpfs (created if missing)."""
    return "".join(f"mkdir -p {p} && mount -t tmpfs tmpfs {p}\n" for p in paths)


# Every place tuner writes or sysctl --system reads, covered: only tuner's files are seen, and
# nothing reaches the host's /etc. /run is empty too (no /run/sysctl.d, and no sign of systemd
# as PID 1, whatever the machine). $WORK must name a scratch directory.
COVER_ETC = tmpfs_over(
    "/etc/sysctl.d",
    "/etc/security/limits.d",
    "/etc/systemd/system",
    "/var/lib",
    "/usr/lib/sysctl.d",
    "/run",
) + (
    "[ ! -d /usr/local/lib/sysctl.d ] || mount -t tmpfs tmpfs /usr/local/lib/sysctl.d\n"
    ': > "$WORK/empty" && mount --bind "$WORK/empty" /etc/sysctl.conf\n'
    "ip link set lo up\n"
)
