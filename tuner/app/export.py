"""tuner export: a profile in another tool's format (cloud-init: a #cloud-config document for
first boot, ``changes.cloudinit``; Kubernetes: node, pod and kubelet manifests,
``changes.kubernetes``)."""

from __future__ import annotations

from tuner.app.profiles import load_checked
from tuner.changes import kubernetes as k8s
from tuner.changes.cloudinit import document
from tuner.machine.host import Host
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef


def cloud_init(
    ref: ProfileRef, host: Host, library: ProfileLibrary, *, mode: str, pip_spec: str | None
) -> str:
    profile, _diagnostics = load_checked(ref, host, library)
    return document(profile, mode, pip_spec)


def kubernetes(
    ref: ProfileRef,
    host: Host,
    library: ProfileLibrary,
    *,
    part: str,
    image: str,
    namespace: str,
    version: str,
    selector: list[str],
    tolerations: list[str],
) -> str:
    profile, _diagnostics = load_checked(ref, host, library)
    k8s.version_tuple(version)  # checked whatever the part, so a typo is never silent
    if part == "node":
        return k8s.node_manifests(profile, image=image, namespace=namespace,
                                  selector=k8s.node_selector(selector),
                                  tolerate=k8s.tolerations(tolerations))  # fmt: skip
    if part == "pod":  # an example pod: the app's image, not tuner's
        return k8s.pod_manifest(profile, version, *([image] if image != k8s.DEFAULT_IMAGE else []))
    return k8s.kubelet_config(profile, version)
