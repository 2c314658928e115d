"""tuner vendor: profiles flattened (``profile.vendored``) into ``<root>/etc/tuner/profiles/``, so
an image or instance can apply them and check its status offline.

Every profile is checked before anything is written; the files are then written under the
host's lock, each atomically. They are inputs, not managed state: no generation records them, so
a rollback never takes a vendored profile out of an image."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuner.app.profiles import load_checked
from tuner.machine.host import FileState, Host
from tuner.profile.library import SITE_PROFILES, ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.vendored import vendored_text


@dataclass(frozen=True)
class VendoredFile:
    name: str
    path: Path  # where it was written, on this machine
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256}


@dataclass(frozen=True)
class Vendored:
    files: tuple[VendoredFile, ...]

    def to_json(self) -> dict[str, object]:
        return {"vendored": [f.to_json() for f in self.files]}


def vendor(refs: list[ProfileRef], host: Host, library: ProfileLibrary) -> Vendored:
    texts = {}
    for ref in refs:  # validate everything before writing anything
        profile, _diagnostics = load_checked(ref, host, library)
        texts[profile.name] = vendored_text(profile)
    written = []
    with host.lock():
        for name, text in texts.items():
            path = PurePosixPath(SITE_PROFILES / f"{name}.yaml")
            host.write_file(path, FileState(text.encode(), 0o644))
            digest = hashlib.sha256(text.encode()).hexdigest()
            written.append(VendoredFile(name, host.real_path(path), digest))
    return Vendored(tuple(written))
