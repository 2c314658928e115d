"""Every door tuner reads through, tried as an attacker would: image roots (links, FIFOs,
devices, oversize files, a file where a directory goes), saved plans, the journal, names offered
to a shell, and the values and names that once crashed or were refused wrongly."""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEFAULT_PROC_SYS, write_proc_sys
from sandbox import REPO

ENV = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")} | {
    "PYTHONPATH": str(REPO)
}
PYTHON_NAMES = ("Traceback", "TypeError", "KeyError", "ValueError", "AttributeError", "dict[",
                "list[", "NoneType", "pydantic", "internal error")  # fmt: skip


def tuner(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuner", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, check=False, timeout=timeout)  # fmt: skip


def clean_error(result: subprocess.CompletedProcess[str]) -> str:
    """An exit 1 with tuner's own words: no Python class names, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    text = result.stdout + result.stderr
    for name in PYTHON_NAMES:
        assert name not in text, text
    return text


def image(tmp_path: Path) -> Path:
    base = tmp_path / "image"
    for folder in ("etc/sysctl.d", "etc/security/limits.d", "etc/systemd/system", "var/lib"):
        (base / folder).mkdir(parents=True)
    return base


# --- image roots ------------------------------------------------------------------------------


def test_a_state_directory_linked_out_of_the_image_stays_inside(tmp_path: Path) -> None:
    img, outside = image(tmp_path), tmp_path / "build-host-state"
    (img / "var/lib/tuner").symlink_to(outside)  # absolute: re-rooted, never the build host's
    result = tuner("apply", "base", "--root", str(img), "--yes")
    assert result.returncode == 0, result.stderr
    assert not outside.exists()
    assert (img / outside.relative_to("/") / "lock").is_file()
    assert (img / outside.relative_to("/") / "generations/000001.json").is_file()


def test_an_absolute_link_in_the_site_directory_resolves_inside_the_image(tmp_path: Path) -> None:
    img = image(tmp_path)
    site = img / "etc/tuner/profiles"
    site.mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.write_text("root: $y$j9T$build-host-hash\n")
    (site / "leak.yaml").symlink_to(secret)  # the build host's file, named absolutely
    (img / secret.relative_to("/")).parent.mkdir(parents=True)
    (img / secret.relative_to("/")).write_text("name: leak\nsysctl:\n  fs.nr_open: 2097152\n")
    result = tuner("validate", "leak", "--root", str(img))
    assert result.returncode == 0, result.stderr  # the image's own file, not the host's
    assert "build-host-hash" not in result.stdout + result.stderr


def test_a_file_that_is_no_profile_is_never_quoted(tmp_path: Path) -> None:
    img = image(tmp_path)
    site = img / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (img / "etc/shadow").write_text("root:$y$j9T$abc$hash:19000:0:99999:7:::\nbin:*:19000::::::\n")
    (site / "x.yaml").symlink_to("/etc/shadow")
    text = clean_error(tuner("validate", "x", "--root", str(img)))
    assert "not a tuner profile" in text
    assert "hash" not in text and "bin" not in text and "19000" not in text


@pytest.mark.parametrize("kind", ["fifo", "chardev", "oversize", "socket"])
def test_special_files_in_an_image_are_refused_promptly(tmp_path: Path, kind: str) -> None:
    img = image(tmp_path)
    path = img / "etc/sysctl.d/50-planted.conf"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        path.symlink_to("/dev/zero")  # re-rooted: make the image's own /dev/zero a device
        (img / "dev").mkdir()
        os.mknod(img / "dev/zero", 0o600 | 0o020000, os.makedev(1, 5))
    elif kind == "oversize":
        with path.open("wb") as handle:
            handle.truncate(300 * 1024 * 1024)  # sparse: 300 MB that cost nothing
    else:
        import socket

        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(path))
        listener.close()
    started = time.monotonic()
    result = tuner("plan", "base", "--root", str(img), timeout=30)
    assert time.monotonic() - started < 20
    text = clean_error(result)
    assert "/etc/sysctl.d/50-planted.conf" in text
    said = {"fifo": "FIFO", "chardev": "character device", "oversize": "more than",
            "socket": "socket"}[kind]  # fmt: skip
    assert said in text


def test_a_file_where_the_systemd_directory_goes_is_a_clear_error(tmp_path: Path) -> None:
    img = image(tmp_path)
    shutil.rmtree(img / "etc/systemd/system")
    (img / "etc/systemd/system").write_text("not a directory\n")
    assert tuner("plan", "haproxy-2m-conns", "--root", str(img)).returncode == 0
    text = clean_error(tuner("apply", "haproxy-2m-conns", "--root", str(img), "--yes"))
    assert "/etc/systemd/system" in text
    assert not (img / "etc/sysctl.d/99-tuner.conf").exists()  # nothing half-applied


def test_garbage_in_a_fake_proc_sys_is_no_crash(tmp_path: Path) -> None:
    img = image(tmp_path)
    proc = write_proc_sys(tmp_path / "proc_sys", DEFAULT_PROC_SYS)
    (proc / "fs/nr_open").write_bytes(b"\xff\xfe\x00garbage\n")
    (proc / "net/core/somaxconn").unlink()
    os.mkfifo(proc / "net/core/somaxconn")
    result = tuner("plan", "base", "--root", str(img), "--proc-sys", str(proc), timeout=30)
    assert result.returncode in (0, 1), result.stderr
    for name in PYTHON_NAMES:
        assert name not in result.stdout + result.stderr


# --- saved plans ------------------------------------------------------------------------------


def test_plan_out_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    img = image(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "plan.json").symlink_to(victim)
    text = clean_error(
        tuner("plan", "base", "--root", str(img), "--out", str(tmp_path / "plan.json"))
    )
    assert "symbolic link" in text
    assert victim.read_text() == "precious\n"
    stale_temp = tmp_path / ".plan.json.tuner-tmp"
    stale_temp.symlink_to(victim)  # a link where the temporary file goes is no help either
    (tmp_path / "plan.json").unlink()
    ok = tuner("plan", "base", "--root", str(img), "--out", str(tmp_path / "plan.json"))
    assert ok.returncode == 0, ok.stderr
    assert victim.read_text() == "precious\n"
    assert json.loads((tmp_path / "plan.json").read_text())["saved"] == "tuner saved plan"


def test_a_relative_root_is_stored_absolute_and_never_redirected(tmp_path: Path) -> None:
    img = image(tmp_path)
    planned = tuner("plan", "base", "--root", "image", "--out", "plan.json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    basis = json.loads((tmp_path / "plan.json").read_text())["basis"]
    assert basis["root"] == str(img)
    # from / without --root: the plan is for the image, and / is not it
    text = clean_error(tuner("apply", str(tmp_path / "plan.json"), cwd=Path("/")))
    assert f"--root {img}" in text and "nothing was changed" in text
    other = image(tmp_path / "other")
    text = clean_error(tuner("apply", str(tmp_path / "plan.json"), "--root", str(other)))
    assert not (other / "etc/sysctl.d/99-tuner.conf").exists()
    applied = tuner("apply", str(tmp_path / "plan.json"), "--root", str(img))
    assert applied.returncode == 0, applied.stderr


def test_a_parent_in_another_directory_is_part_of_the_basis(tmp_path: Path) -> None:
    """A chain of extends across directories: the site parent changing after the plan (here
    to a core_pattern that runs a program) makes the plan stale; it is never applied unseen."""
    img = image(tmp_path)
    site = img / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "site-base.yaml").write_text("name: site-base\nsysctl:\n  fs.nr_open: 2097152\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.yaml").write_text(
        "name: app\nextends: [site-base]\nsysctl:\n  net.core.somaxconn: 8192\n"
    )
    saved = tmp_path / "plan.json"
    assert (
        tuner("plan", str(work / "app.yaml"), "--root", str(img), "--out", str(saved)).returncode
        == 0
    )
    basis = json.loads(saved.read_text())["basis"]["profile_files"]
    assert str(site / "site-base.yaml") in basis and str(work / "app.yaml") in basis
    (site / "site-base.yaml").write_text(
        'name: site-base\nsysctl:\n  fs.nr_open: 2097152\n  kernel.core_pattern: "|/tmp/x %p"\n'
    )
    text = clean_error(tuner("apply", str(saved), "--root", str(img)))
    assert f"profile file {site / 'site-base.yaml'} changed since the plan" in text
    assert not (img / "etc/sysctl.d/99-tuner.conf").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["basis"].__setitem__("root", 7),
        lambda d: d["basis"].__setitem__("live", ["not", "a", "mapping"]),
        lambda d: d["basis"]["profile_files"].__setitem__("x", None),
        lambda d: d.__setitem__("pending", {"not": "a list"}),
        lambda d: d["pending"].append("text"),
        lambda d: d["basis"].__setitem__("root", "relative/path"),
        lambda d: d["basis"].__setitem__("kernel", "yes"),
        lambda d: d["basis"].pop("ref"),
        lambda d: d.__setitem__("format_version", [1]),
    ],
)
def test_a_damaged_saved_plan_is_a_clear_error(tmp_path: Path, damage: object) -> None:
    img = image(tmp_path)
    saved = tmp_path / "plan.json"
    assert tuner("plan", "base", "--root", str(img), "--out", str(saved)).returncode == 0
    document = json.loads(saved.read_text())
    damage(document)  # type: ignore[operator]
    saved.write_text(json.dumps(document))
    text = clean_error(tuner("apply", str(saved), "--root", str(img)))
    assert str(saved) in text
    assert not (img / "etc/sysctl.d/99-tuner.conf").exists()


def test_a_deeply_nested_or_huge_saved_plan_is_a_clear_error(tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text("[" * 200_000 + "]" * 200_000)
    assert "not a saved plan" in clean_error(tuner("apply", str(saved)))
    with saved.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    assert "not a saved plan" in clean_error(tuner("apply", str(saved)))


def test_a_flow_style_yaml_profile_is_a_profile(tmp_path: Path) -> None:
    img = image(tmp_path)
    path = tmp_path / "flow.yaml"
    path.write_text("{name: flow, sysctl: {fs.nr_open: 2097152}}\n")
    result = tuner("apply", str(path), "--root", str(img), "--yes")
    assert result.returncode == 0, result.stderr
    assert "fs.nr_open = 2097152" in (img / "etc/sysctl.d/99-tuner.conf").read_text()


# --- the journal ------------------------------------------------------------------------------


def _applied(tmp_path: Path) -> tuple[Path, Path]:
    img = image(tmp_path)
    for profile in ("base", "loadgen-client"):
        assert tuner("apply", profile, "--root", str(img), "--yes").returncode == 0
    return img, img / "var/lib/tuner/generations"


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.__setitem__("number", "1"),
        lambda d: d.__setitem__("files_before", []),
        lambda d: d["files_before"].__setitem__("/etc/shadow", None),  # rollback would write it
        lambda d: d.__setitem__("created_dirs", ["/root/.ssh"]),
        lambda d: d["sysctl_before"].__setitem__("fs.nr_open", "1\nkernel.core_pattern=|/x"),
        lambda d: d.__setitem__("status", "done"),
        lambda d: d.__setitem__("undoes", [True]),
        lambda d: d.__setitem__("extra", 1),
    ],
)
def test_a_damaged_generation_keeps_reads_working_and_names_the_way_out(
    tmp_path: Path, damage: object
) -> None:
    img, generations = _applied(tmp_path)
    entry = generations / "000001.json"
    document = json.loads(entry.read_text())
    damage(document)  # type: ignore[operator]
    entry.write_text(json.dumps(document))
    for command in (["status"], ["history"], ["plan", "base"]):
        result = tuner(*command, "--root", str(img))
        assert result.returncode == 0, (command, result.stderr)
        assert f"{entry} is damaged" in result.stdout + result.stderr
        assert "tuner history --quarantine 1" in result.stdout + result.stderr
    before = (img / "etc/sysctl.d/99-tuner.conf").read_bytes()
    for command in (["rollback", "--yes"], ["apply", "base", "--yes"]):
        text = clean_error(tuner(*command, "--root", str(img)))
        assert "tuner history --quarantine 1" in text
    assert (img / "etc/sysctl.d/99-tuner.conf").read_bytes() == before
    assert not (img / "etc/shadow").exists()
    moved = tuner("history", "--quarantine", "1", "--root", str(img))
    assert moved.returncode == 0, moved.stderr
    assert not entry.exists()
    assert len(list((img / "var/lib/tuner/quarantine").iterdir())) == 1
    assert tuner("rollback", "--yes", "--root", str(img)).returncode == 0


def test_an_entry_that_is_a_fifo_or_not_json_is_damaged_not_a_hang(tmp_path: Path) -> None:
    img, generations = _applied(tmp_path)
    os.mkfifo(generations / "000007.json")
    (generations / "000008.json").write_bytes(base64.b64encode(os.urandom(64)))
    result = tuner("history", "--root", str(img), timeout=30)
    assert result.returncode == 0, result.stderr
    assert "000007.json is damaged" in result.stdout and "000008.json is damaged" in result.stdout
    assert tuner("history", "--quarantine", "7", "--root", str(img)).returncode == 0
    assert tuner("history", "--quarantine", "000008.json", "--root", str(img)).returncode == 0
    assert "damaged" not in tuner("status", "--root", str(img)).stdout
    text = clean_error(tuner("history", "--quarantine", "2", "--root", str(img)))
    assert "no damaged journal entry '2'" in text  # an intact one stays where it is


# --- drift that can be repaired ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["chmod", "chown"])
def test_mode_and_owner_drift_is_planned_and_repaired(tmp_path: Path, how: str) -> None:
    img = image(tmp_path)
    assert tuner("apply", "base", "--root", str(img), "--yes").returncode == 0
    path = img / "etc/sysctl.d/99-tuner.conf"
    if how == "chmod":
        path.chmod(0o600)
        note = "mode 600 -> 644"
    else:
        os.chown(path, 65534, 65534)
        note = f"owner 65534:65534 -> {os.geteuid()}:{os.getegid()}"
    assert tuner("status", "--root", str(img), "--detailed-exitcode").returncode == 2
    planned = tuner("plan", "base", "--root", str(img), "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout
    assert f"/etc/sysctl.d/99-tuner.conf (update, content unchanged; {note})" in planned.stdout
    assert tuner("apply", "base", "--root", str(img), "--yes").returncode == 0
    info = path.stat()
    assert (info.st_mode & 0o777, info.st_uid) == (0o644, os.geteuid())
    assert tuner("status", "--root", str(img), "--detailed-exitcode").returncode == 0
    assert tuner("plan", "base", "--root", str(img), "--detailed-exitcode").returncode == 0


# --- values and names -------------------------------------------------------------------------


def test_nice_and_priority_take_minus_one(tmp_path: Path) -> None:
    img = image(tmp_path)
    path = tmp_path / "prio.yaml"
    path.write_text(
        "name: prio\nlimits:\n"
        "  - {domain: '@audio', type: '-', item: priority, value: -1}\n"
        "  - {domain: '@audio', type: '-', item: nice, value: -1}\n"
        "  - {domain: '@audio', type: '-', item: nofile, value: -1}\n"
    )
    assert tuner("apply", str(path), "--root", str(img), "--yes").returncode == 0
    text = (img / "etc/security/limits.d/99-tuner.conf").read_text()
    assert "@audio           -     priority     -1" in text
    assert "@audio           -     nice         -1" in text
    assert "@audio           -     nofile       unlimited" in text


def test_a_unit_name_too_long_for_its_drop_in_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(f"name: long\nservices:\n  {'a' * 246}.service: {{LimitNOFILE: 1000}}\n")
    text = clean_error(tuner("validate", str(path)))
    assert "long.yaml:3:3" in text and "at most 253" in text


def test_a_unit_that_looks_like_an_option_reaches_systemctl_after_double_dash() -> None:
    from tuner.app import units

    calls: list[tuple[str, ...]] = []

    class Recorder:
        def booted(self) -> bool:
            return True

        def systemctl(self, *args: str) -> None:
            calls.append(args)

    class LiveHost:
        image_mode = False
        is_live_root = True
        systemd = Recorder()

    units.reload(LiveHost(), ["-Hevil.service"], restart=True, done="done")  # type: ignore[arg-type]
    assert calls == [("daemon-reload",), ("try-restart", "--", "-Hevil.service")]


def test_a_profile_padded_past_4_mib_with_multibyte_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    padding = "# " + "é" * (2 * 1024 * 1024 + 10) + "\n"  # 4 MiB of bytes, 2 Mi characters
    path.write_text(f"name: big\n{padding}sysctl:\n  fs.nr_open: 10240\n", encoding="utf-8")
    text = clean_error(tuner("validate", str(path)))
    assert "at most 4 MiB" in text


def test_the_expansion_budget_names_aliases_only_when_there_are_some(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: plain\nsysctl:\n" + "".join(
        f"  a.k{i}: 1\n" for i in range(100_001)))  # fmt: skip
    started = time.monotonic()
    text = clean_error(tuner("validate", str(plain), timeout=120))
    assert time.monotonic() - started < 30  # refused for what it is, not checked key by key
    assert "more than 100,000 values" in text and "alias" not in text
    bomb = tmp_path / "bomb.yaml"
    layers = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
        f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 8)
    ]  # fmt: skip
    bomb.write_text("name: bomb\n" + "\n".join(layers) + "\n")
    assert "aliases or merge keys" in clean_error(tuner("validate", str(bomb)))


def test_extends_too_wide_is_refused_before_any_parent_is_read(tmp_path: Path) -> None:
    wide = tmp_path / "wide.yaml"
    names = ", ".join(f"p{i}" for i in range(20_000))
    wide.write_text(f"name: wide\nextends: [{names}]\n")
    started = time.monotonic()
    text = clean_error(tuner("validate", str(wide)))
    assert time.monotonic() - started < 30
    assert "extends names 20,000 profiles; at most 1000" in text


# --- completion never evaluates a name --------------------------------------------------------

# typer escapes $ as \$ for zsh, so a backslash before it (PWNED8) turns the escape around
HOSTILE = ["$(touch PWNED1)", "`touch PWNED2`", "x;touch PWNED3", "y'$(touch PWNED4)'",
           'z"$(touch PWNED5)"', "-- $(touch PWNED7)",
           "\\$(touch PWNED8)"]  # fmt: skip
# names that break the shell's own parsing of the candidates (so that nothing at all runs)
UNPARSEABLE = ["\\`touch PWNED9`", "w\n$(touch PWNED6)"]
SHELLS = {
    "bash": (["bash", "--norc", "--noprofile", "-i"], "source {script}"),
    "zsh": (["zsh", "-f", "-i"], "autoload -U compinit && compinit -u && source {script}"),
    "fish": (["fish", "--no-config", "-i"], "source {script}"),
}


def test_only_profile_names_are_ever_offered(tmp_path: Path) -> None:
    from tuner.profile.library import ProfileLibrary

    img = image(tmp_path)
    site = img / "etc/tuner/profiles"
    site.mkdir(parents=True)
    for name in [*HOSTILE, *UNPARSEABLE, "tab\there", "é", "-lead", ".hidden"]:
        (site / f"{name}.yaml").write_text("name: x\n")
    (site / "fine_name-2.0.yaml").write_text("name: fine_name-2.0\n")
    names = [e.name for e in ProfileLibrary.for_root(img).entries()]
    assert names == ["fine_name-2.0", "backend-server", "base", "haproxy-2m-conns",
                     "loadgen-client"]  # fmt: skip


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_hostile_profile_names_never_run_in_a_real_shell(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None or shutil.which("tmux") is None:
        pytest.skip(f"needs {shell} and tmux")
    img = image(tmp_path)
    site = img / "etc/tuner/profiles"
    site.mkdir(parents=True)
    for name in HOSTILE:
        (site / f"{name}.yaml").write_text("name: x\n")
    (site / "gentle-one.yaml").write_text("name: gentle-one\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tuner").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tuner "$@"\n')
    (bin_dir / "tuner").chmod(0o755)
    script = tmp_path / f"complete.{shell}"
    script.write_text(tuner("completion", shell).stdout)
    work = tmp_path / "work"
    work.mkdir()
    command, setup = SHELLS[shell]
    socket = f"tuner-test-{os.getpid()}-{shell}"
    env = ENV | {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path)}

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True,
                              env=env, check=False, cwd=work).stdout  # fmt: skip

    tmux("new-session", "-d", "-x", "200", "-y", "50", *command)
    try:
        time.sleep(1)
        tmux("send-keys", setup.format(script=script), "Enter")
        time.sleep(1)
        for prefix in ("", "g", "$", "`", "x", "-"):
            tmux("send-keys", f"tuner plan --root {img} {prefix}", "Tab", "Tab")
            time.sleep(3)
            tmux("send-keys", "C-c")
            time.sleep(0.5)
        tmux("send-keys", f"tuner plan --root {img} gen", "Tab")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "gentle-one" not in tmux("capture-pane", "-p"):
            time.sleep(0.5)
        screen = tmux("capture-pane", "-p")
    finally:
        tmux("kill-server")
    assert "gentle-one" in screen, screen  # completion works, for the names it may offer
    assert sorted(p.name for p in work.iterdir()) == []
    assert not list(tmp_path.glob("**/PWNED*"))
