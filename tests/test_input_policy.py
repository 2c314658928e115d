"""Trust at the boundary: every case of issue 8, through the CLI, as a user would meet it.

Hostile profiles exit 1 with FILE:LINE:COL, no traceback, quickly, writing nothing; unusual but
valid profiles exit 0 and render exactly what was written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, snapshot
from typer.testing import CliRunner

from tuner.changes.render import render_files
from tuner.cli.main import app
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve

runner = CliRunner()


def lol(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def merge_chain(count: int) -> str:
    lines = ["m0: &m0 {fs.nr_open: 1048576}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, count)]
    return "\n".join(lines) + "\n"


HOSTILE = {
    "NUL in description": (
        'description: "x\\0kernel.core_pattern = |/tmp/pwn %p"\nsysctl: {fs.nr_open: 1048576}\n',
        "2:14: description: text cannot contain U+0000 NUL",
    ),
    "NUL in a drop-in's why": (
        'services:\n  haproxy.service:\n    LimitNOFILE: {value: 5, why: "a\\0ExecStartPre=/x"}\n',
        "4:34: haproxy.service.LimitNOFILE: text cannot contain U+0000 NUL",
    ),
    "NEL in a value": ('sysctl: {kernel.core_pattern: "a\\Nb"}\n', "U+0085 NEL"),
    "U+2028 in why": (
        'sysctl: {fs.nr_open: {value: 1048576, why: "a\\Lb"}}\n',
        "U+2028 LINE SEPARATOR",
    ),
    "U+2029 in source": (
        'sysctl: {fs.nr_open: {value: 1048576, source: "a\\Pb"}}\n',
        "U+2029 PARAGRAPH SEPARATOR",
    ),
    "ANSI escape in why": (
        'sysctl: {fs.nr_open: {value: 1048576, why: "\\e[2J\\e[1;1Hall good"}}\n',
        "U+001B ESC",
    ),
    "bidi override in description": ('description: "ok \\u202e fed"\n', "U+202E RIGHT-TO-LEFT"),
    "bidi isolate in a domain": (
        "limits: [{domain: \"bob\\u2066\", type: '-', item: nofile, value: 5}]\n",
        "U+2066 LEFT-TO-RIGHT ISOLATE",
    ),
    "C1 control in source": ('sysctl: {fs.nr_open: {value: 5, source: "\\x9b31m"}}\n', "U+009B"),
    "billion laughs": (lol(10), "expands to more than 100,000 values"),
    "self-referencing alias": ("x: &a [*a, *a]\n", "an alias refers to a node that contains it"),
    "merge-key cycle": (
        "sysctl: &a\n  <<: *a\n  fs.nr_open: 5\n",
        "a merge key (<<) refers to a mapping that contains it",
    ),
    "a long merge-key chain": (merge_chain(3000), "expands to more than 100,000 values"),
    "number with thousands of digits": (
        "sysctl: {fs.nr_open: " + "9" * 5000 + "}\n",
        "a number of 5000 digits is beyond any value tuner sets",
    ),
    ".inf in intent": (
        "intent: {role: proxy, concurrent_connections: .inf}\n",
        "intent.concurrent_connections: must be a finite number",
    ),
    "huge memory in intent": (
        "intent: {role: proxy, concurrent_connections: 5, memory_gib: 1e308}\n",
        "intent.memory_gib: must be at most 1048576, not 1e+308",
    ),
    "LimitNOFILE with letters": (
        "services: {haproxy.service: {LimitNOFILE: 4096abc}}\n",
        "LimitNOFILE takes no unit 'abc'",
    ),
    "LimitNOFILE with a size suffix": (
        "services: {haproxy.service: {LimitNOFILE: 64K}}\n",
        "LimitNOFILE takes no unit 'K'",
    ),
    "negative LimitNOFILE": (
        "services: {haproxy.service: {LimitNOFILE: -5}}\n",
        "'-5' is not a limit value",
    ),
    "2^70 in a drop-in": (
        f"services: {{haproxy.service: {{LimitNOFILE: {2**70}}}}}\n",
        "is beyond the largest limit: use infinity",
    ),
    "2^70 in a limit": (
        f"limits: [{{domain: '*', type: '-', item: nofile, value: {2**70}}}]\n",
        "is beyond the largest limit 18446744073709551614",
    ),
    "unit name with a trailing newline": (
        'services: {"haproxy.service\\n": {LimitNOFILE: 5}}\n',
        "haproxy.service\\x0a: a unit name cannot contain U+000A LF",
    ),
    "domain with a trailing newline": (
        "limits: [{domain: \"bob\\n\", type: '-', item: nofile, value: 5}]\n",
        "limits entry 1, domain: a domain cannot contain U+000A LF",
    ),
    "Arabic-Indic digits in a limit": (
        "limits: [{domain: '*', type: '-', item: nofile, value: \"\u0664\u0660\u0669\u0666\"}]\n",
        "expected an integer (ASCII digits)",
    ),
    "Arabic-Indic digits in a uid range": (
        "limits: [{domain: \"\u0661:\u0662\", type: '-', item: nofile, value: 5}]\n",
        "is not a limits.conf domain",
    ),
    "Arabic-Indic digits in a drop-in": (
        'services: {haproxy.service: {LimitNOFILE: "\u0664\u0660"}}\n',
        "is not a limit value: use a number (ASCII digits)",
    ),
    "Arabic-Indic digits in a sysctl": (
        'sysctl: {net.core.somaxconn: "\u0664\u0660"}\n',
        "values are printable ASCII",
    ),
    "sysctl above the kernel's range": (
        "sysctl: {net.core.somaxconn: 99999999999}\n",
        "99999999999 is above the maximum 2147483647",
    ),
    "YAML 1.1 octal": (
        "sysctl: {fs.nr_open: 010000}\n",
        "'010000' is ambiguous: a number with a leading zero is octal in YAML 1.1",
    ),
    "YAML 1.1 underscore number": (
        "sysctl: {fs.nr_open: 1_048_576}\n",
        "'1_048_576' is ambiguous: underscores make a number in YAML 1.1",
    ),
    "quoted octal for the kernel": (
        'sysctl: {fs.nr_open: "010000"}\n',
        "the kernel reads a leading 0 as octal",
    ),
    "explicit python tag": (
        "sysctl: {fs.nr_open: !!python/object/apply:os.system [id]}\n",
        "explicit YAML tag",
    ),
    "soft above hard in a drop-in": (
        "services: {haproxy.service: {LimitNOFILE: '20:10'}}\n",
        "soft limit 20 is above hard limit 10",
    ),
}


def run(*args: str) -> tuple[int, str, float]:
    start = time.monotonic()
    result = runner.invoke(app, list(args), env={"NO_COLOR": "1"})
    return result.exit_code, result.output, time.monotonic() - start


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_profile_is_refused_at_its_line(case: str, tmp_path: Path, root: Path) -> None:
    body, message = HOSTILE[case]
    path = tmp_path / "hostile.yaml"
    path.write_text("name: hostile\n" + body, encoding="utf-8")
    before = snapshot(root, skip="\0")
    for command in (("validate",), ("plan", "--no-kernel"), ("apply", "--no-kernel", "--yes")):
        code, output, elapsed = run(command[0], str(path), "--root", str(root), *command[1:])
        assert code == 1, (command, output)
        assert "Traceback" not in output and "internal error" not in output, output
        assert elapsed < 10, (command, elapsed)
        assert f"{path}:" in output and message in output, (command, output)
    assert snapshot(root, skip="\0") == before


def test_nothing_unsafe_reaches_the_terminal_or_json(tmp_path: Path, root: Path) -> None:
    """A file on disk (not a profile) can hold anything: plan shows it escaped."""
    target = root / "etc/sysctl.d/99-tuner.conf"
    target.write_text("# Managed by tuner\n# \x1b[2J\x1b[31mfake \u202e\x85 line\nfs.nr_open = 1\n")
    profile = tmp_path / "p.yaml"
    profile.write_text("name: p\nsysctl: {fs.nr_open: 1048576}\n")
    code, output, _ = run("plan", str(profile), "--root", str(root), "--no-kernel", "--diff")
    assert code == 0
    assert "\x1b" not in output and "\u202e" not in output and "\x85" not in output
    assert "-# \\x1b[2J\\x1b[31mfake \\u202e\\x85 line" in output
    code, output, _ = run("plan", str(profile), "--root", str(root), "--no-kernel", "--json")
    assert code == 0
    assert "\u202e" not in output and "\x85" not in output
    diff = json.loads(output)["changes"][0]["diff"]
    assert "\x1b[2J\x1b[31mfake \u202e\x85 line" in diff  # the JSON still carries the text


UNUSUAL: dict[str, tuple[str, dict[str, str]]] = {
    "byte order mark": ("\ufeffname: p\nsysctl: {fs.nr_open: 1048576}\n", {}),
    "CRLF line ends": ("name: p\r\nsysctl:\r\n  fs.nr_open: 1048576\r\n", {}),
    "anchors and merge keys": (
        "name: p\nsysctl:\n  fs.nr_open: &n {value: 1048576, why: shared}\n"
        "  fs.file-max:\n    <<: *n\n    value: 2097152\n",
        {},
    ),
    "template units": (
        "name: p\nservices:\n  getty@.service: {LimitNOFILE: 4096}\n"
        "  getty@tty1.service: {LimitNOFILE: '1024:4096'}\n",
        {},
    ),
    "dotted interface names": (
        "name: p\nsysctl:\n  net.ipv4.conf.eth0/100.forwarding: 1\n"
        "  net/ipv4/conf/eth0.200/rp_filter: 2\n",
        {},
    ),
    "YAML 1.2 readings": (
        "name: p\nservices:\n  rt.service: {LimitRTPRIO: 10:50, LimitCPU: 2h}\n"
        "sysctl: {kernel.core_pattern: 2024-01-01}\n",
        {},
    ),
}


@pytest.mark.parametrize("case", list(UNUSUAL))
def test_unusual_valid_profile_renders_what_was_written(
    case: str, tmp_path: Path, root: Path
) -> None:
    text, _ = UNUSUAL[case]
    (tmp_path / "p.yaml").write_bytes(text.encode())
    code, output, _ = run("validate", str(tmp_path / "p.yaml"), "--root", str(root))
    assert code == 0, output
    code, output, _ = run("apply", str(tmp_path / "p.yaml"), "--root", str(root), "--yes")
    assert code == 0, output
    profile, _problems = resolve(ProfileRef.parse("p"), ProfileLibrary((("site", tmp_path),)))
    assert profile is not None
    for path, rendered in render_files(profile).items():
        assert (root / path.relative_to("/")).read_text() == rendered
    rendered_text = "".join(render_files(profile).values())
    expected = {
        "YAML 1.2 readings": [
            "LimitRTPRIO=10:50",
            "LimitCPU=2h",
            "kernel.core_pattern = 2024-01-01",
        ],
        "dotted interface names": [
            "net.ipv4.conf.eth0/100.forwarding = 1",
            "net.ipv4.conf.eth0/200.rp_filter = 2",
        ],
        "template units": ["LimitNOFILE=4096", "LimitNOFILE=1024:4096"],
        "anchors and merge keys": ["fs.nr_open = 1048576", "fs.file-max = 2097152", "# shared"],
        "byte order mark": ["fs.nr_open = 1048576"],
        "CRLF line ends": ["fs.nr_open = 1048576"],
    }[case]
    for line in expected:
        assert line in rendered_text.splitlines(), (line, rendered_text)
    assert "\r" not in rendered_text and "\ufeff" not in rendered_text


def test_diamond_extends_of_any_depth_resolves_in_linear_time(tmp_path: Path, root: Path) -> None:
    def build(depth: int, directory: Path) -> float:
        directory.mkdir()
        (directory / "p0.yaml").write_text("name: p0\nsysctl: {fs.nr_open: 1048576}\n")
        for i in range(1, depth + 1):
            (directory / f"a{i}.yaml").write_text(
                f"name: a{i}\nextends: [p{i - 1}]\nsysctl: {{net.core.somaxconn: {1000 + i}}}\n"
            )
            (directory / f"b{i}.yaml").write_text(f"name: b{i}\nextends: [p{i - 1}]\n")
            (directory / f"p{i}.yaml").write_text(f"name: p{i}\nextends: [a{i}, b{i}]\n")
        start = time.monotonic()
        profile, problems = resolve(
            ProfileRef.parse(f"p{depth}"), ProfileLibrary((("site", directory),))
        )
        assert profile is not None, problems
        # parents merge in order, so b's copy of the shared ancestor's value overrides a's
        assert profile.sysctl_value("net.core.somaxconn") == "1001"
        return time.monotonic() - start

    deep = build(100, tmp_path / "deep")
    assert deep < 2.0  # 2^100 paths if walked per path; 301 files once each
    code, output, _ = run("plan", str(tmp_path / "deep/p100.yaml"), "--root", str(root),
                          "--no-kernel")  # fmt: skip
    assert code == 0, output


def test_extends_deeper_than_the_limit_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "c0.yaml").write_text("name: c0\n")
    for i in range(1, 300):
        (tmp_path / f"c{i}.yaml").write_text(f"name: c{i}\nextends: [c{i - 1}]\n")
    profile, problems = resolve(ProfileRef.parse("c299"), ProfileLibrary((("site", tmp_path),)))
    assert profile is None
    assert [p.message for p in problems if p.severity == "error"] == [
        "extends reaches more than 256 levels deep"
    ]


def test_validate_reports_schema_and_rule_problems_in_one_run(tmp_path: Path, root: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "name: p\nsysctl:\n"
        "  net.ipv4.ip_local_port_range: '1000 65535'\n"  # a rule error (below 1024)
        "  net.core.somaxconn: lots\n"  # a shape error
        "  net.ipv4.tcp_fin_timeout: {value: 30, why: shortens TIME_WAIT}\n"  # a rule warning
        "limits:\n  - {domain: '*', type: soft, item: nofile, value: many}\n"  # a schema error
    )
    code, output, _ = run("validate", str(tmp_path / "p.yaml"), "--root", str(root))
    assert code == 1
    lines = output.splitlines()
    assert any("ip_local_port_range: low end 1000 is below ip_unprivileged_port_start" in x
               for x in lines), output  # fmt: skip
    assert any("net.core.somaxconn: 'lots' is not an integer" in x for x in lines), output
    assert any("limits entry 1, value: expected an integer" in x for x in lines), output
    assert any("tcp_fin_timeout: warning: the why says this is about TIME_WAIT" in x
               for x in lines), output  # fmt: skip


def test_strict_makes_every_warning_an_error(tmp_path: Path, root: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "name: p\nsysctl:\n  net.ipv4.tcp_fin_timeout: {value: 30, why: shortens TIME_WAIT}\n"
    )
    args = ("validate", str(tmp_path / "p.yaml"), "--root", str(root))
    code, output, _ = run(*args)
    assert code == 0 and "1 warning" in output
    code, output, _ = run(*args, "--strict")
    assert code == 1
    assert "(an error with --strict)" in output
    assert output.splitlines()[-1] == "1 error, 0 warnings in 1 profile"
    code, _, _ = run("plan", str(tmp_path / "p.yaml"), "--root", str(root), "--no-kernel",
                     "--strict")  # fmt: skip
    assert code == 1


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUNER_NO_CACHE": "1"}
    for extra in ((), ("--json",)):
        command = [sys.executable, "-m", "tuner", "plan", "haproxy-2m-conns",
                   "--root", str(REPO / "tests"), "--no-kernel", *extra]  # fmt: skip
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()  # the reader is gone before tuner prints, as `| head -0` would be
            stderr = proc.stderr.read().decode()
            code = proc.wait(timeout=60)
        assert (code, stderr) == (141, "")
