"""The README's two start-here commands stay true: CI runs the test command verbatim."""

from __future__ import annotations

import re

from conftest import REPO


def start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Start here", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_two_start_commands() -> None:
    plan, tests = start_commands()
    assert plan.endswith("tuner plan haproxy-2m-conns")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command() -> None:
    _plan, tests = start_commands()
    ci = (REPO / ".ci/run").read_text().splitlines()
    assert tests in ci


def test_changelog_has_unreleased_section() -> None:
    assert "## [Unreleased]" in (REPO / "CHANGELOG.md").read_text()
