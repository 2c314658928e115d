"""Help and usage errors in tuner's own words: no Python type, no pydantic, typer or click phrase
reaches the user, from any command's help or from a corpus of bad invocations."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tuner.cli import registry
from tuner.cli.main import app

runner = CliRunner()

# What typer, click and pydantic say, and how Python names types: none of it is tuner's wording.
LIBRARY_PHRASES = [
    "Input should", "Value error", "Invalid value for", "Possible options", "No such option",
    "No such command", "Got unexpected", "Missing argument", "Missing option",
    "requires an argument", "<str>", "<int>", "<path>", "<bool>", "<float>", "list[", "{PROFILE",
    "{SHELL", "Error: ", "[required]", "Traceback", "is not a valid", "validation error",
    "type=", "pydantic", "typer", "click",
]  # fmt: skip


def phrases_in(text: str) -> list[str]:
    return [phrase for phrase in LIBRARY_PHRASES if phrase in text]


def all_help_pages() -> list[list[str]]:
    pages = [["-h"]] + [[name, "-h"] for name in sorted(registry.COMMANDS)]
    return [*pages, ["export", "cloud-init", "-h"]]


@pytest.mark.parametrize("args", all_help_pages(), ids=" ".join)
def test_help_names_values_not_types(args: list[str]) -> None:
    result = runner.invoke(app, args, prog_name="tuner")
    assert result.exit_code == 0, result.output
    assert "Usage: tuner" in result.output
    assert phrases_in(result.output) == [], result.output


BAD = {
    "a bound": (["history", "--prune", "0"], "--prune: must be at least 1, not 0"),
    "not a number": (["rollback", "--to", "x"], "--to: must be a whole number, not 'x'"),
    "a choice": (["completion", "tcsh"], "SHELL: 'tcsh' is not bash, zsh or fish"),
    "an option's choice": (
        ["export", "cloud-init", "base", "--mode", "both"],
        "--mode: 'both' is not files or apply",
    ),
    "a command typo": (["plann"], "no command 'plann' (did you mean plan?)"),
    "an unknown command": (["frobnicate"], "no command 'frobnicate'\n"),
    "an option typo": (["plan", "x", "--jsn"], "no option --jsn (did you mean --json?)"),
    "an unknown option": (["plan", "x", "--bogus"], "no option --bogus\n"),
    "a missing argument": (["plan"], "missing PROFILE"),
    "several missing": (["validate"], "missing PROFILE..."),
    "one too many": (["plan", "a", "b"], "unexpected argument: b"),
    "two too many": (["plan", "a", "b", "c"], "unexpected arguments: b c"),
    "an option without its value": (["plan", "x", "--root"], "--root needs a value"),
    "doctor's top": (["doctor", "--top", "0"], "--top: must be at least 1, not 0"),
    "import's format": (
        ["import", "--format", "xml", "f", "n"],
        "--format: 'xml' is not sysctl or limits",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_invocations_are_usage_errors_in_tuners_words(case: tuple[list[str], str]) -> None:
    args, said = case
    result = runner.invoke(app, args, prog_name="tuner")
    assert result.exit_code == 64, result.output
    assert f"tuner: error: {said}" in result.output
    assert phrases_in(result.output) == [], result.output
    if "did you mean" not in said:
        assert "did you mean" not in result.output  # --bogus is no typo of --out


def test_a_bad_profile_is_reported_in_tuners_words(tmp_path: Path, root: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "description: 5\n"
        "limits:\n"
        "  - {domain: '*', type: sofft, item: nofile, value: 10}\n"
        "intent: {role: proxy, concurrent_connections: -1}\n"
        "extends: base\n"
    )
    result = runner.invoke(app, ["validate", str(bad), "--root", str(root)])
    assert result.exit_code == 1
    assert phrases_in(result.output) == [], result.output
    assert "limits entry 1, type: 'sofft' is not soft, hard or - (did you mean soft?)" in (
        result.output
    )
    assert "description: must be text, not 5" in result.output
    assert "extends: must be a list (- item lines), not 'base'" in result.output
