"""The systemd service and timer that write tuner's Prometheus metrics every few minutes
(``tuner export systemd-timer``), rendered from templates/metrics.service.j2 and
metrics.timer.j2. Every value that reaches a unit file is checked first: a path or an interval
that could end its line, or be read as another setting, is refused."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tuner import __version__
from tuner.base.errors import TunerError
from tuner.changes.render import environment

UNIT = "tuner-metrics"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"  # Debian's prometheus-node-exporter
DEFAULT_INTERVAL = "5min"
DEFAULT_TUNER = "/usr/local/bin/tuner"
_PATH = re.compile(r"/[A-Za-z0-9._+/-]*")
_SPAN = re.compile(r"[1-9][0-9]{0,5}(s|sec|m|min|h|hr)")


def units(*, tuner: str = DEFAULT_TUNER, directory: str = TEXTFILE_DIR,
          interval: str = DEFAULT_INTERVAL, doctor: bool = False) -> dict[str, str]:  # fmt: skip
    """File name -> content: ``tuner-metrics.service`` and ``tuner-metrics.timer``."""
    for option, value in (("--tuner", tuner), ("--textfile-dir", directory)):
        if not _PATH.fullmatch(value) or "//" in value or "/../" in f"{value}/":
            raise TunerError(
                f"{option} {value!r}: an absolute path of letters, digits and . _ + - /"
            )
    if not _SPAN.fullmatch(interval):
        raise TunerError(f"--interval {interval!r}: a time span such as 30s, 5min or 1h")
    service, timer = f"{UNIT}.service", f"{UNIT}.timer"
    values = {
        "version": __version__, "tuner": tuner, "doctor": doctor, "interval": interval,
        "directory": str(PurePosixPath(directory)), "service": service, "timer": timer,
    }  # fmt: skip
    env = environment()
    return {
        service: env.get_template("metrics.service.j2").render(**values),
        timer: env.get_template("metrics.timer.j2").render(**values),
    }
