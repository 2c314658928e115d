"""The operator's touch points: saved plans and their staleness refusals, the editor schema, the
compact plan, typo suggestions, help and shell completion, and limits that cannot take effect."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import needs_sandbox
from sandbox import COVER_ETC, REPO, sandbox

from tuner.app.schema import profile_schema

ENV = {k: v for k, v in os.environ.items() if not k.startswith("TUNER_")} | {
    "PYTHONPATH": str(REPO)
}


def tuner(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuner", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, check=False)  # fmt: skip


# --- saved plans ------------------------------------------------------------------------------


def test_saved_plan_round_trip_on_an_image_root(tmp_path: Path) -> None:
    image, saved = tmp_path / "image", tmp_path / "plan.json"
    image.mkdir()
    planned = tuner("plan", "haproxy-2m-conns", "--root", str(image), "--out", str(saved))
    assert planned.returncode == 0, planned.stderr
    assert f"To apply exactly this plan: tuner apply {saved} --root {image}" in planned.stdout
    assert not (image / "etc").exists()
    body = json.loads(saved.read_text())
    assert body["command"] == "plan" and body["basis"]["root"] == str(image)
    elsewhere = tuner("apply", str(saved))  # without --root: / is meant, and the plan is not for /
    assert elsewhere.returncode == 1
    assert f"A plan applies only where it was made: tuner apply {saved} --root {image}" in (
        elsewhere.stderr
    )
    applied = tuner("apply", str(saved), "--root", str(image))
    assert applied.returncode == 0, applied.stderr
    assert "fs.nr_open = 8388608" in (image / "etc/sysctl.d/99-tuner.conf").read_text()
    # the same plan again: its own changes are in effect, so it is done, not stale
    again = tuner("apply", str(saved), "--root", str(image))
    assert again.returncode == 0, again.stderr
    assert again.stdout == (
        "This plan is applied already (generation 1, haproxy-2m-conns): nothing was changed.\n"
    )
    # once something it set has moved, the plan is stale after all
    (image / "etc/sysctl.d/99-tuner.conf").write_text("# edited by hand\n")
    moved = tuner("apply", str(saved), "--root", str(image))
    assert moved.returncode == 1
    assert "the saved plan is stale, nothing was changed" in moved.stderr
    assert "/etc/sysctl.d/99-tuner.conf was created since the plan" in moved.stderr


def test_a_changed_file_or_profile_makes_a_saved_plan_stale(tmp_path: Path) -> None:
    image, saved = tmp_path / "image", tmp_path / "plan.json"
    site = image / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "mine.yaml").write_text("name: mine\nextends: [base]\nsysctl:\n  fs.nr_open: 2097152\n")
    (image / "etc/sysctl.d").mkdir()
    (image / "etc/sysctl.d/99-tuner.conf").write_text("fs.nr_open = 1\n")
    assert tuner("plan", "mine", "--root", str(image), "--out", str(saved)).returncode == 0
    (image / "etc/sysctl.d/99-tuner.conf").write_text("fs.nr_open = 2\n")
    stale = tuner("apply", str(saved), "--root", str(image))
    assert stale.returncode == 1
    assert "/etc/sysctl.d/99-tuner.conf changed since the plan" in stale.stderr
    (image / "etc/sysctl.d/99-tuner.conf").write_text("fs.nr_open = 1\n")
    (site / "mine.yaml").write_text("name: mine\nextends: [base]\nsysctl:\n  fs.nr_open: 4194304\n")
    stale = tuner("apply", str(saved), "--root", str(image))
    assert stale.returncode == 1
    assert f"profile file {site / 'mine.yaml'} changed since the plan" in stale.stderr
    assert (image / "etc/sysctl.d/99-tuner.conf").read_text() == "fs.nr_open = 1\n"  # untouched
    not_a_plan = tmp_path / "other.json"
    not_a_plan.write_text('{"format_version": 1}')
    refused = tuner("apply", str(not_a_plan))
    assert refused.returncode == 1 and "not a saved plan" in refused.stderr


@pytest.mark.sandbox
@needs_sandbox
def test_saved_plan_on_the_live_kernel_and_a_moved_live_value(tmp_path: Path) -> None:
    """loadgen-client (per-netns keys only) in a throwaway namespace: a value changed after the
    plan is named; a fresh plan applies exactly."""
    work = tmp_path / "work"
    work.mkdir()
    run = f"{shlex.quote(sys.executable)} -m tuner"
    script = (
        f"WORK={shlex.quote(str(work))}\n" + COVER_ETC
        + f"cd {shlex.quote(str(tmp_path))}\n"
        + f"{run} plan loadgen-client --out first.json > /dev/null\n"
        + "sysctl -q -w net.core.somaxconn=8192\n"
        + f"{run} apply first.json 2> stale.txt && exit 9 || echo refused=$?\n"
        + f"{run} plan loadgen-client --out second.json > /dev/null\n"
        + f"{run} apply second.json > applied.txt\n"
        + "sysctl -n net.ipv4.ip_local_port_range net.core.somaxconn\n"
    )  # fmt: skip
    result = sandbox(script)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "refused=1"
    stale = (tmp_path / "stale.txt").read_text()
    assert "live net.core.somaxconn is 8192, the plan saw 4096" in stale
    assert lines[1].split() == ["1024", "65535"] and lines[2] == "4096"


# --- the schema -------------------------------------------------------------------------------


def test_schema_validates_every_bundled_profile_and_rejects_broken_ones() -> None:
    schema = profile_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((REPO / "profiles").glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path, [e.message for e in errors])
    broken = {
        "name": "x",
        "sysctl": {"net.ipv4.tcp_tw_reuse": 3, "fs.file-max": -5},
        "limits": [{"domain": "*", "type": "sometimes", "item": "nofile", "value": 1}],
        "services": {"haproxy.service": {"LimitNOFILES": 1}},
        "extra": True,
    }
    messages = sorted(e.json_path for e in validator.iter_errors(broken))
    assert messages == ["$", "$.limits[0].type", "$.services['haproxy.service']",
                        "$.sysctl['fs.file-max']", "$.sysctl['net.ipv4.tcp_tw_reuse']"]  # fmt: skip


def test_shipped_schema_is_what_tuner_schema_prints() -> None:
    printed = tuner("schema")
    assert printed.returncode == 0
    shipped = (REPO / "tuner/data/profile.schema.json").read_text()
    assert json.loads(printed.stdout) == json.loads(shipped), "regenerate: tuner schema > ..."
    assert json.loads(shipped)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    described = json.loads(shipped)["properties"]["sysctl"]["properties"]["net.core.somaxconn"]
    assert "Unit: connections." in described["description"]


# --- the plan as people read it ---------------------------------------------------------------


def test_compact_plan_fits_a_screen_and_says_what_to_run_next(tmp_path: Path) -> None:
    plan = tuner("plan", "haproxy-2m-conns", cwd=Path("/"))
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert len(lines) < 40, plan.stdout
    assert lines[0] == "Plan: haproxy-2m-conns (bundled, extends base)"
    assert "(create, +80 lines)" in plan.stdout or "(update," in plan.stdout
    assert lines[-1].startswith("Nothing was changed. To apply: tuner apply haproxy-2m-conns.")
    assert "(s)" not in plan.stdout
    full = tuner("plan", "haproxy-2m-conns", "--diff", cwd=Path("/"))
    assert len(full.stdout.splitlines()) > 100 and "+fs.nr_open = 8388608" in full.stdout
    image = tmp_path / "image"
    image.mkdir()
    imaged = tuner("plan", "base", "--root", str(image))
    assert f"To apply: tuner apply base --root {image}." in imaged.stdout


def test_a_mistyped_profile_gets_the_close_match() -> None:
    typo = tuner("plan", "haproxy-2m-con")
    assert typo.returncode == 1
    assert "did you mean 'haproxy-2m-conns'?" in typo.stderr


def test_help_short_option_bare_tuner_and_metavars() -> None:
    bare = tuner()
    assert bare.returncode == 0 and "Usage: tuner" in bare.stdout
    short = tuner("plan", "-h")
    assert short.returncode == 0
    assert "Usage: tuner plan [OPTIONS] PROFILE\n" in short.stdout
    assert "--proc-sys DIR" in short.stdout
    assert "<path>" not in short.stdout and "{profile}" not in short.stdout
    validate = tuner("validate", "-h")
    assert "Usage: tuner validate [OPTIONS] PROFILE...\n" in validate.stdout
    assert "{profiles}" not in validate.stdout
    described = {tuner(c, "-h").stdout.split("--detailed-exitcode")[1].split("--")[0].split()[0]
                 for c in ("plan", "status", "doctor")}  # fmt: skip
    assert len(described) == 1  # one description for one option


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_profile_names_keys_and_commands(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tuner").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m tuner "$@"\n')
    (bin_dir / "tuner").chmod(0o755)
    script = tuner("completion", "bash").stdout
    (tmp_path / "complete.bash").write_text(script)
    probe = (
        f"source {tmp_path / 'complete.bash'}\n"
        "ask() { COMP_WORDS=($1); COMP_CWORD=$2; _tuner_completion tuner; "
        'echo "${COMPREPLY[*]}"; }\n'
        "ask 'tuner plan hap' 2\nask 'tuner explain net.core.somax' 2\nask 'tuner sta' 1\n"
        "ask 'tuner apply load' 2\nask 'tuner imp' 1\n"
        "ask 'tuner import --tuned throughput-p' 3\n"
    )
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=False,
                            env=ENV | {"PATH": f"{bin_dir}:{os.environ['PATH']}"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["haproxy-2m-conns", "net.core.somaxconn", "status",
                                          "loadgen-client", "import",
                                          "throughput-performance"]  # fmt: skip
    for shell in ("zsh", "fish"):
        assert "_TUNER_COMPLETE" in tuner("completion", shell).stdout


# --- limits that cannot take effect -----------------------------------------------------------


def test_status_warns_when_applied_limits_cannot_take_effect(tmp_path: Path) -> None:
    """A fake /proc whose bounding set lacks CAP_SYS_RESOURCE and whose PID 1 has a hard
    nofile of 20000: loadgen-client's 262144 cannot take effect, and status says so."""
    root, proc = tmp_path / "root", tmp_path / "proc"
    root.mkdir()
    for key, value in {"net/ipv4/ip_local_port_range": "32768 60999",
                       "net/ipv4/tcp_tw_reuse": "2", "net/ipv4/tcp_timestamps": "1",
                       "net/ipv4/tcp_syncookies": "1", "net/core/somaxconn": "4096",
                       "kernel/osrelease": "6.1.0"}.items():  # fmt: skip
        (proc / "sys" / key).parent.mkdir(parents=True, exist_ok=True)
        (proc / "sys" / key).write_text(value + "\n")
    (proc / "self").mkdir()
    (proc / "self/status").write_text("CapBnd:\t000001fffeffffff\n")
    (proc / "1").mkdir()
    (proc / "1/limits").write_text("Max open files            1024         20000        files\n")
    where = ("--root", str(root), "--proc-sys", str(proc / "sys"))
    planned = tuner("plan", "loadgen-client", *where)
    assert "nofile 262144 for * cannot take effect here: a new session gets at most 20,000" in (
        planned.stdout
    )
    # each finding: the profile's file name in the library, its rule id; the reason they share
    # (this machine's cap), once, with the lines it covers
    findings = planned.stdout.split("Findings:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    capped = [line for line in findings if line.endswith("[limit-capped]")]
    assert [line.split(": ", 1)[0] for line in capped] == [
        "loadgen-client.yaml:33:12 (bundled)",
        "loadgen-client.yaml:42:12 (bundled)",
    ]
    assert all(line.endswith("]") for line in findings if not line.startswith("  ["))
    reasons = [line for line in findings if line.startswith("  [limit-capped] lines 33 and 42: ")]
    assert len(reasons) == 1 and "20,000 from PID 1" in reasons[0]
    assert planned.stdout.count("CAP_SYS_RESOURCE") == 1
    assert tuner("apply", "loadgen-client", "--yes", *where).returncode == 0
    status = tuner("status", "--detailed-exitcode", *where)
    assert status.returncode == 2
    assert "does not take effect: a new session gets at most 20,000" in status.stdout
    body = json.loads(tuner("status", "--json", *where).stdout)
    assert len(body["ineffective"]) == 2  # the * line and the root line


@pytest.mark.sandbox
@needs_sandbox
def test_status_agrees_with_a_real_login_about_ineffective_limits(tmp_path: Path) -> None:
    """Applied for real (limits.d under a tmpfs, per-netns keys in a namespace): what `su -l`
    really gets decides whether status must call the nofile lines ineffective."""
    work = tmp_path / "work"
    work.mkdir()
    run = f"{shlex.quote(sys.executable)} -m tuner"
    script = (
        f"WORK={shlex.quote(str(work))}\n" + COVER_ETC
        + f"{run} apply loadgen-client --yes > /dev/null\n"
        + "su -l nobody -s /bin/sh -c 'ulimit -Hn'\n"
        + f"{run} status --json\n"
    )  # fmt: skip
    result = sandbox(script)
    assert result.returncode == 0, result.stdout + result.stderr
    login, _, status = result.stdout.partition("\n")
    ineffective = json.loads(status)["ineffective"]
    if int(login) < 262144:  # this machine cannot grant it: status must say so
        assert ineffective and "for * does not take effect" in " ".join(ineffective)
    else:
        assert ineffective == []


@pytest.mark.sandbox
@needs_sandbox
def test_validate_judges_the_profile_alone_unless_asked_for_the_host(tmp_path: Path) -> None:
    """The four bundled profiles pass `validate --strict` whatever the host listens on or
    allows; `--host` adds this host's facts (here a listener inside loadgen-client's range)."""
    run = f"{shlex.quote(sys.executable)} -m tuner"
    bundled = "base haproxy-2m-conns loadgen-client backend-server"
    script = (
        "ip link set lo up\n"
        f"cd {shlex.quote(str(tmp_path))}\n"
        f"{shlex.quote(sys.executable)} -c 'import socket, time; s = socket.create_server("
        '("127.0.0.1", 2024)); time.sleep(60)\' &\n'
        "listener=$!; sleep 0.5\n"
        f"{run} validate --strict {bundled} > alone.txt && echo alone=0 || echo alone=$?\n"
        f"{run} validate --strict --host loadgen-client > host.txt && echo host=0 || echo host=$?\n"
        "kill $listener\n"
    )
    result = sandbox(script)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["alone=0", "host=1"], result.stdout
    assert (tmp_path / "alone.txt").read_text() == "ok: 4 profiles valid\n"
    assert (
        "listening port 2024 lies inside ip_local_port_range" in (tmp_path / "host.txt").read_text()
    )
