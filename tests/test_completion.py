"""Completion at keyboard speed: the fast path (``cli/completer``) answers from a table that is
the real commands' (``tests/completion_table.py``), agrees with typer's own completion engine on
every command, option and choice, offers profile names wherever a profile is taken, loads none of
the heavy dependencies, and survives whatever a shell (or anyone) puts in its variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from completion_table import build, text
from conftest import REPO
from typer.completion import completion_init, shell_complete  # type: ignore[attr-defined]

from tuner.cli.completer import TABLE, complete
from tuner.cli.main import app

TABLE_DATA = json.loads(TABLE.read_text())


def bash_env(line: str) -> dict[str, str]:
    words = line.split(" ")
    return {"_TUNER_COMPLETE": "complete_bash", "COMP_WORDS": "\n".join(words),
            "COMP_CWORD": str(len(words) - 1)}  # fmt: skip


def fast(line: str, root: Path | None = None, shell_env: dict[str, str] | None = None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMP_", "_T"))}
    result = subprocess.run([sys.executable, "-m", "tuner"], capture_output=True, text=True,
                            env=env | (shell_env or bash_env(line)), check=False, cwd=root)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.split()


def typers(line: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """typer's own engine, for the same request, on the same commands."""
    completion_init()
    old = dict(os.environ)
    os.environ.update(bash_env(line))
    try:
        shell_complete(typer.main.get_command(app), {}, "tuner", "_TUNER_COMPLETE", "complete_bash")
    finally:
        os.environ.clear()
        os.environ.update(old)
    return capsys.readouterr().out.split()


def test_the_shipped_table_is_the_commands() -> None:
    assert TABLE.read_text() == text(), "rewrite it: .venv/bin/python tests/completion_table.py"


def structural_requests() -> list[str]:
    """Every place where a command, an option or a choice is completed."""
    lines = ["tuner ", "tuner -", "tuner --", "tuner p", "tuner ex"]
    commands = [(name, node) for name, node in TABLE_DATA["commands"].items()]
    commands += [(f"export {name}", node)
                 for name, node in TABLE_DATA["commands"]["export"]["commands"].items()]  # fmt: skip
    for name, node in commands:
        lines += [f"tuner {name} -", f"tuner {name} --", f"tuner {name} --r"]
        for option, spec in node["options"].items():
            if isinstance(spec["value"], list):
                lines.append(f"tuner {name} {option} ")
        for argument in node.get("arguments", []):
            if isinstance(argument["value"], list):
                lines.append(f"tuner {name} ")
    return lines


def test_the_fast_path_agrees_with_typers_engine(capsys: pytest.CaptureFixture[str]) -> None:
    requests = structural_requests()
    assert len(requests) > 50
    for line in requests:
        words = line.split(" ")
        ours = [value for value, _help in complete(words[1:-1], words[-1], TABLE_DATA)]
        assert sorted(ours) == sorted(typers(line, capsys)), line


def test_profile_names_wherever_a_profile_is_taken(root: Path) -> None:
    site = root / "etc/tuner/profiles"
    site.mkdir(parents=True)
    (site / "edge-proxy.yaml").write_text("description: x\n")
    (site / "bad name.yaml").write_text("description: x\n")  # never offered to a shell
    names = ["edge-proxy", "backend-server", "base", "haproxy-2m-conns", "loadgen-client"]
    places = [("plan", ""), ("show", ""), ("apply", ""), ("capacity", ""), ("validate", ""),
              ("vendor", ""), ("export cloud-init", ""), ("validate", "base "),
              ("plan", "--json ")]  # fmt: skip
    for command, rest in places:
        assert fast(f"tuner {command} --root {root} {rest}") == names, command
        assert fast(f"tuner {command} --root={root} {rest}e") == ["edge-proxy"], command
    assert fast(f"tuner plan --root {root} x y ") == []  # plan takes one profile
    # doctor is about this host (no --root): its --profile offers what `tuner list` shows here
    assert set(names) - {"edge-proxy"} <= set(fast("tuner doctor --profile "))


def test_keys_rules_tuned_names_and_choices() -> None:
    assert fast("tuner explain net.core.somax") == ["net.core.somaxconn"]
    assert fast("tuner explain port-range-p") == ["port-range-parity"]
    assert fast("tuner completion ") == ["bash", "zsh", "fish"]
    assert fast("tuner import --format ") == ["sysctl", "limits"]
    if Path("/usr/lib/tuned/throughput-performance/tuned.conf").exists():
        assert fast("tuner import --tuned throughput-p") == ["throughput-performance"]
    assert fast("tuner plan --root ") == []  # a directory: the shell completes it
    assert fast("tuner frobnicate ") == []


def test_zsh_and_fish_formats() -> None:
    zsh = {"_TUNER_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "tuner pla"}
    out = subprocess.run([sys.executable, "-m", "tuner"], capture_output=True, text=True,
                         env=os.environ | zsh, check=True).stdout  # fmt: skip
    assert (
        out == '_arguments \'*: :(("plan":"Show what applying PROFILE would change\\\\:..."))\'\n'
    )
    nothing = zsh | {"_TYPER_COMPLETE_ARGS": "tuner plan --root "}
    out = subprocess.run([sys.executable, "-m", "tuner"], capture_output=True, text=True,
                         env=os.environ | nothing, check=True).stdout  # fmt: skip
    assert out == "_files\n"
    fish = {"_TUNER_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "tuner plan --ro",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args"}  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "tuner"], capture_output=True, text=True,
                         env=os.environ | fish, check=True).stdout  # fmt: skip
    assert out.splitlines() == ["--root\tFilesystem whose /etc tuner reads and writes (default /). "
                                "Any other root is an image: the running kernel is not read."]  # fmt: skip
    for args, code in (("tuner plan --ro", 0), ("tuner plan --root ", 1)):
        asked = fish | {"_TYPER_COMPLETE_ARGS": args, "_TYPER_COMPLETE_FISH_ACTION": "is-args"}
        result = subprocess.run([sys.executable, "-m", "tuner"], capture_output=True,
                                env=os.environ | asked, check=False)  # fmt: skip
        assert result.returncode == code


def test_a_completion_request_loads_no_framework_and_no_model() -> None:
    probe = (
        "import os, sys\n"
        "from tuner.__main__ import main\n"
        "code = main()\n"
        "heavy = sorted(m for m in ('typer', 'pydantic', 'yaml', 'jinja2', 'deepdiff', 'click')"
        " if m in sys.modules)\n"
        "print('loaded:', heavy, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=os.environ | bash_env("tuner plan ha"), check=False)  # fmt: skip
    assert result.returncode == 0
    assert result.stdout.split() == ["haproxy-2m-conns"]
    assert "loaded: []" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"_TUNER_COMPLETE": "complete_bash", "COMP_WORDS": "tuner\nplan", "COMP_CWORD": "x"},
        {"_TUNER_COMPLETE": "complete_bash", "COMP_WORDS": "tuner\nplan", "COMP_CWORD": "99"},
        {"_TUNER_COMPLETE": "complete_bash", "COMP_WORDS": "tuner\n'pla", "COMP_CWORD": "1"},
        {"_TUNER_COMPLETE": "complete_bash", "COMP_CWORD": "-1"},
        {"_TUNER_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": 'tuner "$(touch PWNED)'},
        {"_TUNER_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "tuner plan --root=\0"},
        {
            "_TUNER_COMPLETE": "complete_zsh",
            "_TYPER_COMPLETE_ARGS": "tuner plan --root /nonexistent ",
        },
    ],
)
def test_hostile_requests_answer_without_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v.replace("\0", "") for k, v in env.items()}
    result = subprocess.run([sys.executable, "-m", "tuner"], capture_output=True, text=True,
                            env=os.environ | env, check=False, cwd=tmp_path)  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_request_runs_no_command() -> None:
    env = os.environ | {"_TUNER_COMPLETE": "source_bash"}
    result = subprocess.run([sys.executable, "-m", "tuner", "apply", "base", "--yes"],
                            capture_output=True, text=True, env=env, check=False)  # fmt: skip
    assert result.returncode == 64
    assert "unknown completion" in result.stderr


def test_table_builder_sees_every_command() -> None:
    assert set(build()["commands"]) == set(TABLE_DATA["commands"])
    assert (REPO / "tuner/data/completion.json") == TABLE
