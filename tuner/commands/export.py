"""tuner export cloud-init: a #cloud-config document for first boot."""

from __future__ import annotations

from pathlib import Path

from tuner import report
from tuner.cloudinit import document
from tuner.commands._common import make_host
from tuner.ops import load_checked


def cloud_init(ref: str, root: Path | None, mode: str, pip_spec: str | None) -> int:
    profile, _diagnostics = load_checked(ref, make_host(root, None, kernel=False))
    report.raw(document(profile, mode, pip_spec))
    return 0
