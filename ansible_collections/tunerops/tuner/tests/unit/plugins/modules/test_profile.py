# -*- coding: utf-8 -*-
# Copyright: (c) 2026, tuner developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules run for real (python -m ..., arguments in a file, as Ansible runs them) against a
stand-in tuner that prints canned JSON and logs how it was called."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 7))
PLAN = {"format_version": 1, "tuner_version": "0.2.0", "command": "plan", "warnings": [], "profile": "p", "mode": "image",
        "has_changes": True, "changes": [
            {"layer": "kernel", "action": "set", "key": "net.core.somaxconn",
             "current": "4096", "desired": "65535"},
            {"layer": "kernel", "action": "in_sync", "key": "fs.nr_open",
             "current": "1", "desired": "1"},
            {"layer": "file", "action": "create", "path": "/etc/sysctl.d/99-tuner.conf",
             "current": None, "desired": "net.core.somaxconn = 65535\n"}]}
APPLY = {"format_version": 1, "tuner_version": "0.2.0", "command": "apply", "changed": True, "generation": 4,
         "changes": PLAN["changes"][::2], "systemd": []}
STATUS = {"format_version": 1, "tuner_version": "0.2.0", "command": "status", "applied": "p", "generation": 4,
          "mode": "image", "in_effect": [{"generation": 2, "profile": "base"},
                                         {"generation": 4, "profile": "p"}],
          "drifted": False, "drift": [], "incomplete": [], "ineffective": [],
          "metrics": [{"name": "tuner_unsettled_runs", "type": "gauge", "help": "h",
                       "samples": [{"labels": {}, "value": 0}]}]}
SHOW = {"format_version": 1, "tuner_version": "0.2.0", "command": "show", "name": "p"}
ROLLBACK = {"format_version": 1, "tuner_version": "0.2.0", "command": "rollback", "changed": True, "generation": 5,
            "undoes": [4], "systemd": []}


@pytest.fixture
def fake_tuner(tmp_path):
    """A tuner that answers each verb from tmp_path/VERB.json (or VERB.rc and VERB.err)."""
    script = tmp_path / "tuner"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        echo "$@" >> "{log}"
        verb="$1"
        if [ -f "{d}/$verb.rc" ]; then cat "{d}/$verb.err" >&2; exit "$(cat {d}/$verb.rc)"; fi
        cat "{d}/$verb.json"
        """).format(log=tmp_path / "calls", d=tmp_path))
    script.chmod(0o755)
    for verb, body in (("plan", PLAN), ("apply", APPLY), ("status", STATUS),
                       ("rollback", ROLLBACK), ("show", SHOW)):
        (tmp_path / ("%s.json" % verb)).write_text(json.dumps(body))
    return tmp_path


def run(module, directory, check=False, diff=False, **args):
    args = dict(args, tuner_path=str(directory / "tuner"), _ansible_check_mode=check,
                _ansible_diff=diff)
    path = directory / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    done = subprocess.run(
        [sys.executable, "-m", "ansible_collections.tunerops.tuner.plugins.modules." + module,
         str(path)], capture_output=True, text=True, env=env, check=False)
    result = json.loads(done.stdout)
    calls = (directory / "calls").read_text().splitlines() if (directory / "calls").exists() else []
    return result, calls


def test_check_mode_reports_the_plan_and_changes_nothing(fake_tuner):
    result, calls = run("profile", fake_tuner, check=True, diff=True, profile="p")
    assert result["changed"] is True
    assert [c.get("key") or c.get("path") for c in result["changes"]] == [
        "net.core.somaxconn", "/etc/sysctl.d/99-tuner.conf"]
    assert result["diff"][0] == {"before_header": "live net.core.somaxconn",
                                 "after_header": "live net.core.somaxconn",
                                 "before": "4096\n", "after": "65535\n"}
    assert result["diff"][1]["before_header"] == "/dev/null"
    assert calls == ["plan p --json"]


def test_apply_runs_only_when_the_plan_has_changes(fake_tuner):
    result, calls = run("profile", fake_tuner, profile="p", root="/img")
    assert result["changed"] is True and result["generation"] == 4
    assert calls == ["plan p --json --root /img", "apply p --yes --json --root /img"]
    (fake_tuner / "calls").unlink()
    (fake_tuner / "plan.json").write_text(json.dumps(dict(PLAN, has_changes=False,
                                                          changes=[PLAN["changes"][1]])))
    result, calls = run("profile", fake_tuner, profile="p")
    assert result["changed"] is False
    assert calls == ["plan p --json"]


def test_tuners_own_message_and_exit_reason(fake_tuner):
    (fake_tuner / "plan.rc").write_text("1")
    (fake_tuner / "plan.err").write_text("tuner: error: no profile named 'nope'\n")
    result, calls = run("profile", fake_tuner, profile="nope")
    assert result["failed"] is True
    assert result["msg"] == "no profile named 'nope'"
    assert (result["rc"], result["exit_reason"]) == (1, "error")
    assert calls == ["plan nope --json"]


def test_a_refused_plan_fails_with_its_errors_not_the_json(fake_tuner):
    script = fake_tuner / "tuner"
    script.write_text(script.read_text().replace(
        'cat "{d}/$verb.json"'.format(d=fake_tuner),
        'cat "{d}/$verb.json"; [ "$verb" = plan ] && exit 1'.format(d=fake_tuner)))
    (fake_tuner / "plan.json").write_text(json.dumps({
        "format_version": 1, "tuner_version": "0.2.0", "command": "plan", "errors": [
            {"severity": "error", "file": "p.yaml", "line": 3, "col": 12, "origin": "site",
             "key": "fs.nr_open", "message": "'lots' is not an integer",
             "rule": "catalog-value", "detail": None}]}))
    result, calls = run("profile", fake_tuner, profile="p")
    assert result["failed"] is True
    assert result["msg"] == "p.yaml:3:12 (site): fs.nr_open: 'lots' is not an integer [catalog-value]"
    assert "format_version" not in result["msg"]
    assert calls == ["plan p --json"]


def test_warnings_are_the_tasks_warnings_and_strict_fails_on_them(fake_tuner):
    warned = dict(PLAN, warnings=[
        {"severity": "warning", "file": None, "line": None, "col": None, "origin": None,
         "key": "net.core.somaxconn", "rule": "boot-shadowed", "detail": None,
         "message": "at boot /etc/sysctl.d/zz.conf:1 sets 5 after tuner's file"}])
    (fake_tuner / "plan.json").write_text(json.dumps(warned))
    said = ("net.core.somaxconn: warning: at boot /etc/sysctl.d/zz.conf:1 sets 5 after tuner's "
            "file [boot-shadowed]")
    result, calls = run("profile", fake_tuner, profile="p")
    shown = [w["event"]["msg"] if isinstance(w, dict) else w for w in result["warnings"]]
    assert result["changed"] is True and shown == [said]  # 2.19 wraps each in a summary
    assert result["tuner_warnings"] == [said]
    (fake_tuner / "calls").unlink()
    result, calls = run("profile", fake_tuner, profile="p", strict=True)
    assert result["failed"] is True and said in result["msg"]
    assert calls == ["plan p --json"]  # nothing was applied


def test_an_old_tuner_is_refused_by_version(fake_tuner):
    (fake_tuner / "plan.json").write_text(json.dumps(dict(PLAN, tuner_version="0.1.0")))
    result, calls = run("profile", fake_tuner, profile="p")
    assert result["failed"] is True
    assert "tuner 0.1.0 on this host is older than this collection needs (0.2.0" in result["msg"]
    assert calls == ["plan p --json"]


def test_no_json_or_another_format_is_a_clear_failure(fake_tuner):
    (fake_tuner / "plan.json").write_text("Plan: p\n")
    result, calls = run("profile", fake_tuner, profile="p")
    assert result["failed"] is True and "printed no JSON" in result["msg"]
    (fake_tuner / "plan.json").write_text(json.dumps(dict(PLAN, format_version=2)))
    result, calls = run("profile", fake_tuner, profile="p")
    assert result["failed"] is True and "format_version is 2" in result["msg"]


def test_rollback_of_the_named_profile_only_while_it_is_in_effect(fake_tuner):
    result, calls = run("profile", fake_tuner, profile="other", state="rolled_back")
    assert result["changed"] is False and calls == ["status --json"]
    result, calls = run("profile", fake_tuner, check=True, diff=True, profile="p",
                        state="rolled_back")
    assert result["changed"] is True and result["undoes"] == [4]
    assert result["diff"][0]["before"] == "p\n" and result["diff"][0]["after"] == "base\n"
    (fake_tuner / "calls").unlink()
    result, calls = run("profile", fake_tuner, profile="/srv/p.yaml", state="rolled_back")
    assert result["undoes"] == [4]
    assert calls == ["status --json", "show /srv/p.yaml --json",
                     "rollback --to 4 --yes --json"]
    # once undone, the same task changes nothing, however often it runs
    (fake_tuner / "status.json").write_text(json.dumps(dict(
        STATUS, applied="base", generation=2, in_effect=STATUS["in_effect"][:1])))
    (fake_tuner / "calls").unlink()
    result, calls = run("profile", fake_tuner, profile="p", state="rolled_back")
    assert result["changed"] is False and calls == ["status --json"]


def test_rollback_needs_a_profile_or_a_generation(fake_tuner):
    result, calls = run("profile", fake_tuner, state="rolled_back")
    assert result["failed"] is True and "needs profile" in result["msg"]
    assert calls == []
    result, calls = run("profile", fake_tuner, check=True, state="rolled_back", to=2)
    assert result["changed"] is True and result["undoes"] == [2, 4]
    result, calls = run("profile", fake_tuner, state="rolled_back", to=2, force=True)
    assert result["changed"] is True
    assert calls[-1] == "rollback --to 2 --yes --json --force"
    (fake_tuner / "calls").unlink()
    result, calls = run("profile", fake_tuner, state="rolled_back", to=7)
    assert result["changed"] is False and calls == ["status --json"]


def test_rollback_refuses_a_profile_buried_under_another(fake_tuner):
    result, calls = run("profile", fake_tuner, profile="base", state="rolled_back")
    assert result["failed"] is True
    assert "base (generation 2) is in effect under p (generation 4)" in result["msg"]
    assert calls == ["status --json"]


def test_status_info_never_changes_and_says_what_drifted(fake_tuner):
    result, calls = run("status_info", fake_tuner, check=True)
    assert result["changed"] is False and result["applied"] == "p"
    assert result["metrics"][0]["name"] == "tuner_unsettled_runs"  # the Prometheus figures
    assert calls == ["status --json"]
    (fake_tuner / "status.json").write_text(json.dumps(dict(STATUS, drifted=True, drift=[
        {"path": "/etc/sysctl.d/99-tuner.conf", "aspect": "content", "expected": "a",
         "found": "b", "added": ["net.core.somaxconn = 1234"], "removed": []}])))
    result, calls = run("status_info", fake_tuner)
    assert result["changed"] is False
    assert result["drift_lines"] == [
        "/etc/sysctl.d/99-tuner.conf: changed since it was applied: 1 line added",
        "  + net.core.somaxconn = 1234"]
    result, calls = run("status_info", fake_tuner, fail_on_drift=True)
    assert result["failed"] is True and "+ net.core.somaxconn = 1234" in result["msg"]
