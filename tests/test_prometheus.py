"""status and doctor as Prometheus metrics, judged by Prometheus' own promtool: `promtool check
metrics` accepts them with drift, with findings and with nothing to report; the example alert
rules pass `promtool check rules` and fire, under `promtool test rules`, on series like the ones
tuner writes; the systemd service and timer pass `systemd-analyze verify`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from test_doctor import TCP, TCP6, fake_process
from typer.testing import CliRunner

from tuner.cli.main import app

runner = CliRunner()
needs_promtool = pytest.mark.skipif(
    not os.environ.get("CI") and shutil.which("promtool") is None,
    reason="needs promtool (apt-get install prometheus, as .ci/run does)",
)
RULES = REPO / "docs/tuner-alerts.yml"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip


def samples(text: str) -> dict[str, float]:
    """Each sample line as 'name{labels}' -> value."""
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}  # fmt: skip


def check(text: str) -> None:
    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0, checked.stdout + checked.stderr + text
    names = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
    assert names
    for name, kind in names:
        assert name.startswith("tuner_"), name
        assert name.endswith("_total") == (kind == "counter"), name
        assert re.fullmatch(r"[a-z_]+", name), name


@needs_promtool
def test_status_metrics_with_nothing_applied_drift_and_after(root: Path, proc_sys: Path) -> None:
    where = ["--root", str(root), "--proc-sys", str(proc_sys)]
    nothing = runner.invoke(app, ["status", "--format", "prometheus", *where])
    assert nothing.exit_code == 0, nothing.output
    check(nothing.stdout)
    found = samples(nothing.stdout)
    assert found["tuner_applied_generation"] == 0
    assert not any(k.startswith("tuner_applied_info") for k in found)  # no profile, no sample
    assert found['tuner_drift_differences{kind="content"}'] == 0
    assert runner.invoke(app, ["apply", "loadgen-client", "--yes", *where]).exit_code == 0
    managed = root / "etc/sysctl.d/99-tuner.conf"
    managed.write_text(managed.read_text() + "net.core.somaxconn = 1\n")
    (proc_sys / "net/ipv4/tcp_tw_reuse").write_text("0\n")
    drifted = runner.invoke(app, ["status", "--format", "prometheus", *where])
    check(drifted.stdout)
    found = samples(drifted.stdout)
    assert found['tuner_applied_info{profile="loadgen-client",generation="1",mode="host"}'] == 1
    assert found['tuner_drift_differences{kind="content"}'] == 1
    assert found['tuner_drift_differences{kind="value"}'] == 1
    assert found["tuner_unsettled_runs"] == 0
    body = json.loads(runner.invoke(app, ["status", "--json", *where]).stdout)
    from_json = {f["name"]: f["samples"] for f in body["metrics"]}  # the same figures in JSON
    assert from_json["tuner_drift_differences"][0] == {"labels": {"kind": "content"}, "value": 1}


def fake_host(tmp_path: Path, *, crowded: bool) -> Path:
    """A /proc tree: with ``crowded``, 3 of 4 ports of a tuple held and a process near its
    limit (doctor finds both); without, nothing near a limit."""
    proc_sys = tmp_path / "proc" / "sys"
    values = {"net/ipv4/ip_local_port_range": "40000 40003" if crowded else "32768 60999",
              "net/core/somaxconn": "4096", "net/ipv4/tcp_tw_reuse": "0",
              "fs/file-nr": "10\t0\t1000", "fs/file-max": "100000"}  # fmt: skip
    for key, value in values.items():
        (proc_sys / key).parent.mkdir(parents=True, exist_ok=True)
        (proc_sys / key).write_text(value + "\n")
    (tmp_path / "proc" / "net").mkdir()
    (tmp_path / "proc" / "net" / "tcp").write_text(TCP if crowded else TCP.splitlines()[0] + "\n")
    (tmp_path / "proc" / "net" / "tcp6").write_text(
        TCP6 if crowded else TCP6.splitlines()[0] + "\n"
    )
    fake_process(tmp_path / "proc", "worker", 9 if crowded else 2, 10, 4096)
    return proc_sys


def doctor_metrics(proc_sys: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tuner", "doctor", "--format", "prometheus", "--proc-sys",
         str(proc_sys)],
        capture_output=True, text=True, check=False, cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@needs_promtool
def test_doctor_metrics_with_findings_and_without(tmp_path: Path) -> None:
    crowded = doctor_metrics(fake_host(tmp_path / "a", crowded=True))
    check(crowded)
    found = samples(crowded)
    assert found['tuner_doctor_findings{id="port-exhaustion",severity="warning"}'] == 1
    assert found['tuner_doctor_findings{id="process-nofile",severity="critical"}'] == 1
    assert found["tuner_doctor_tuple_usage_ratio"] == 0.75
    assert found["tuner_doctor_usable_ports"] == 4
    assert found["tuner_doctor_process_descriptor_usage_ratio"] == 0.9
    assert found["tuner_doctor_file_handles"] == 10
    healthy = doctor_metrics(fake_host(tmp_path / "b", crowded=False))
    check(healthy)
    assert not any(k.startswith("tuner_doctor_findings{") for k in samples(healthy))


def test_textfile_is_replaced_whole_and_never_through_a_link(root: Path, tmp_path: Path) -> None:
    target = tmp_path / "collector" / "tuner-status.prom"
    target.parent.mkdir()
    where = ["--root", str(root)]
    written = runner.invoke(app, ["status", "--textfile", str(target), *where])
    assert written.exit_code == 0 and written.stdout == ""
    assert "tuner_applied_generation 0\n" in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["tuner-status.prom"]
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    planted = target.parent / "planted.prom"
    planted.symlink_to(victim)
    refused = runner.invoke(app, ["status", "--textfile", str(planted), *where])
    assert victim.read_text() == "keep\n"  # replaced the link at most, never wrote through it
    assert refused.exit_code in (0, 1)
    wrong = runner.invoke(app, ["status", "--textfile", str(tmp_path / "x.txt"), *where])
    assert wrong.exit_code == 1 and "reads only *.prom files" in wrong.stderr
    both = runner.invoke(app, ["status", "--json", "--format", "prometheus", *where])
    assert both.exit_code == 64 and "ask for two formats" in both.output


@needs_promtool
def test_the_example_alert_rules_pass_and_fire(tmp_path: Path) -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = tmp_path / "tuner-alerts.test.yml"
    tests.write_text(json.dumps({
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'tuner_drift_differences{instance="proxy-1",kind="content"}',
                 "values": "0 0 1x30"},
                {"series": 'tuner_drift_differences{instance="proxy-1",kind="value"}',
                 "values": "0x32"},
                {"series": 'tuner_unsettled_runs{instance="proxy-2"}', "values": "1x10"},
                {"series": 'tuner_doctor_tuple_usage_ratio{instance="lb-1"}',
                 "values": "0.5 0.8x20"},
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "TunerDrift", "exp_alerts": []},
                {"eval_time": "20m", "alertname": "TunerDrift", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "instance": "proxy-1"},
                     "exp_annotations": {
                         "summary": "proxy-1: tuner's files or live values changed since the apply",
                         "description": "Run `tuner status --diff` there; `tuner apply` restores "
                                        "them."}}]},
                {"eval_time": "6m", "alertname": "TunerUnsettledRun", "exp_alerts": [
                    {"exp_labels": {"severity": "critical", "instance": "proxy-2"},
                     "exp_annotations": {"summary": "proxy-2: a tuner run did not finish",
                                         "description": "Run `tuner rollback` there to settle "
                                                        "it."}}]},
                {"eval_time": "15m", "alertname": "TunerPortsNearlyExhausted", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "instance": "lb-1"},
                     "exp_annotations": {
                         "summary": "lb-1: a connection tuple holds over 70% of its ports",
                         "description": "Run `tuner doctor` there for the tuple and the fix."}}]},
            ],
        }],
    }))  # fmt: skip
    tested = promtool("test", "rules", str(tests))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_timer_and_service_pass_systemd(tmp_path: Path) -> None:
    tuner = str(Path(sys.executable).with_name("tuner"))
    out = tmp_path / "units"
    out.mkdir()
    made = runner.invoke(app, ["export", "systemd-timer", "--tuner", tuner, "--doctor",
                               "--interval", "2min", "--out-dir", str(out)])  # fmt: skip
    assert made.exit_code == 0, made.output
    service = (out / "tuner-metrics.service").read_text()
    assert f"ExecStart={tuner} status --textfile /var/lib/prometheus/node-exporter/" in service
    assert f"ExecStart={tuner} doctor --textfile" in service
    assert "OnUnitActiveSec=2min" in (out / "tuner-metrics.timer").read_text()
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(out / "tuner-metrics.service"),
         str(out / "tuner-metrics.timer")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for bad, said in ((["--interval", "5 min\nExecStart=/bin/evil"], "--interval"),
                      (["--tuner", "/usr/bin/tuner\nExecStart=/bin/evil"], "--tuner"),
                      (["--textfile-dir", "relative/dir"], "--textfile-dir"),
                      (["--textfile-dir", "/var/%h"], "--textfile-dir")):  # fmt: skip
        refused = runner.invoke(app, ["export", "systemd-timer", *bad])
        assert refused.exit_code == 1 and said in refused.stderr, refused.output


def test_the_readme_alert_is_the_rule_file() -> None:
    """The README's excerpt is the tested rule file's own text."""
    readme = (REPO / "README.md").read_text()
    excerpt = readme.split("<!-- tested: alert rule -->\n```yaml\n", 1)[1].split("```", 1)[0]
    assert excerpt in RULES.read_text()
