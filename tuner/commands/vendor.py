"""tuner vendor: flattened profiles into <root>/etc/tuner/profiles/ for offline use."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

from tuner import report
from tuner.commands._common import make_host
from tuner.host import FileState
from tuner.library import SITE_PROFILES
from tuner.ops import load_checked
from tuner.vendor import vendored_text


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
