"""tuner export cloud-init: a #cloud-config document for first boot."""

from __future__ import annotations

from pathlib import Path

from tuner.app.cloudinit import document
from tuner.app.ops import load_checked
from tuner.cli import report
from tuner.cli.common import make_host


def cloud_init(ref: str, root: Path | None, mode: str, pip_spec: str | None) -> int:
    profile, _diagnostics = load_checked(ref, make_host(root, None, kernel=False))
    report.raw(document(profile, mode, pip_spec))
    return 0
