"""tuner export: a profile in another tool's format (cloud-init: a #cloud-config document for
first boot, ``changes.cloudinit``)."""

from __future__ import annotations

from tuner.app.profiles import load_checked
from tuner.changes.cloudinit import document
from tuner.machine.host import Host
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef


def cloud_init(
    ref: ProfileRef, host: Host, library: ProfileLibrary, *, mode: str, pip_spec: str | None
) -> str:
    profile, _diagnostics = load_checked(ref, host, library)
    return document(profile, mode, pip_spec)
