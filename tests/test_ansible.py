"""The Ansible collection (ansible_collections/tunerops/tuner) with the real engine: ansible-core
2.19 from its own virtualenv (.venv-ansible, made by .ci/run), running the example playbooks
against an image root and, inside a network and mount namespace, against the live kernel; and
ansible-test sanity and the module's unit tests."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import needs_sandbox
from sandbox import COVER_ETC, REPO, sandbox

from tuner import __version__

ANSIBLE = REPO / ".venv-ansible" / "bin"
COLLECTION = REPO / "ansible_collections" / "tunerops" / "tuner"
TUNER = Path(sys.executable).with_name("tuner")
MIN_TUNER_VERSION = re.search(
    r'MIN_TUNER_VERSION = "([^"]+)"',
    (COLLECTION / "plugins/module_utils/tuner_cli.py").read_text(),
).group(1)  # type: ignore[union-attr]

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and not (ANSIBLE / "ansible-playbook").exists(),
    reason="needs .venv-ansible (python3 -m venv .venv-ansible && "
    ".venv-ansible/bin/pip install 'ansible-core>=2.18,<2.20' pytest)",
)


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "ANSIBLE_"))}
    return env | {"ANSIBLE_COLLECTIONS_PATH": str(REPO), "ANSIBLE_NOCOLOR": "1",
                  "ANSIBLE_LOCAL_TEMP": str(home / "tmp"), "HOME": str(home),
                  "ANSIBLE_HOME": str(home / ".ansible")}  # fmt: skip


def playbook_command(name: str, *extra: str) -> list[str]:
    return [
        str(ANSIBLE / "ansible-playbook"), "-i", "localhost,", "-c", "local",
        "-e", f"ansible_python_interpreter={ANSIBLE / 'python'}", "-e", f"tuner_path={TUNER}",
        "-e", "tuner_become=false", f"tunerops.tuner.{name}", *extra,
    ]  # fmt: skip


def recap(output: str) -> dict[str, int]:
    found = re.search(r"localhost\s*:\s*(.*)", output.rsplit("PLAY RECAP", maxsplit=1)[-1])
    assert found, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found.group(1))}


def playbook(tmp_path: Path, name: str, *extra: str) -> tuple[dict[str, int], str]:
    result = subprocess.run(playbook_command(name, *extra), capture_output=True, text=True,
                            env=environment(tmp_path), check=False, timeout=300)  # fmt: skip
    return recap(result.stdout), result.stdout + result.stderr


def test_playbooks_against_an_image_root(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.mkdir()
    on_image = ("-e", f"tuner_root={image}", "-e", "tuner_profile=haproxy-2m-conns")
    counts, out = playbook(tmp_path, "roll_out", *on_image, "--check", "--diff")
    assert counts["changed"] == 1 and counts["failed"] == 0, out
    assert "+fs.nr_open = 8388608" in out  # the rendered file, shown as a diff
    assert "+haproxy.service" not in out
    assert not (image / "etc").exists()  # check mode changed nothing

    counts, out = playbook(tmp_path, "roll_out", *on_image, "--diff")
    assert counts["changed"] == 1 and counts["failed"] == 0, out
    assert "fs.nr_open = 8388608" in (image / "etc/sysctl.d/99-tuner.conf").read_text()
    counts, out = playbook(tmp_path, "roll_out", *on_image)
    assert counts["changed"] == 0 and counts["failed"] == 0, out  # idempotent
    counts, out = playbook(tmp_path, "roll_out", *on_image, "--check")
    assert counts["changed"] == 0, out

    counts, out = playbook(tmp_path, "drift", *on_image)
    assert counts["changed"] == 0 and counts["failed"] == 0, out
    assert "tuner drift: 0 of 1 hosts not as applied" in out, out
    limits = image / "etc/security/limits.d/99-tuner.conf"
    limits.write_text(limits.read_text() + "* hard nofile 1\n")
    counts, out = playbook(tmp_path, "drift", *on_image, "--check")
    assert counts["changed"] == 0 and counts["failed"] == 1, out  # a read-only query fails it
    assert "tuner drift: 1 of 1 hosts not as applied: localhost" in out, out
    assert "+ * hard nofile 1" in out and "sha256" not in out, out
    counts, out = playbook(tmp_path, "drift", *on_image, "-e", "tuner_fail_on_drift=false")
    assert counts["failed"] == 0 and "1 of 1 hosts not as applied" in out, out

    # a rollback that would discard the hand edit fails with tuner's list of it, changing nothing
    counts, out = playbook(tmp_path, "rollback", *on_image)
    assert counts["failed"] == 1 and "pass --force to discard them" in out, out
    assert (image / "etc/sysctl.d/99-tuner.conf").exists()
    counts, out = playbook(tmp_path, "rollback", *on_image, "-e", "tuner_force=true")
    assert counts["changed"] == 1 and counts["failed"] == 0, out
    assert not (image / "etc/sysctl.d/99-tuner.conf").exists()
    counts, out = playbook(tmp_path, "rollback", *on_image)
    assert counts["changed"] == 0 and counts["failed"] == 0, out  # idempotent by name
    counts, out = playbook(tmp_path, "rollback", *on_image)
    assert counts["changed"] == 0, out


def test_playbooks_require_the_profile_they_name(tmp_path: Path) -> None:
    for name in ("roll_out", "rollback"):
        counts, out = playbook(tmp_path, name, "-e", f"tuner_root={tmp_path}")
        assert counts["failed"] == 1, out
        assert "set tuner_profile" in out, out
        assert "haproxy-2m-conns" not in out  # no profile is chosen for the user


def test_warnings_reach_ansible_and_strict_stops_the_rollout(tmp_path: Path) -> None:
    """A key another sysctl.d file overrides at boot: the rollout warns (it would look green
    and not survive a reboot), and with tuner_strict it fails, changing nothing."""
    image = tmp_path / "image"
    (image / "etc/sysctl.d").mkdir(parents=True)
    (image / "etc/sysctl.d/zz-local.conf").write_text("net.core.somaxconn = 5\n")
    on_image = ("-e", f"tuner_root={image}", "-e", "tuner_profile=haproxy-2m-conns")
    counts, out = playbook(tmp_path, "roll_out", *on_image, "-e", "tuner_strict=true")
    assert counts["failed"] == 1, out
    assert "strict: the plan has" in out and "[boot-shadowed]" in out, out
    assert not (image / "etc/sysctl.d/99-tuner.conf").exists()
    counts, out = playbook(tmp_path, "roll_out", *on_image)
    assert counts["changed"] == 1 and counts["failed"] == 0, out
    assert "[WARNING]" in out and "[boot-shadowed]" in out, out


def test_the_built_collection_is_complete(tmp_path: Path) -> None:
    """What ansible-galaxy builds: the licence text, the changelog, links that lead somewhere,
    and the version tuner has (the modules refuse an older tuner)."""
    built = subprocess.run(
        [str(ANSIBLE / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
         str(COLLECTION)],
        capture_output=True, text=True, env=environment(tmp_path), check=False, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [archive] = tmp_path.glob("tunerops-tuner-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
        readme = tar.extractfile("README.md").read().decode()  # type: ignore[union-attr]
    assert {"COPYING", "CHANGELOG.rst", "changelogs/changelog.yaml", "meta/runtime.yml",
            "plugins/modules/status_info.py"} <= names  # fmt: skip
    info = manifest["collection_info"]
    assert info["version"] == __version__ == MIN_TUNER_VERSION
    for field in ("repository", "documentation", "homepage", "issues"):
        assert info[field] and info[field].startswith("https://"), field
    for target in re.findall(r"\]\(([^)]+)\)", readme):
        assert target.startswith("https://") or target in names, target


def test_a_tuner_error_fails_the_task_with_tuners_message(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.mkdir()
    counts, out = playbook(tmp_path, "roll_out", "-e", f"tuner_root={image}",
                           "-e", "tuner_profile=haproxy-2m-con", "--check")  # fmt: skip
    assert counts["failed"] == 1, out
    assert '"msg": "no profile named \'haproxy-2m-con\'' in out, out
    assert '"exit_reason": "error"' in out
    assert "Traceback" not in out and "JSON" not in out and "format_version" not in out


@pytest.mark.sandbox
@needs_sandbox
def test_playbook_on_the_live_kernel_in_a_namespace(tmp_path: Path) -> None:
    """loadgen-client has per-netns keys only: the real kernel, in a throwaway namespace."""
    env = environment(tmp_path)
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()
                      if k.startswith("ANSIBLE_") or k == "HOME")  # fmt: skip
    run = shlex.join(playbook_command("roll_out", "-e", "tuner_profile=loadgen-client"))
    (tmp_path / "work").mkdir()
    script = (
        f"WORK={shlex.quote(str(tmp_path / 'work'))}\n" + COVER_ETC + exports
        + f"{run} --check --diff > {tmp_path}/check.txt\n"
        + "sysctl -n net.ipv4.ip_local_port_range > " + f"{tmp_path}/before.txt\n"
        + f"{run} > {tmp_path}/apply.txt\n"
        + "sysctl -n net.ipv4.ip_local_port_range > " + f"{tmp_path}/after.txt\n"
        + f"{run} > {tmp_path}/again.txt\n"
    )  # fmt: skip
    result = sandbox(script, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    check = (tmp_path / "check.txt").read_text()
    assert recap(check)["changed"] == 1
    assert "live net.ipv4.ip_local_port_range" in check and "+1024 65535" in check, check
    assert (tmp_path / "before.txt").read_text().split() != ["1024", "65535"]
    assert recap((tmp_path / "apply.txt").read_text())["changed"] == 1
    assert (tmp_path / "after.txt").read_text().split() == ["1024", "65535"]
    assert recap((tmp_path / "again.txt").read_text())["changed"] == 0


def offline_get_pip(home: Path) -> None:
    """ansible-test bootstraps pip in its virtualenvs with a get-pip.py it downloads from a host
    this machine cannot reach; it uses a cached copy when there is one. The stand-in runs the pip
    that .venv-ansible already has (packages still come from the package index)."""
    found = re.search(r"pip='([\d.]+)'", next(
        (ANSIBLE.parent / "lib").glob("python3*/site-packages/ansible_test/_internal/"
                                      "python_requirements.py")).read_text())  # fmt: skip
    assert found, "ansible-test's pip version not found"
    pip_dir = next((ANSIBLE.parent / "lib").glob("python3*/site-packages"))
    cache = home / ".ansible/test/cache" / f"get_pip_{found.group(1).replace('.', '_')}.py"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(
        '"""Offline stand-in for get-pip.py: the pip already installed, no download."""\n'
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(pip_dir)!r})\n"
        'args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]\n'
        'sys.argv = ["pip", "install", "--upgrade", "--force-reinstall", *args]\n'
        'runpy.run_module("pip", run_name="__main__", alter_sys=True)\n'
    )


def test_ansible_test_sanity(tmp_path: Path) -> None:
    offline_get_pip(tmp_path)
    result = subprocess.run(
        [str(ANSIBLE / "ansible-test"), "sanity", "--python", "3.11", "--venv"],
        cwd=COLLECTION, capture_output=True, text=True, env=environment(tmp_path),
        check=False, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for test in ("validate-modules", "pep8", "compile", "import", "pylint", "yamllint",
                 "runtime-metadata", "changelog"):  # fmt: skip
        assert f'Running sanity test "{test}"' in result.stdout + result.stderr, test


def test_the_modules_unit_tests(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ANSIBLE / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", "tests/unit"],
        cwd=COLLECTION, capture_output=True, text=True, env=environment(tmp_path),
        check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b11 passed\b", result.stdout), result.stdout
