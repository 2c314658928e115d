"""Golden images and first boot: vendoring, image roots, cloud-init, chroot detection."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, have, needs_sandbox
from sandbox import COVER_ETC, sandbox
from typer.testing import CliRunner

from tuner.changes.cloudinit import document
from tuner.changes.render import render_files
from tuner.cli.main import app
from tuner.machine.host import looks_like_chroot
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve
from tuner.profile.resolved import Profile

runner = CliRunner()
BUNDLED = ["backend-server", "base", "haproxy-2m-conns", "loadgen-client"]


def tuner(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def bundled(name: str) -> Profile:
    profile, problems = resolve(
        ProfileRef.parse(name), ProfileLibrary.for_root(Path("/nonexistent"))
    )
    assert profile is not None, problems
    return profile


def image(tmp_path: Path) -> Path:
    """An image-like tree: Debian's sysctl.conf link and a vendor file that sets a tuner key."""
    root = tmp_path / "image"
    for directory in ("etc/sysctl.d", "usr/lib/sysctl.d", "etc/security/limits.d", "var/lib"):
        (root / directory).mkdir(parents=True)
    (root / "etc/sysctl.conf").write_text("# /etc/sysctl.conf\n")
    (root / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")
    (root / "usr/lib/sysctl.d/50-vendor.conf").write_text(
        "net.core.somaxconn = 128\nnet.ipv4.ip_local_port_range = 32768 60999\n"
    )
    return root


def real_values(profile: Profile) -> dict[str, str]:
    values = {}
    for entry in profile.sysctl:
        path = Path("/proc/sys") / entry.key.path
        values[entry.key.name] = path.read_text() if path.exists() else "(absent)"
    return values


@pytest.mark.parametrize("name", BUNDLED)
def test_vendored_profile_is_the_same_profile(name: str, tmp_path: Path) -> None:
    root = image(tmp_path)
    result = tuner("vendor", name, "--root", str(root))
    assert result.exit_code == 0, result.output
    vendored_path = root / f"etc/tuner/profiles/{name}.yaml"
    assert result.output.startswith(f"vendored {name} -> {vendored_path} (sha256 ")
    vendored, problems = resolve(ProfileRef.parse(name), ProfileLibrary.for_root(root))
    assert vendored is not None
    assert vendored.path == vendored_path
    assert [p for p in problems if p.severity != "info"] == []
    original = bundled(name)
    assert render_files(vendored) == render_files(original)  # byte for byte the same files
    assert vendored.intent == original.intent or (vendored.intent and original.intent and
        vendored.intent.__dict__ | {"origin": None} == original.intent.__dict__ | {"origin": None})  # fmt: skip


def test_editing_a_vendored_profile_is_noticed(tmp_path: Path) -> None:
    root = image(tmp_path)
    assert tuner("vendor", "base", "--root", str(root)).exit_code == 0
    path = root / "etc/tuner/profiles/base.yaml"
    path.write_text(path.read_text().replace("value: '4096'", "value: '8192'"))
    result = tuner("validate", str(path), "--root", str(root))
    assert result.exit_code == 0
    assert (
        "vendored: warning: this vendored profile changed after `tuner vendor` wrote it"
        in result.output
    )


def test_vendor_refuses_invalid_profiles_and_writes_nothing(tmp_path: Path) -> None:
    root = image(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsysctl: {net.ipv4.tcp_tw_reuse: 7}\n")
    result = tuner("vendor", "base", str(bad), "--root", str(root))
    assert result.exit_code == 1
    assert not (root / "etc/tuner").exists()


@pytest.mark.skipif(not have("systemd-analyze"), reason="needs systemd-analyze")
def test_baked_image_wins_at_boot_and_the_running_kernel_is_untouched(tmp_path: Path) -> None:
    root = image(tmp_path)
    profile = bundled("haproxy-2m-conns")
    kernel_before = real_values(profile)
    assert tuner("vendor", "haproxy-2m-conns", "--root", str(root)).exit_code == 0
    applied = tuner("apply", "haproxy-2m-conns", "--root", str(root), "--yes")
    assert applied.exit_code == 0, applied.output
    assert "image mode" in applied.output
    again = tuner("plan", "haproxy-2m-conns", "--root", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == "No changes: the host already matches the profile."
    status = tuner("status", "--root", str(root), "--detailed-exitcode")
    assert status.exit_code == 0
    merged = subprocess.run(
        ["systemd-analyze", f"--root={root}", "cat-config", "sysctl.d"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    prefix = f"# {root}"
    order = [line.removeprefix(prefix) for line in merged.splitlines() if line.startswith(prefix)]
    assert "/usr/lib/sysctl.d/50-vendor.conf" in order
    assert "/etc/sysctl.d/99-tuner.conf" in order
    assert order.index("/etc/sysctl.d/99-tuner.conf") > order.index(
        "/usr/lib/sysctl.d/50-vendor.conf"
    )
    last = {}
    for line in merged.splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            last[key.strip()] = " ".join(value.split())
    assert last["net.core.somaxconn"] == "65535"  # tuner's, not the vendor's 128
    assert last["net.ipv4.ip_local_port_range"] == "1024 65535"
    assert real_values(profile) == kernel_before


needs_cloud_init = pytest.mark.skipif(
    not os.environ.get("CI") and not have("cloud-init"), reason="needs cloud-init (see .ci/run)"
)


def schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cloud-init", "schema", "--config-file", str(path)],
                          capture_output=True, text=True, check=False)  # fmt: skip


@needs_cloud_init
@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("mode", ["files", "apply"])
def test_cloud_init_documents_pass_the_real_schema(name: str, mode: str, tmp_path: Path) -> None:
    spec = ["--pip-spec", "https://pkgs.example.internal/tuner_sysctl-0.2.0-py3-none-any.whl"]
    result = tuner("export", "cloud-init", name, "--mode", mode, "--root", str(tmp_path), *spec)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("#cloud-config\n")
    path = tmp_path / "user-data.yaml"
    path.write_text(result.output)
    checked = schema(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Valid cloud-config" in checked.stdout


@needs_cloud_init
def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    text = tuner("export", "cloud-init", "base", "--root", str(tmp_path)).output.replace(
        "write_files:", "write_files: 5\nx:", 1
    )
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    assert schema(path).returncode != 0


def test_files_mode_writes_exactly_the_rendered_files_and_applies_them() -> None:
    profile = bundled("haproxy-2m-conns")
    config = yaml.safe_load(document(profile, "files"))
    written = {f["path"]: f["content"] for f in config["write_files"]}
    assert written == {str(p): t for p, t in render_files(profile).items()}
    assert {(f["owner"], f["permissions"]) for f in config["write_files"]} == {
        ("root:root", "0644")
    }
    assert config["runcmd"] == [
        ["systemctl", "restart", "systemd-sysctl.service"],
        ["systemctl", "daemon-reload"],
        ["systemctl", "try-restart", "--", "haproxy.service"],
    ]


def test_apply_mode_installs_tuner_and_applies_the_vendored_profile(tmp_path: Path) -> None:
    config = yaml.safe_load(
        document(bundled("loadgen-client"), "apply", "tuner @ https://example.invalid/t.whl")
    )
    [profile_file] = config["write_files"]
    assert profile_file["path"] == "/etc/tuner/profiles/loadgen-client.yaml"
    vendored = tmp_path / "loadgen-client.yaml"
    vendored.write_text(profile_file["content"])
    checked = tuner("validate", str(vendored), "--root", str(tmp_path))
    assert (checked.exit_code, "vendored" in checked.output) == (0, False)  # hash intact
    assert config["runcmd"] == [
        ["python3", "-m", "venv", "/opt/tuner"],
        ["/opt/tuner/bin/pip", "install", "--quiet", "tuner @ https://example.invalid/t.whl"],
        ["/opt/tuner/bin/tuner", "apply", "--yes", "loadgen-client"],
    ]


MOUNTED_AT_ROOT = (
    "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n24 22 0:5 / /proc rw - proc proc rw\n"
)
NOT_AT_ROOT = "24 22 0:5 / /proc rw - proc proc rw\n"


def test_chroot_signs(tmp_path: Path) -> None:
    # PID 1's root readable: it decides, whatever the mount table says
    assert looks_like_chroot(tmp_path, tmp_path, NOT_AT_ROOT) is None
    assert (
        looks_like_chroot(tmp_path, REPO, MOUNTED_AT_ROOT)
        == f"/ is not the root of PID 1 ({tmp_path})"
    )
    # not readable: the mount table decides
    missing = tmp_path / "missing"
    assert looks_like_chroot(missing, REPO, MOUNTED_AT_ROOT) is None
    assert (
        looks_like_chroot(missing, REPO, NOT_AT_ROOT)
        == "no filesystem is mounted at / (/proc/self/mountinfo)"
    )
    assert looks_like_chroot(missing, REPO, None) is None


@pytest.mark.sandbox
@needs_sandbox
def test_apply_inside_a_chroot_warns_before_writing(tmp_path: Path) -> None:
    profile = tmp_path / "netns.yaml"
    profile.write_text("name: netns\nsysctl:\n  net.core.somaxconn: 8192\n")
    chroot = tmp_path / "chroot"
    # The chroot sees the system's directories and wherever the checkout, the venv and the
    # interpreter really live (a CI clone can be anywhere), /tmp last; top-level links recreated.
    used = (REPO, sys.prefix, sys.base_prefix, sys.executable, tmp_path)
    needed = {"usr", "etc", "root", "var", "run", "proc", "sys", "dev", "tmp"}
    needed |= {Path(os.path.realpath(p)).parts[1] for p in used}
    top = sorted(Path("/").iterdir(), key=lambda p: p.name == "tmp")
    binds = [p.name for p in top if p.name in needed and p.is_dir() and not p.is_symlink()]
    links = [p.name for p in top if p.is_symlink()]
    python = shlex.quote(sys.executable)
    script = (
        COVER_ETC
        + "".join(f"mkdir -p $CH/{d} && mount --rbind /{d} $CH/{d}\n" for d in binds)
        + "".join(f"ln -s {shlex.quote(os.readlink(f'/{d}'))} $CH/{d}\n" for d in links)
        + f"rc=0; chroot $CH env PYTHONPATH={shlex.quote(str(REPO))} {python} -m tuner apply "
        + f"{shlex.quote(str(profile))} --yes > $WORK/out 2> $WORK/err || rc=$?\n"
        + "echo $rc > $WORK/rc\n"
        + "sysctl -n net.core.somaxconn > $WORK/value\n"
    )
    result = sandbox(f"WORK={shlex.quote(str(tmp_path))}\nCH={shlex.quote(str(chroot))}\n" + script)
    assert result.returncode == 0, result.stderr
    error = (tmp_path / "err").read_text()
    assert (tmp_path / "rc").read_text() == "0\n", error
    assert "tuner: warning: This looks like a chroot (" in error
    assert "pass --no-kernel" in error
    assert (tmp_path / "value").read_text() == "8192\n"  # it did write: in the sandbox's netns
    shutil.rmtree(chroot, ignore_errors=True)


def test_apply_mode_needs_to_be_told_what_to_install(tmp_path: Path) -> None:
    result = tuner("export", "cloud-init", "base", "--mode", "apply", "--root", str(tmp_path))
    assert result.exit_code == 1
    assert "pass --pip-spec" in result.stderr
    assert "pip wheel --no-deps -w dist ." in result.stderr
    assert "'tuner' is another project" in result.stderr
