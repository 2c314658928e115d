"""tuner export kubernetes: every manifest passes Kubernetes' own published schemas (the
kubernetes-validate package, offline, strict) for three minor releases, the newest it knows among
them; pod level never holds a global key; the unsafe keys and the KubeletConfiguration agree; and
the DaemonSet's command, run as the pod runs it on a fake node, applies the ConfigMap's profile
and never rolls back."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import REPO
from typer.testing import CliRunner

from tuner.changes import kubernetes as k8s
from tuner.cli.main import app
from tuner.knowledge import catalog
from tuner.knowledge.rules import KUBERNETES_SAFE

runner = CliRunner()
BUNDLED = ["backend-server", "base", "haproxy-2m-conns", "loadgen-client"]
NEWEST = kubernetes_validate.latest_version()
VERSIONS = sorted({"1.30.0", "1.33.0", NEWEST}, key=lambda v: tuple(map(int, v.split("."))))


def export(root: Path, *args: str) -> tuple[str, list[dict[str, Any]]]:
    result = runner.invoke(app, ["export", "kubernetes", *args, "--root", str(root)])
    assert result.exit_code == 0, result.output
    return result.stdout, [d for d in yaml.safe_load_all(result.stdout) if d is not None]


@pytest.mark.parametrize("profile", BUNDLED)
@pytest.mark.parametrize("part", ["node", "pod"])
def test_manifests_pass_the_kubernetes_schemas(profile: str, part: str, root: Path) -> None:
    _text, documents = export(root, profile, "--part", part, "--node-selector", "role=edge",
                              "--toleration", "all", "--toleration", "dedicated=proxy:NoSchedule")  # fmt: skip
    assert documents
    for version in VERSIONS:
        for document in documents:
            kubernetes_validate.validate(document, version, strict=True)  # raises when invalid


def test_the_validator_would_catch_a_broken_manifest(root: Path) -> None:
    _text, documents = export(root, "base")
    [daemonset] = [d for d in documents if d["kind"] == "DaemonSet"]
    daemonset["spec"]["template"]["spec"]["hostNetwork"] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, NEWEST, strict=True)
    daemonset["spec"]["template"]["spec"]["hostNetwork"] = True
    daemonset["spec"]["template"]["spec"]["hostNetwrok"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, NEWEST, strict=True)


@pytest.mark.parametrize("profile", BUNDLED)
@pytest.mark.parametrize("version", ["1.27", "1.29", "1.31", "1.32", k8s.DEFAULT_VERSION])
def test_pod_level_never_holds_a_global_key_and_agrees_with_the_kubelet(
    profile: str, version: str, root: Path
) -> None:
    text, [pod] = export(root, profile, "--part", "pod", "--kubernetes-version", version)
    sysctls = [s["name"] for s in pod["spec"]["securityContext"]["sysctls"]]
    for name in sysctls:
        entry = catalog.lookup(name)
        assert entry is not None and entry.scope != "global", name
    _text, [kubelet] = export(root, profile, "--part", "kubelet", "--kubernetes-version", version)
    assert kubelet["apiVersion"] == "kubelet.config.k8s.io/v1beta1"
    assert kubelet["kind"] == "KubeletConfiguration"
    assert set(kubelet) == {"apiVersion", "kind", "allowedUnsafeSysctls"}
    unsafe = kubelet["allowedUnsafeSysctls"]
    target = k8s.version_tuple(version)
    safe = [n for n in sysctls if n in KUBERNETES_SAFE and (
        KUBERNETES_SAFE[n] is None or k8s.version_tuple(str(KUBERNETES_SAFE[n])) <= target)]  # fmt: skip
    assert sorted(unsafe) == sorted(set(sysctls) - set(safe))  # the two lists agree
    said = re.search(r"Unsafe ones \(.*?\): (.*?)\.\n# (?:Not|LimitNOFILE)", text, re.DOTALL)
    assert said, text
    listed = " ".join(said.group(1).replace("\n#", " ").split()).split(", ")
    assert listed == (unsafe or ["none"])  # the comment says what the kubelet part allows


def test_safe_keys_follow_the_release(root: Path) -> None:
    """tcp_rmem became safe in 1.32: unsafe before, safe from then on."""
    _text, [old] = export(
        root, "haproxy-2m-conns", "--part", "kubelet", "--kubernetes-version", "1.31"
    )
    _text, [new] = export(
        root, "haproxy-2m-conns", "--part", "kubelet", "--kubernetes-version", "1.32"
    )
    assert "net.ipv4.tcp_rmem" in old["allowedUnsafeSysctls"]
    assert "net.ipv4.tcp_rmem" not in new["allowedUnsafeSysctls"]
    text, _docs = export(root, "haproxy-2m-conns", "--part", "pod")
    assert "fs.nr_open: a global key" in text  # refused at pod level, with the reason
    assert "LimitNOFILE and limits.d have no pod-level equivalent" in text


def test_the_daemonset_mounts_only_what_tuner_needs_and_never_rolls_back(root: Path) -> None:
    text, documents = export(root, "haproxy-2m-conns", "--image", "registry.example/tuner:1",
                             "--namespace", "tuning", "--node-selector", "role=proxy",
                             "--toleration", "dedicated=proxy:NoSchedule")  # fmt: skip
    kinds = [d["kind"] for d in documents]
    assert kinds == ["Namespace", "ConfigMap", "DaemonSet"]
    daemonset = documents[2]
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["nodeSelector"] == {"role": "proxy"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "proxy",
                                    "effect": "NoSchedule"}]  # fmt: skip
    paths = sorted(v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v)
    assert paths == ["/etc/security/limits.d", "/etc/sysctl.d", "/etc/systemd/system",
                     "/proc/sys", "/var/lib/tuner"]  # fmt: skip
    [container] = spec["containers"]
    assert container["image"] == "registry.example/tuner:1"
    assert container["securityContext"] == {"privileged": True}
    command = container["args"][0]
    assert "apply" in command and "--yes" in command and "rollback" not in command
    assert command.endswith("&& exec sleep infinity")  # the pod holds; its end undoes nothing
    assert "OCPBUGS-13065" in text
    assert "containerd.service LimitNOFILE" in text
    assert all(d["metadata"].get("namespace", "tuning") == "tuning" for d in documents)


def test_the_daemonsets_command_applies_the_configmaps_profile(root: Path, proc_sys: Path,
                                                               tmp_path: Path) -> None:  # fmt: skip
    """As the pod runs it: the ConfigMap's file mounted where the DaemonSet mounts it, the node's
    directories under /host (here, a fake node), then the command; a second start changes
    nothing (a restarted pod applies again: "No changes")."""
    _text, documents = export(root, "loadgen-client")
    config, daemonset = documents[1], documents[2]
    [(file_name, profile_text)] = config["data"].items()
    mounted = tmp_path / "profile"
    mounted.mkdir()
    (mounted / file_name).write_text(profile_text)
    command = daemonset["spec"]["template"]["spec"]["containers"][0]["args"][0]
    command = (command.replace(k8s.PROFILE_DIR, str(mounted))
               .replace(f"--proc-sys {k8s.HOST}/proc/sys", f"--proc-sys {proc_sys}")
               .replace(f"--root {k8s.HOST}", f"--root {root}")
               .replace("exec sleep infinity", "true")
               .replace("tuner ", f"{shlex.quote(sys.executable)} -m tuner ", 1))  # fmt: skip
    for _ in range(2):
        done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                              check=False)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    assert "No changes" in done.stdout
    assert (proc_sys / "net/ipv4/ip_local_port_range").read_text().split() == ["1024", "65535"]
    assert (root / "etc/security/limits.d/99-tuner.conf").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--node-selector", "no-equals"], "--node-selector 'no-equals': expected a node label"),
        (["--toleration", "key:Sometimes"], "the effect is one of NoSchedule"),
        (["--namespace", "Not_A_Label"], "--namespace 'Not_A_Label': expected a DNS label"),
        (["--kubernetes-version", "latest"], "--kubernetes-version 'latest': expected MAJOR.MINOR"),
        (["--part", "cluster"], "--part: 'cluster' is not node, pod or kubelet"),
    ],
)
def test_bad_options_are_refused_in_tuners_words(args: list[str], said: str, root: Path) -> None:
    result = runner.invoke(app, ["export", "kubernetes", "base", *args, "--root", str(root)])
    assert result.exit_code in (1, 64)
    assert said in result.output
    assert "Traceback" not in result.output


def test_the_containerfile_builds_tuner_from_the_wheel() -> None:
    text = (REPO / "Containerfile").read_text()
    assert "pip wheel --no-deps" in text and "tuner_sysctl-*.whl" in text
    assert 'ENTRYPOINT ["tuner"]' in text
    assert k8s.DEFAULT_IMAGE.startswith("tuner-sysctl:")


def test_a_container_runtime_limit_is_how_containers_get_nofile(root: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "k8s-node.yaml").write_text(
        "services:\n  containerd.service:\n    LimitNOFILE: {value: '1048576'}\n"
    )
    text, documents = export(root, "k8s-node")
    said = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "containerd.service LimitNOFILE=1048576 is written here" in said
    for version in VERSIONS:
        for document in documents:
            kubernetes_validate.validate(document, version, strict=True)
