"""The operator's second pass (issue 23): each rough edge a new user met, driven as they met it,
on a fake host (a root and a /proc/sys tree under tmp_path)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO
from typer.testing import CliRunner

from tuner.app.workflow import agreed
from tuner.base.errors import Declined, TunerError
from tuner.cli.completer import TABLE
from tuner.cli.main import app
from tuner.machine.host import Host

runner = CliRunner()
LIBRARY_PHRASES = ["Input should", "Value error", "Traceback", "\t"]


def tuner(root: Path, proc_sys: Path | None, *args: str, **extra: object):  # type: ignore[no-untyped-def]
    where = ["--root", str(root)] + (["--proc-sys", str(proc_sys)] if proc_sys else [])
    result = runner.invoke(app, [*args, *where], **extra)  # type: ignore[arg-type]
    for phrase in LIBRARY_PHRASES:
        assert phrase not in result.output, (phrase, result.output)
    return result


def test_drift_shows_the_lines_not_two_hashes(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0
    managed = root / "etc/sysctl.d/99-tuner.conf"
    managed.write_text(managed.read_text().replace("net.ipv4.tcp_syncookies = 1\n", "")
                       + "net.core.somaxconn = 1234\n")  # fmt: skip
    status = tuner(root, proc_sys, "status")
    assert "/etc/sysctl.d/99-tuner.conf: changed since it was applied: 1 line added, 1 line " \
           "removed" in status.output  # fmt: skip
    assert "      + net.core.somaxconn = 1234\n" in status.output
    assert "      - net.ipv4.tcp_syncookies = 1\n" in status.output
    assert "sha256" not in status.output and not any(len(w) == 64 for w in status.output.split())
    full = tuner(root, proc_sys, "status", "--diff")
    assert "--- /etc/sysctl.d/99-tuner.conf (applied)" in full.output
    assert "+++ /etc/sysctl.d/99-tuner.conf (now)" in full.output
    assert "    +net.core.somaxconn = 1234" in full.output
    [found] = json.loads(tuner(root, proc_sys, "status", "--json").output)["drift"]
    assert (found["added"], found["removed"]) == (["net.core.somaxconn = 1234"],
                                                  ["net.ipv4.tcp_syncookies = 1"])  # fmt: skip


def test_rollback_lists_hand_edits_and_needs_force(root: Path, proc_sys: Path) -> None:
    assert tuner(root, proc_sys, "apply", "loadgen-client", "--yes").exit_code == 0
    managed = root / "etc/sysctl.d/99-tuner.conf"
    edited = managed.read_text() + "net.core.somaxconn = 1234\n"
    managed.write_text(edited)
    (proc_sys / "net/ipv4/ip_local_port_range").write_text("1025\t65000\n")
    refused = tuner(root, proc_sys, "rollback", "--yes")
    assert refused.exit_code == 1
    assert "Changed since, and discarded by this rollback:" in refused.output
    # values as tuner writes them, not with the kernel's tab (the journal kept "32768\t60999")
    assert "  ~ net.ipv4.ip_local_port_range: 1025 65000 -> 32768 60999\n" in refused.output
    assert "      + net.core.somaxconn = 1234" in refused.output
    assert "net.ipv4.ip_local_port_range: value is 1025 65000, expected 1024 65535" in (
        refused.output
    )
    assert "rollback would discard 2 changes made since generation 1 was applied" in (
        refused.stderr
    )
    assert "pass --force" in refused.stderr
    assert managed.read_text() == edited  # nothing was changed
    forced = tuner(root, proc_sys, "rollback", "--yes", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    body = json.loads(forced.output)
    assert {d.get("path") or d.get("key") for d in body["discarded"]} == {
        "/etc/sysctl.d/99-tuner.conf",
        "net.ipv4.ip_local_port_range",
    }
    assert {"key": "net.ipv4.ip_local_port_range", "action": "set", "from": "1025 65000",
            "to": "32768 60999"} in body["changes"]  # fmt: skip
    assert not managed.exists()


def test_rollback_previews_only_what_it_changes_here(root: Path, proc_sys: Path) -> None:
    """--to previews no file that is already gone."""
    dropin = root / "etc/systemd/system/haproxy.service.d/99-tuner.conf"
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0  # removes the drop-in
    assert not dropin.exists()
    preview = tuner(root, proc_sys, "rollback", "--to", "1")  # no terminal: it shows, then stops
    assert preview.exit_code == 1
    assert "haproxy.service.d" not in preview.output
    assert "  - /etc/sysctl.d/99-tuner.conf" in preview.output
    assert ("not a terminal, so not asking: pass --yes to roll back without confirmation; "
            "nothing was changed") in preview.stderr  # fmt: skip
    done = tuner(root, proc_sys, "rollback", "--to", "1", "--yes")
    assert done.exit_code == 0, done.output
    assert "Rolled back generations 2 and 1: recorded as generation 3." in done.output


def test_switching_profiles_leaves_no_empty_drop_in_directory(root: Path, proc_sys: Path) -> None:
    dropins = root / "etc/systemd/system/haproxy.service.d"
    assert tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes").exit_code == 0
    assert dropins.is_dir()
    switched = tuner(root, proc_sys, "apply", "base", "--yes")
    assert switched.exit_code == 0, switched.output
    assert not dropins.exists()
    assert tuner(root, proc_sys, "rollback", "--yes").exit_code == 0
    assert (dropins / "99-tuner.conf").is_file()  # the rollback makes it again
    # a drop-in directory tuner did not create stays
    other = root / "etc/systemd/system/node-backend@.service.d"
    assert tuner(root, proc_sys, "rollback", "--yes").exit_code == 0
    other.mkdir()
    assert tuner(root, proc_sys, "apply", "backend-server", "--yes").exit_code == 0
    assert tuner(root, proc_sys, "apply", "base", "--yes").exit_code == 0
    assert other.is_dir()


def test_host_mode_on_another_root_does_not_say_image(root: Path, proc_sys: Path) -> None:
    applied = tuner(root, proc_sys, "apply", "haproxy-2m-conns", "--yes")
    assert f"--root {root} is not this system's /: no daemon-reload" in applied.output
    assert "Image root" not in applied.output
    image = tuner(root, None, "rollback", "--yes")
    assert image.exit_code == 0
    assert "Image root: no daemon-reload" in image.stdout


def test_declining_is_not_an_error() -> None:
    class Says:
        def __init__(self, *, answer: bool | None) -> None:
            self.answer = answer

        def confirm(self, question: str) -> bool | None:
            return self.answer

    with pytest.raises(Declined, match=r"Nothing was changed\."):
        agreed(Says(answer=False), yes=False, question="Roll back?", verb="roll back")  # type: ignore[arg-type]
    with pytest.raises(TunerError, match="pass --yes to roll back without confirmation"):
        agreed(Says(answer=None), yes=False, question="Roll back?", verb="roll back")  # type: ignore[arg-type]
    agreed(Says(answer=True), yes=False, question="?", verb="apply")  # type: ignore[arg-type]


def test_declining_at_the_prompt_exits_0_quietly(
    root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tuner.cli.review.TerminalReview.confirm", lambda _self, _q: False)
    said = tuner(root, proc_sys, "apply", "base")
    assert said.exit_code == 0
    assert said.stdout.endswith("Nothing was changed.\n")
    assert "error" not in said.output
    assert not (root / "etc/sysctl.d/99-tuner.conf").exists()


def test_ctrl_c_while_starting_prints_no_traceback(tmp_path: Path) -> None:
    """A sweep of delays over the start (imports, parsing, planning): every one that lands in
    tuner's code ends with 130 and one line, never a traceback. (One that lands while the Python
    interpreter itself starts, before any of tuner runs, is Python's to report.)"""
    (tmp_path / "root").mkdir()
    seen = set()
    for delay in [step * 0.025 for step in range(1, 25)]:
        started = subprocess.Popen(
            [sys.executable, "-m", "tuner", "plan", "base", "--root", str(tmp_path / "root")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TUNER_NO_CACHE": "1"},
        )  # fmt: skip
        time.sleep(delay)
        started.send_signal(signal.SIGINT)
        _out, err = started.communicate(timeout=60)
        if "Traceback" in err:  # only where no line of tuner had run yet
            assert not re.search(r'File "[^"]*/tuner/', err), (delay, err)
            continue
        assert started.returncode in (0, 130), (delay, started.returncode, err)
        if started.returncode == 130:
            assert err.count("\n") == 1 and "interrupted by SIGINT" in err, err
            seen.add(err)
    assert seen  # the sweep did land inside a run


def test_capacity_without_intent_does_not_say_met(root: Path, proc_sys: Path) -> None:
    said = tuner(root, proc_sys, "capacity", "base")
    assert said.exit_code == 0
    assert "No intent declared, so nothing to meet" in said.output
    assert "Intent met" not in said.output


def test_explain_a_real_key_outside_the_catalog_and_site_setters(
    root: Path, proc_sys: Path
) -> None:
    (proc_sys / "kernel/core_pipe_limit").write_text("0\n")
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "edge.yaml").write_text("sysctl:\n  kernel.core_pipe_limit: {value: 4}\n"
                                    "  net.core.somaxconn: {value: 8192}\n")  # fmt: skip
    unknown = tuner(root, proc_sys, "explain", "kernel.core_pipe_limit")
    assert unknown.exit_code == 0, unknown.output
    assert unknown.output.splitlines()[0] == "kernel.core_pipe_limit (not in tuner's catalog)"
    assert "  live value: 0" in unknown.output
    assert "  set by profiles: edge (site: 4)" in unknown.output
    known = tuner(root, proc_sys, "explain", "net.core.somaxconn")
    assert "  set by profiles: edge (site: 8192), backend-server (65535)" in known.output
    missing = tuner(root, proc_sys, "explain", "kernel.no_such_thing")
    assert missing.exit_code == 1
    assert "and this kernel has no such key" in missing.stderr


def test_list_shows_site_profiles_first(root: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    for name in ("zz-last", "aa-first"):
        (site / f"{name}.yaml").write_text("description: x\n")
    names = [line.split()[0] for line in tuner(root, None, "list").output.splitlines()[1:]]
    assert names == ["aa-first", "zz-last", "backend-server", "base", "haproxy-2m-conns",
                     "loadgen-client"]  # fmt: skip


# --- --quiet, --json and --wait-lock everywhere ------------------------------------------------


def every_command() -> list[tuple[str, dict[str, object]]]:
    table = json.loads(TABLE.read_text())
    found = []
    for name, node in table["commands"].items():
        for sub, subnode in node.get("commands", {}).items():
            found.append((f"{name} {sub}", subnode))
        if "commands" not in node:
            found.append((name, node))
    return found


@pytest.mark.parametrize("command", [name for name, _ in every_command()])
def test_every_command_has_quiet_and_json(command: str) -> None:
    [options] = [node["options"] for name, node in every_command() if name == command]
    assert {"--quiet", "-q", "--json"} <= set(options), command  # type: ignore[call-overload]


def test_quiet_prints_nothing_on_stdout_and_keeps_the_exit_code(root: Path, proc_sys: Path) -> None:
    planned = tuner(root, proc_sys, "plan", "haproxy-2m-conns", "--quiet", "--detailed-exitcode")
    assert (planned.exit_code, planned.stdout) == (2, "")
    applied = tuner(root, proc_sys, "apply", "base", "--yes", "-q")
    assert (applied.exit_code, applied.stdout) == (0, "")
    assert (root / "etc/sysctl.d/99-tuner.conf").exists()
    asked = tuner(root, proc_sys, "rollback", "-q")  # nobody saw what would be undone: no prompt
    assert asked.exit_code == 1 and "pass --yes" in asked.stderr
    for args in (["status"], ["history"], ["list"], ["show", "base"], ["schema"],
                 ["completion", "bash"], ["explain", "fs.nr_open"], ["capacity", "base"],
                 ["export", "cloud-init", "base"], ["validate", "base"]):  # fmt: skip
        said = tuner(root, proc_sys if args[0] not in ("list", "show", "export") else None,
                     *args, "--quiet") if args[0] not in ("schema", "completion") else (
            runner.invoke(app, [*args, "--quiet"]))  # fmt: skip
        assert (said.exit_code, said.stdout) == (0, ""), (args, said.output)
    both = tuner(root, proc_sys, "status", "--quiet", "--json")
    assert json.loads(both.stdout)["applied"] == "base"  # a --json document is still printed


def test_json_everywhere(root: Path) -> None:
    schema = json.loads(runner.invoke(app, ["schema", "--json"]).stdout)
    assert schema["command"] == "schema" and schema["schema"]["type"] == "object"
    script = json.loads(runner.invoke(app, ["completion", "zsh", "--json"]).stdout)
    assert script["shell"] == "zsh" and "_TUNER_COMPLETE" in script["script"]
    exported = json.loads(tuner(root, None, "export", "cloud-init", "base", "--json").stdout)
    assert exported["document"].startswith("#cloud-config\n") and exported["mode"] == "files"


def test_wait_lock_waits_for_the_other_run(root: Path, proc_sys: Path) -> None:
    held = threading.Event()
    release = threading.Event()

    def other_run() -> None:
        with Host(root, proc_sys).lock():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=other_run)
    thread.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    waited = tuner(root, proc_sys, "apply", "base", "--yes", "--wait-lock", "20")
    assert waited.exit_code == 0, waited.output
    assert time.monotonic() - started >= 0.9
    thread.join()
    release.clear()
    held.clear()  # so that the wait below is for the second holder, not the first
    thread = threading.Thread(target=other_run)
    thread.start()
    held.wait(10)
    try:
        gave_up = tuner(root, proc_sys, "rollback", "--yes", "--wait-lock", "0.3")
    finally:
        release.set()
        thread.join()
    assert gave_up.exit_code == 1
    assert "another tuner run holds the lock" in gave_up.stderr
    assert "waited 0.3 s: nothing was changed" in gave_up.stderr


# --- every command of the README's table, as a newcomer would type it ---------------------------

PLACEHOLDERS = {  # what a newcomer puts in place of each name the table uses
    "PROFILE...": "base haproxy-2m-conns", "PROFILE": "base", "P": "base",
    "KEY|RULE-ID": "fs.nr_open", "N": "1", "KEEP": "5", "DIR": "{root}", "FILE": "{plan}",
    "NAME|DIR": "throughput-performance", "[FILE] NAME": "imported", "NAME": "imported",
    "bash|zsh|fish": "bash", "files|apply": "files", "node|pod|kubelet": "pod", "SPAN": "5min",
}  # fmt: skip
NO_ROOT = ("schema", "completion", "--version", "doctor")  # they take no --root


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    table = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    found = []
    for row in re.findall(r"^\| (`tuner.+?`(?:, `tuner.+?`)*) \|", table, re.MULTILINE):
        found += [c.replace("\\|", "|") for c in re.findall(r"`(tuner [^`]+)`", row)]
    return found


def concrete(template: str, root: Path, plan: Path) -> list[list[str]]:
    """The command with the names filled in: without its optional parts, then with each."""
    words = template
    for name in sorted(PLACEHOLDERS, key=len, reverse=True):
        words = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])",
                       PLACEHOLDERS[name].format(root=root, plan=plan), words)  # fmt: skip
    optional = re.findall(r"\[([^\[\]]*(?:\[[^\]]*\])?[^\[\]]*)\]", words)
    base = re.sub(r"\s*\[[^\[\]]*(?:\[[^\]]*\])?[^\[\]]*\]", "", words).split()[1:]
    variants = [base] + [base + part.replace("[", "").replace("]", "").split() for part in optional]
    return variants


def test_every_readme_command_runs_in_tuners_words(
    root: Path, proc_sys: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "saved.plan"
    assert tuner(root, proc_sys, "plan", "base", "--out", str(plan)).exit_code == 0
    commands = readme_commands()
    assert len(commands) >= 18
    ran = 0
    for template in commands:
        for args in concrete(template, root, plan):
            verb = args[0] if args else ""
            assert "-h" not in args
            help_page = runner.invoke(app, [verb, "-h"] if verb != "--version" else ["-h"])
            assert help_page.exit_code == 0, (template, help_page.output)
            if verb == "doctor":  # reads this machine's sockets: proven by the doctor scenes
                continue
            no_root = verb in NO_ROOT or args[:2] == ["export", "systemd-timer"]
            where = [] if no_root or "--root" in args else ["--root", str(root)]
            if verb in ("plan", "apply", "rollback", "status", "capacity", "explain", "validate",
                        "import") and "--tuned" not in args:  # fmt: skip
                where += ["--proc-sys", str(proc_sys)] if "--live" not in args else []
            if verb == "apply" and args[-1] == str(plan):
                continue  # the saved plan is applied in the next line of the table
            result = runner.invoke(app, [*args, *where], input="n\n")
            said = result.output
            assert result.exit_code in (0, 1, 2), (args, result.exit_code, said)
            for phrase in ("Traceback", "internal error", "Input should", "Value error",
                           "<str>", "<int>", "list[", "Possible options", "No such"):  # fmt: skip
                assert phrase not in said, (args, phrase, said)
            ran += 1
    assert ran >= 40
