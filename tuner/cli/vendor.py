"""tuner vendor: flattened profiles into <root>/etc/tuner/profiles/ for offline use."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from tuner.app.ops import load_checked
from tuner.app.vendor import vendored_text
from tuner.cli import report
from tuner.cli.common import make_host
from tuner.machine.host import FileState
from tuner.profile.library import SITE_PROFILES


def run(refs: list[str], root: Path) -> int:
    host = make_host(root, None, kernel=False)  # vendoring never reads the running kernel
    texts = {}
    for ref in refs:  # validate everything before writing anything
        profile, _diagnostics = load_checked(ref, host)
        texts[profile.name] = vendored_text(profile)
    for name, text in texts.items():
        path = SITE_PROFILES / f"{name}.yaml"
        host.write_file(PurePosixPath(path), FileState(text.encode(), 0o644))
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        report.out(f"vendored {name} -> {host.real_path(path)} (sha256 {digest}...)")
    return 0
