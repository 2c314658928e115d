"""tuner export cloud-init | kubernetes: a profile as a #cloud-config document for first boot, or
as the manifests a Kubernetes cluster runs."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from tuner.app import export as exporting
from tuner.changes import kubernetes as k8s
from tuner.changes import metricsunits
from tuner.cli import report
from tuner.cli.group import TunerGroup
from tuner.cli.options import (
    HostOptions,
    JsonOpt,
    ProfileArg,
    QuietOpt,
    RootOpt,
    profile_ref,
    verb,
)
from tuner.machine.rootfs import write_outside

app = verb(cls=TunerGroup, no_args_is_help=True, help="Export a profile.")


@app.callback()
def _export() -> None:
    """Export a profile."""


def _document(text: str, about: dict[str, str], *, json: bool) -> int:
    """An exported document as it is, or with --json in the envelope, ``about`` it."""
    if json:
        report.emit_json("export", about | {"document": text})
    else:
        report.raw(text)
    return 0


class Mode(enum.StrEnum):
    files = "files"
    apply = "apply"


@app.command("cloud-init")
def cloud_init(
    profile: ProfileArg,
    *,
    mode: Annotated[
        Mode, typer.Option("--mode", help="files: write and apply the files; apply: run tuner.")
    ] = Mode.files,
    root: RootOpt = None,
    pip_spec: Annotated[
        str | None,
        typer.Option(
            "--pip-spec",
            metavar="SPEC",
            help="apply mode: what pip installs on the instance (a wheel URL, path or "
            "requirement on your index); required there.",
        ),
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Print a #cloud-config document that applies PROFILE at first boot."""
    where = HostOptions(root, None, kernel=False)
    text = exporting.cloud_init(
        profile_ref(profile), where.host(), where.library(), mode=mode.value, pip_spec=pip_spec
    )
    return _document(text, {"format": "cloud-init", "profile": profile, "mode": mode.value},
                     json=json)  # fmt: skip


class Part(enum.StrEnum):
    node = "node"
    pod = "pod"
    kubelet = "kubelet"


@app.command("kubernetes")
def kubernetes(
    profile: ProfileArg,
    *,
    part: Annotated[
        Part,
        typer.Option(
            "--part",
            help="node: Namespace, ConfigMap and DaemonSet (kubectl apply -f); pod: the "
            "securityContext.sysctls a pod may set; kubelet: the KubeletConfiguration that "
            "allows the unsafe ones.",
        ),
    ] = Part.node,
    image: Annotated[
        str,
        typer.Option(
            "--image",
            metavar="IMAGE",
            help="node: the image the DaemonSet runs (built from tuner's Containerfile); "
            "pod: the example container's.",
        ),
    ] = k8s.DEFAULT_IMAGE,
    namespace: Annotated[
        str, typer.Option("--namespace", metavar="NAME", help="node: the DaemonSet's namespace.")
    ] = k8s.DEFAULT_NAMESPACE,
    node_selector: Annotated[
        list[str] | None,
        typer.Option(
            "--node-selector",
            metavar="KEY=VALUE",
            help="node: run only on nodes with this label (repeatable).",
        ),
    ] = None,
    toleration: Annotated[
        list[str] | None,
        typer.Option(
            "--toleration",
            metavar="all|KEY[=VALUE][:EFFECT]",
            help="node: also run on nodes with this taint (repeatable).",
        ),
    ] = None,
    kubernetes_version: Annotated[
        str,
        typer.Option(
            "--kubernetes-version",
            metavar="X.Y",
            help="pod, kubelet: the release whose safe sysctls apply.",
        ),
    ] = k8s.DEFAULT_VERSION,
    root: RootOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Print Kubernetes manifests for PROFILE: a DaemonSet that tunes the nodes, or the pod-level
    sysctls and the kubelet setting they need."""
    where = HostOptions(root, None, kernel=False)
    text = exporting.kubernetes(
        profile_ref(profile), where.host(), where.library(), part=part.value, image=image,
        namespace=namespace, version=kubernetes_version, selector=node_selector or [],
        tolerations=toleration or [],
    )  # fmt: skip
    return _document(text, {"format": "kubernetes", "profile": profile, "part": part.value},
                     json=json)  # fmt: skip


@app.command("systemd-timer")
def systemd_timer(
    *,
    tuner: Annotated[
        str,
        typer.Option("--tuner", metavar="PATH", help="Where the tuner command is on the hosts."),
    ] = metricsunits.DEFAULT_TUNER,
    textfile_dir: Annotated[
        str,
        typer.Option(
            "--textfile-dir",
            metavar="DIR",
            help="node_exporter's textfile directory (--collector.textfile.directory).",
        ),
    ] = metricsunits.TEXTFILE_DIR,
    interval: Annotated[
        str,
        typer.Option("--interval", metavar="SPAN", help="How often: a systemd time span."),
    ] = metricsunits.DEFAULT_INTERVAL,
    doctor: Annotated[
        bool, typer.Option("--doctor", help="Also write doctor's metrics (tuner-doctor.prom).")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            metavar="DIR",
            help="Write the two unit files there (/etc/systemd/system, say) instead of printing.",
        ),
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Print a systemd service and timer that write tuner's Prometheus metrics (status, and with
    --doctor doctor) for node_exporter's textfile collector every few minutes."""
    files = metricsunits.units(tuner=tuner, directory=textfile_dir, interval=interval,
                               doctor=doctor)  # fmt: skip
    if out_dir is not None:
        for name, text in files.items():
            write_outside(out_dir / name, text.encode(), f"the unit {name}")
    if json:
        written = None if out_dir is None else str(out_dir)
        report.emit_json(
            "export", {"format": "systemd-timer", "files": files, "written_to": written}
        )
    elif out_dir is not None:
        names = " and ".join(files)
        report.out(f"Wrote {names} to {out_dir}. Then: systemctl daemon-reload && systemctl "
                   f"enable --now {metricsunits.UNIT}.timer")  # fmt: skip
    else:
        report.raw("".join(f"# ---- {name}\n{text}" for name, text in files.items()))
    return 0
