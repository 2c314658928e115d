"""The command line through typer's CliRunner: exact output and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuner import __version__
from tuner.cli.main import app

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def test_version() -> None:
    result = run("--version")
    assert (result.exit_code, result.output) == (0, f"tuner {__version__}\n")


def test_usage_error_is_64_not_2() -> None:
    result = run("plan")
    assert result.exit_code == 64
    assert "tuner: error: missing PROFILE" in result.output
    assert run("plan", "x", "--no-such-flag").exit_code == 64
    assert run("frobnicate").exit_code == 64


def test_list(root: Path) -> None:
    result = run("list", "--root", str(root))
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "NAME              FROM     DESCRIPTION",
        "backend-server    bundled  A backend machine (8 of them) running 10 Node.js servers on ports 8282-8291, each holding the connections one HAProxy opens to it.",
        "base              bundled  Settings every machine in the fleet shares; the other profiles extend it.",
        "haproxy-2m-conns  bundled  HAProxy front door holding 2,000,000 concurrent connections (the load-test story).",
        "loadgen-client    bundled  A load-generator machine (vegeta), one of ~30, opening 66,667 connections to the proxy's two listener ports.",
    ]  # fmt: skip


def test_show_json_has_origins(root: Path, cwd_repo: Path) -> None:
    result = run("show", "haproxy-2m-conns", "--root", str(root), "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["chain"] == ["base", "haproxy-2m-conns"]
    assert (doc["intent"]["role"], doc["intent"]["backends"]) == ("proxy", 80)
    assert re.fullmatch(r"haproxy-2m-conns\.yaml:\d+:\d+ \(bundled\)", doc["intent"]["from"])
    assert doc["sysctl"]["net.core.somaxconn"]["value"] == "65535"
    assert doc["sysctl"]["net.core.somaxconn"]["from"].startswith("haproxy-2m-conns.yaml:")
    assert doc["sysctl"]["net.ipv4.tcp_timestamps"]["from"].endswith(" (bundled)")
    assert doc["sysctl"]["net.ipv4.tcp_timestamps"]["from"].startswith("base.yaml:")
    assert doc["services"]["haproxy.service"]["LimitNOFILE"]["value"] == "6000000"


def test_show_text(root: Path, cwd_repo: Path) -> None:
    result = run("show", "base", "--root", str(root))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:2] == [
        "base: Settings every machine in the fleet shares; the other profiles extend it.",
        "resolved: base   (profiles/base.yaml)",
    ]
    assert "  net.core.somaxconn       4096   base.yaml:15:12 (bundled)" in lines


def test_validate_bundled_ok(root: Path, proc_sys: Path) -> None:
    result = run("validate", "base", "haproxy-2m-conns", "loadgen-client",
                 "--root", str(root), "--proc-sys", str(proc_sys))  # fmt: skip
    assert (result.exit_code, result.output) == (0, "ok: 3 profiles valid\n")


def test_validate_reports_everything_and_exits_1(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text("name: a\nsysctl:\n  fs.nr_open: true\n  fs.nr_open: 2\n")
    Path("b.yaml").write_text("name: b\nextends: [nosuch]\n")
    result = run("validate", "a.yaml", "b.yaml", "--root", str(root))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "a.yaml:3:15: fs.nr_open: booleans are ambiguous here: write 1 or 0",
        "a.yaml:4:3: fs.nr_open: duplicate key (first set at line 3); YAML would silently keep only the last one",
        "b.yaml:2:11: extends: no profile named 'nosuch' (available: backend-server, base, haproxy-2m-conns, loadgen-client)",
        "3 errors, 0 warnings in 2 profiles",
    ]  # fmt: skip


def test_validate_unknown_key_warns_then_strict_fails(
    tmp_path: Path, root: Path, proc_sys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.yaml").write_text("name: t\nsysctl:\n  net.ipv4.tcp_tw_reuze: 1\n")
    args = ["validate", "t.yaml", "--root", str(root), "--proc-sys", str(proc_sys)]
    warn = run(*args)
    assert warn.exit_code == 0
    assert warn.output.splitlines() == [
        "t.yaml:3:26: net.ipv4.tcp_tw_reuze: warning: the running kernel (6.1.0-test) has no "
        "such key; did you mean net.ipv4.tcp_tw_reuse? [unknown-key]",
        "ok: 1 profile valid, 1 warning",
    ]
    strict = run(*args, "--strict")
    assert strict.exit_code == 1
    assert strict.output.splitlines()[-1] == "1 error, 0 warnings in 1 profile"


def test_validate_json(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text("name: a\nsysctl:\n  ../etc: 1\n")
    result = run("validate", "a.yaml", "--root", str(root), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["valid"] is False
    assert doc["errors"] == [
        {"severity": "error", "file": "a.yaml", "line": 3, "col": 3, "key": "../etc",
         "origin": None, "rule": None,
         "message": "not a sysctl key: empty, '.' or '..' component", "detail": None}
    ]  # fmt: skip


def test_plan_detailed_exitcode(root: Path, proc_sys: Path) -> None:
    args = ["plan", "base", "--root", str(root), "--proc-sys", str(proc_sys)]
    assert run(*args).exit_code == 0
    assert run(*args, "--detailed-exitcode").exit_code == 2


def test_plan_detailed_exitcode_zero_when_in_sync(root: Path) -> None:
    # image mode, with the files already there: nothing to change
    from conftest import library

    from tuner.app.profiles import load_checked
    from tuner.changes.render import render_files
    from tuner.machine.host import Host
    from tuner.profile.ref import ProfileRef

    profile, _ = load_checked(ProfileRef.parse("base"), Host(root, None), library(root))
    for path, text in render_files(profile).items():
        (root / path.relative_to("/")).write_text(text)
    result = run("plan", "base", "--root", str(root), "--detailed-exitcode")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1] == "No changes: the host already matches the profile."


def test_plan_bad_profile_exits_1_without_traceback(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text("name: a\nsysctl: {fs.nr_open: [}\n")
    result = run("plan", "a.yaml", "--root", str(root), "--detailed-exitcode")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("a.yaml:2:23: malformed YAML")


def test_plan_missing_profile(root: Path) -> None:
    result = run("plan", "nosuch", "--root", str(root))
    assert result.exit_code == 1
    assert result.stderr == (
        "tuner: error: no profile named 'nosuch' (available: backend-server, base, haproxy-2m-conns, loadgen-client)\n"
    )


def test_plan_bad_root(tmp_path: Path) -> None:
    result = run("plan", "base", "--root", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.stderr == f"tuner: error: --root {tmp_path / 'nope'}: not a directory\n"


def test_plan_text(root: Path, proc_sys: Path, cwd_repo: Path) -> None:
    result = run("plan", "loadgen-client", "--root", str(root), "--proc-sys", str(proc_sys))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "Plan: loadgen-client (bundled, extends base)"
    assert lines[1] == f"host mode: root {root}, kernel {proc_sys} (Linux 6.1.0-test)"
    assert "Kernel: 2 of 5 live values differ" in lines
    assert "  ~  net.ipv4.ip_local_port_range  32768 60999  1024 65535  ports" in lines
    assert "  + /etc/sysctl.d/99-tuner.conf (create, +33 lines)" in lines
    assert lines[-2] == "Plan: 2 live values to set, 2 files to create."
    assert lines[-1] == (
        f"Nothing was changed. To apply: tuner apply loadgen-client --root {root} --proc-sys "
        f"{proc_sys}. Every value and file in full: tuner plan loadgen-client --root {root} "
        f"--proc-sys {proc_sys} --diff."
    )
    assert "\x1b[" not in result.output  # not a terminal: no colour


def test_plan_image_mode_says_so(root: Path) -> None:
    result = run("plan", "base", "--root", str(root))
    assert result.output.splitlines()[1] == (
        f"image mode: root {root}; the running kernel is not read, files only"
    )


JSON_KEYS = {
    "format_version", "tuner_version", "command", "profile", "extends", "mode", "root", "proc_sys",
    "kernel_release", "has_changes", "changes", "in_sync", "capacity", "warnings", "errors",
}  # fmt: skip


def test_plan_json_contract(root: Path, proc_sys: Path) -> None:
    (root / "etc/sysctl.conf").write_text("net.core.somaxconn = 1024\n")
    result = run("plan", "base", "--json", "--root", str(root), "--proc-sys", str(proc_sys))
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert set(doc) == JSON_KEYS
    assert (doc["format_version"], doc["command"]) == (1, "plan")
    assert (doc["profile"], doc["mode"]) == ("base", "host")
    by_layer: dict[str, list[dict[str, object]]] = {}
    for change in doc["changes"]:
        assert {"layer", "action", "current", "desired"} <= set(change)
        assert ("path" in change) == (change["layer"] == "file")
        assert ("key" in change) == (change["layer"] != "file")
        by_layer.setdefault(str(change["layer"]), []).append(change)
    assert [c["action"] for c in by_layer["file"]] == ["create", "create"]
    [boot] = by_layer["boot"]
    assert boot == {
        "layer": "boot", "action": "shadowed", "key": "net.core.somaxconn", "current": "1024",
        "desired": "4096", "why": boot["why"], "source": boot["source"],
        "shadowed_by": "/etc/sysctl.conf:1", "tools": ["sysctl --system"],
    }  # fmt: skip
    assert doc["errors"] == []
    assert [w["rule"] for w in doc["warnings"]] == ["boot-shadowed"]


def test_plan_json_errors(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text("name: a\nsysctl: {fs.nr_open: true}\n")
    result = run("plan", "a.yaml", "--json", "--root", str(root))
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert [e["message"] for e in doc["errors"]] == ["booleans are ambiguous here: write 1 or 0"]


def test_internal_error_exit_3_without_traceback(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("tuner.app.plan.make_plan", boom)
    result = run("plan", "base", "--root", str(root))
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    assert "tuner: error: internal error: RuntimeError: kaboom" in result.stderr


class _Tty:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from tuner.cli.report import Style

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert Style(_Tty())("x", "add") == "\x1b[32mx\x1b[0m"  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert Style(_Tty())("x", "add") == "x"  # type: ignore[arg-type]


BAD_INVOCATIONS = [
    ["plan", "{tmp}"],  # a directory
    ["plan", "{tmp}/missing.yaml"],
    ["plan", "nosuch"],
    ["validate", "{tmp}/binary.yaml"],
    ["explain", ""],
    ["capacity", "base", "--root", "{tmp}/missing"],
    ["rollback", "--to", "abc"],
    ["rollback", "--to", "7", "--yes"],
    ["rollback", "--yes", "--root", "{tmp}/damaged"],  # history reads around the damage
    ["status", "--root", "{tmp}/binary.yaml"],
    ["vendor", "base"],  # --root is required
    ["export", "cloud-init", "base", "--mode", "sideways"],
    ["apply", "{tmp}/binary.yaml", "--yes"],
]


@pytest.mark.parametrize("args", BAD_INVOCATIONS, ids=lambda a: " ".join(a) or "empty")
def test_user_errors_never_show_a_traceback(args: list[str], tmp_path: Path, root: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00binary")
    journal = tmp_path / "damaged/var/lib/tuner/generations"
    journal.mkdir(parents=True)
    (journal / "000001.json").write_text("{broken")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if ("--root" not in argv and argv[0] not in ("vendor", "export", "explain")) or argv[0] in (
        "export",
        "explain",
    ):
        argv += ["--root", str(root)]
    result = run(*argv)
    assert result.exit_code in (1, 64), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("show", "base"),
        ("validate", "base"),
        ("plan", "base", "--no-kernel"),
        ("capacity", "loadgen-client"),
        ("status",),
        ("history",),
    ],
)
def test_every_json_output_has_one_envelope(args: tuple[str, ...], root: Path) -> None:
    result = run(*args, "--json", "--root", str(root))
    doc = json.loads(result.output)
    assert isinstance(doc, dict)
    assert (doc["format_version"], doc["tuner_version"], doc["command"]) == (
        1,
        __version__,
        args[0],
    )


def test_an_acknowledged_warning_passes_strict_and_survives_vendoring(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    body = (
        "sysctl:\n  net.ipv4.ip_local_port_range:\n    value: 1024 65534\n"
        "    acknowledge: {port-range-parity: matches the old fleet}\n"
    )
    Path("t.yaml").write_text(body)
    Path("u.yaml").write_text(body.split("    acknowledge", maxsplit=1)[0])
    failed = run("validate", "u.yaml", "--strict", "--root", str(root))
    assert failed.exit_code == 1
    assert "[port-range-parity]" in failed.output
    result = run("validate", "t.yaml", "--strict", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "t.yaml:3:12: net.ipv4.ip_local_port_range: info: low 1024 and high 65534 have the same "
        "parity; use an even low and an odd high (e.g. 1024 65535) (acknowledged: matches the old "
        "fleet) [port-range-parity]",
        "ok: 1 profile valid, 1 acknowledged",
    ]
    assert run("vendor", "t.yaml", "--root", str(root)).exit_code == 0
    vendored = run("validate", "t", "--root", str(root), "--strict")
    assert vendored.exit_code == 0, vendored.output
    assert "(acknowledged: matches the old fleet) [port-range-parity]" in vendored.output


def test_explain_says_how_to_acknowledge_a_rule(root: Path) -> None:
    told = run("explain", "port-range-parity", "--root", str(root))
    assert 'acknowledge: {port-range-parity: "REASON"}' in " ".join(told.output.split())
    refused = run("explain", "port-range-order", "--json", "--root", str(root))
    body = json.loads(refused.output)["rule"]
    assert body["acknowledgeable"] is False
    assert body["acknowledge"].startswith("cannot be acknowledged: the kernel refuses")


def test_every_finding_id_tuner_prints_is_one_explain_knows(root: Path) -> None:
    import re

    from tuner.knowledge import rules

    emitted = set()
    for path in Path("tuner").rglob("*.py"):
        emitted |= set(re.findall(r'Diagnostic\(.*, "([a-z]+(?:-[a-z]+)+)"\)', path.read_text()))
    assert {"boot-shadowed", "login-shadowed", "unsafe-target"} <= emitted
    for rule_id in emitted | {r.id for r in rules.RULES}:
        told = run("explain", rule_id, "--root", str(root))
        assert told.exit_code == 0, (rule_id, told.output)
        assert "acknowledge: " in told.output


def test_show_lists_the_acknowledged_rules(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.yaml").write_text(
        "acknowledge: {limits-root-wildcard: root runs nothing}\nsysctl:\n"
        "  net.ipv4.ip_local_port_range: {value: 1024 65534, acknowledge: {port-range-parity: x}}\n"
    )
    body = json.loads(run("show", "a.yaml", "--root", str(root), "--json").output)
    assert body["acknowledge"] == [
        {"rule": "limits-root-wildcard", "reason": "root runs nothing", "from": "a.yaml:1:15",
         "setting": None},
        {"rule": "port-range-parity", "reason": "x", "from": "a.yaml:3:67",
         "setting": "a.yaml:3:41"},
    ]  # fmt: skip
    shown = run("show", "a.yaml", "--root", str(root)).output
    assert "acknowledged rules:" in shown and "the setting at a.yaml:3:41" in shown
