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


def test_changelog_keeps_a_changelog() -> None:
    """An [Unreleased] section first, each release dated, one heading per kind of change in
    each section, and a compare link for every version heading."""
    text = (REPO / "CHANGELOG.md").read_text()
    versions = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d\d-\d\d))?$", text, re.MULTILINE)
    assert versions[0] == ("Unreleased", "")
    assert all(date for _, date in versions[1:])
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        kinds = re.findall(r"^### (.+)$", section, re.MULTILINE)
        assert len(kinds) == len(set(kinds)), f"{section.splitlines()[0]}: {kinds}"
        assert set(kinds) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
    links = dict(re.findall(r"^\[([^\]]+)\]: (https://\S+)$", text, re.MULTILINE))
    assert [v for v, _ in versions] == list(links)
    assert links["Unreleased"].endswith(f"/compare/v{versions[1][0]}...HEAD")


def test_licence_text_ships_with_the_code() -> None:
    """pyproject's MIT licence has its text; the collection's GPL headers name a COPYING file."""
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert 'license-files = ["LICENSE"]' in (REPO / "pyproject.toml").read_text()
    collection = REPO / "ansible_collections/tunerops/tuner"
    assert "GNU GENERAL PUBLIC LICENSE" in (collection / "COPYING").read_text()


def test_readme_is_a_start_and_the_docs_it_links_exist() -> None:
    """The README starts a newcomer (at most 250 lines); the manual lives in docs/, and every
    link between the two leads to a file that exists, at a heading that exists."""
    readme = REPO / "README.md"
    assert len(readme.read_text().splitlines()) <= 250
    pages = [readme, *sorted((REPO / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        for target, anchor in re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", page.read_text()):
            path = (page.parent / target).resolve()
            assert path.is_file(), f"{page.name} links to {target}, which does not exist"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", path.read_text(), re.MULTILINE)
                slugs = {
                    re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings
                }
                assert anchor in slugs, f"{page.name} links to {target}#{anchor}: no such heading"
            checked += 1
    assert checked >= 10
