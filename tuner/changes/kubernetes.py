"""Kubernetes manifests for a profile (``tuner export kubernetes``), in three parts:

- ``node``: what a cluster operator applies (``kubectl apply -f``): a Namespace, a ConfigMap with
  the flattened profile and a DaemonSet that runs tuner on every selected node. The pod is
  privileged, on the node's network (so that net.* keys are the node's), with only the three
  directories tuner writes, its state directory and /proc/sys of the node mounted. It applies
  the profile with ``--yes`` and then holds: its end never rolls back (a pod is deleted, evicted
  or rescheduled far more often than tuning should be undone; OpenShift's Node Tuning Operator
  learned this: OCPBUGS-13065). Undoing is a deliberate ``tuner rollback`` on the node.
- ``pod``: the ``securityContext.sysctls`` of a pod spec, for the keys a pod may set: those in a
  pod's own namespaces (network, IPC). Kubernetes calls some of them safe, each since a release
  (``rules.KUBERNETES_SAFE``); the rest need the kubelet's ``allowedUnsafeSysctls``. A global key
  (fs.*, vm.*, net.core.rmem_max ...) is the node's alone and is refused here, with the reason.
- ``kubelet``: the ``KubeletConfiguration`` that allows the pod part's unsafe keys.

Resource limits: a pod has no nofile setting of its own. Its containers inherit the container
runtime's (containerd.service's ``LimitNOFILE=``), which a profile sets at node level.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from tuner import __version__
from tuner.base.errors import TunerError
from tuner.changes.yamlout import Literal, dump
from tuner.knowledge import catalog, nofile
from tuner.knowledge.rules import KUBERNETES_SAFE
from tuner.profile.resolved import Profile
from tuner.profile.vendored import vendored_text

DEFAULT_VERSION = "1.35"  # the newest release the safe list was checked against, and its next
DEFAULT_NAMESPACE = "tuner-system"
DEFAULT_IMAGE = f"tuner-sysctl:{__version__}"  # built from the repository's Containerfile
PARTS = ("node", "pod", "kubelet")
HOST = "/host"  # where the node's directories are mounted in the pod
PROFILE_DIR = "/etc/tuner/profile"  # where the ConfigMap is mounted
MOUNTED = (  # (volume, the node's path) tuner writes or reads, and nothing else of the node
    ("sysctl-d", "/etc/sysctl.d"),
    ("limits-d", "/etc/security/limits.d"),
    ("systemd-system", "/etc/systemd/system"),
    ("state", "/var/lib/tuner"),
    ("proc-sys", "/proc/sys"),
)
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
ANNOTATION = "tuner.tunerops.io/profile-sha256"
RUNTIMES = ("containerd.service", "crio.service", "docker.service")  # what containers inherit


@dataclass(frozen=True)
class PodSysctls:
    """A profile's keys at pod level, for one Kubernetes release."""

    safe: tuple[tuple[str, str], ...]  # (key, value): allowed in every pod
    unsafe: tuple[tuple[str, str], ...]  # namespaced, but the kubelet must allow them
    refused: tuple[tuple[str, str], ...]  # (key, why): the node's alone


def version_tuple(text: str) -> tuple[int, int]:
    found = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not found:
        raise TunerError(f"--kubernetes-version {text!r}: expected MAJOR.MINOR, like 1.33")
    return int(found.group(1)), int(found.group(2))


def split(profile: Profile, version: str = DEFAULT_VERSION) -> PodSysctls:
    """Which of the profile's keys a pod may set on Kubernetes ``version``, and how."""
    target = version_tuple(version)
    safe, unsafe, refused = [], [], []
    for entry in profile.sysctl:
        name, value = entry.key.name, " ".join(entry.value.split())
        known = catalog.lookup(name)
        if known is None:
            refused.append((name, "not in tuner's catalog, so whether a pod's namespace holds "
                                  "it is unknown: set it on the node"))  # fmt: skip
        elif known.scope == "global":
            refused.append((name, "a global key: one value for the whole node, which no pod "
                                  "can set; the node part sets it"))  # fmt: skip
        elif name in KUBERNETES_SAFE and (
            KUBERNETES_SAFE[name] is None or version_tuple(str(KUBERNETES_SAFE[name])) <= target
        ):
            safe.append((name, value))
        else:
            unsafe.append((name, value))
    return PodSysctls(tuple(safe), tuple(unsafe), tuple(refused))


def dns_name(profile: Profile) -> str:
    """``tuner-NAME`` as a Kubernetes object name (lower case, '-', at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", f"tuner-{profile.name.lower()}").strip("-")[:63]
    return name.rstrip("-")


def node_selector(pairs: list[str]) -> dict[str, str]:
    """``key=value`` pairs (a node label each)."""
    found = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value) or (
                len(value) > 63):  # fmt: skip
            raise TunerError(f"--node-selector {pair!r}: expected a node label as KEY=VALUE")
        found[key] = value
    return found


def tolerations(given: list[str]) -> list[dict[str, str]]:
    """``all``, ``KEY``, ``KEY=VALUE``, each with an optional ``:EFFECT``."""
    found = []
    for text in given:
        spec, _, effect = text.partition(":")
        if effect and effect not in _EFFECTS:
            raise TunerError(f"--toleration {text!r}: the effect is one of {', '.join(_EFFECTS)}")
        if spec == "all":
            toleration = {"operator": "Exists"}
        else:
            key, eq, value = spec.partition("=")
            if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
                raise TunerError(f"--toleration {text!r}: expected all, KEY or KEY=VALUE, "
                                 "then :EFFECT if one")  # fmt: skip
            toleration = {"key": key, "operator": "Equal", "value": value} if eq else {
                "key": key, "operator": "Exists"}  # fmt: skip
        if effect:
            toleration["effect"] = effect
        found.append(toleration)
    return found


def _labels(profile: Profile) -> dict[str, str]:
    instance = re.sub(r"[^A-Za-z0-9_.-]", "-", profile.name)[:63].strip("-_.") or "profile"
    return {"app.kubernetes.io/name": "tuner", "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/managed-by": "tuner"}  # fmt: skip


def _header(profile: Profile, part: str, lines: list[str]) -> str:
    wrapped = [w for line in lines for w in textwrap.wrap(line, 96, subsequent_indent="  ")]
    said = "".join(f"# {line}\n" for line in wrapped)
    return f"# Generated by tuner {__version__} from profile {profile.name} ({part} part).\n{said}"


def _nofile_note(profile: Profile) -> list[str]:
    found = nofile.settings(profile)
    if not found:
        return []
    runtime = sorted({s.label for s in found if s.unit in RUNTIMES})
    if runtime:
        said = ", ".join(runtime)
        return [f"Containers get their nofile limit from the container runtime: {said} is "
                "written here (the runtime reads it when it restarts)."]  # fmt: skip
    return [
        "A pod has no nofile setting of its own: its containers inherit the container",
        "runtime's (containerd.service LimitNOFILE=). limits.d lines apply to logins on the",
        "node; to raise containers' limit, add services: {containerd.service: {LimitNOFILE:",
        "{value: N}}} to the profile and restart containerd on the nodes.",
    ]


def node_manifests(
    profile: Profile,
    *,
    image: str = DEFAULT_IMAGE,
    namespace: str = DEFAULT_NAMESPACE,
    selector: dict[str, str] | None = None,
    tolerate: list[dict[str, str]] | None = None,
) -> str:
    if not _DNS_LABEL.fullmatch(namespace) or len(namespace) > 63:
        raise TunerError(f"--namespace {namespace!r}: expected a DNS label (a-z, 0-9, -)")
    if not image or any(c.isspace() for c in image):
        raise TunerError(f"--image {image!r}: expected an image reference")
    name, labels = dns_name(profile), _labels(profile)
    text = vendored_text(profile)
    digest = hashlib.sha256(text.encode()).hexdigest()  # a new profile rolls the pods
    file_name = f"{profile.name}.yaml"
    command = (f"tuner apply {PROFILE_DIR}/{file_name} --yes --root {HOST} "
               f"--proc-sys {HOST}/proc/sys && exec sleep infinity")  # fmt: skip
    volumes: list[dict[str, Any]] = [
        {"name": "profile", "configMap": {"name": name}},
        *({"name": volume, "hostPath": {"path": path, "type": "Directory" if path == "/proc/sys"
                                        else "DirectoryOrCreate"}}
          for volume, path in MOUNTED),
    ]  # fmt: skip
    mounts = [{"name": "profile", "mountPath": PROFILE_DIR, "readOnly": True}] + [
        {"name": volume, "mountPath": f"{HOST}{path}"} for volume, path in MOUNTED
    ]
    pod: dict[str, Any] = {
        "hostNetwork": True,  # net.* keys are per network namespace: the node's, here
        "dnsPolicy": "ClusterFirstWithHostNet",
        "priorityClassName": "system-node-critical",
        "terminationGracePeriodSeconds": 5,
    }
    if selector:
        pod["nodeSelector"] = selector
    if tolerate:
        pod["tolerations"] = tolerate
    pod["containers"] = [{
        "name": "tuner",
        "image": image,
        "command": ["/bin/sh", "-c"],
        "args": [command],
        "securityContext": {"privileged": True},
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"},
                      "limits": {"memory": "256Mi"}},
        "volumeMounts": mounts,
    }]  # fmt: skip
    pod["volumes"] = volumes
    documents = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "data": {file_name: Literal(text)}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {
             "selector": {"matchLabels": labels},
             "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
             "template": {
                 "metadata": {"labels": labels, "annotations": {ANNOTATION: digest}},
                 "spec": pod,
             },
         }},
    ]  # fmt: skip
    header = _header(profile, "node", [
        "kubectl apply -f this file: a DaemonSet applies the profile on every selected node",
        f"(image {image}: build it from tuner's Containerfile). The pod then holds: its end",
        "never rolls back (OCPBUGS-13065). To undo on a node, before deleting the DaemonSet:",
        f"kubectl -n {namespace} exec POD -- tuner rollback --yes --root {HOST} "
        f"--proc-sys {HOST}/proc/sys",
        "Units with new Limit*= drop-ins read them when they next start (no daemon-reload from",
        "a pod).",
        *_nofile_note(profile),
    ])  # fmt: skip
    return header + "".join(f"---\n{dump(d)}" for d in documents)


def pod_manifest(
    profile: Profile, version: str = DEFAULT_VERSION, image: str = "your-app:latest"
) -> str:
    """An example pod whose ``securityContext.sysctls`` holds the keys a pod may set."""
    keys = split(profile, version)
    lines = [
        f"The keys a pod may set, for Kubernetes {version}: copy spec.securityContext.sysctls",
        "into your pods. Safe ones: " + (", ".join(k for k, _ in keys.safe) or "none") + ".",
        "Unsafe ones (each node's kubelet must allow them: --part kubelet): "
        + (", ".join(k for k, _ in keys.unsafe) or "none")
        + ".",
    ]
    if keys.refused:
        lines.append("Not at pod level (the node part sets them):")
        lines += [f"  {key}: {why}" for key, why in keys.refused]
    lines += ["LimitNOFILE and limits.d have no pod-level equivalent: containers inherit the",
              "container runtime's nofile limit (containerd.service LimitNOFILE=), set at node",
              "level."]  # fmt: skip
    sysctls = [{"name": k, "value": v} for k, v in (*keys.safe, *keys.unsafe)]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": f"{dns_name(profile)}-example", "labels": _labels(profile)},
           "spec": {"securityContext": {"sysctls": sysctls},
                    "containers": [{"name": "app", "image": image}]}}  # fmt: skip
    return _header(profile, "pod", lines) + f"---\n{dump(pod)}"


def kubelet_config(profile: Profile, version: str = DEFAULT_VERSION) -> str:
    """The kubelet setting that allows the profile's unsafe pod-level keys."""
    keys = split(profile, version)
    lines = ["Merge allowedUnsafeSysctls into each node's kubelet configuration file (or pass",
             "--allowed-unsafe-sysctls), then restart the kubelet."]  # fmt: skip
    config = {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
              "allowedUnsafeSysctls": [k for k, _ in keys.unsafe]}  # fmt: skip
    return _header(profile, "kubelet", lines) + f"---\n{dump(config)}"
