"""tuner status: which profile is applied, and whether anything drifted since."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from tuner import errors, report
from tuner.commands._common import make_host
from tuner.host import FileState
from tuner.journal import Generation, Journal, incomplete_message
from tuner.keys import normalize_live, parse_key


def expected_state(
    stack: list[Generation],
) -> tuple[dict[str, FileState | None], dict[str, str]]:
    """What the applies in effect put in place: for each file and key, the newest one's."""
    files: dict[str, FileState | None] = {}
    values: dict[str, str] = {}
    for generation in stack:
        files.update(generation.files_after)
        values.update(generation.sysctl_after)
    return files, values


def run(
    root: Path | None,
    proc_sys: Path | None,
    as_json: bool,
    detailed_exitcode: bool,
    *,
    kernel: bool = True,
) -> int:
    host = make_host(root, proc_sys, kernel=kernel)
    journal = Journal(host)
    generations = journal.generations()
    unsettled = journal.unsettled(generations)
    incomplete = [incomplete_message(g) for g in unsettled]
    stack = journal.in_effect(generations)
    applied = journal.applied(generations)
    drift: list[dict[str, object]] = []
    if stack and not unsettled:
        files, values = expected_state(stack)
        for path, state in sorted(files.items()):
            found = host.file_state(PurePosixPath(path))
            expected = state.content if state else None
            if (found.content if found else None) != expected:
                drift.append({"path": path, "expected": "absent" if state is None else "as applied",
                              "found": "absent" if found is None else "changed"})  # fmt: skip
        if not host.image_mode:
            for key, value in sorted(values.items()):
                live = host.read_sysctl(parse_key(key))
                if live != normalize_live(value):
                    drift.append({"key": key, "expected": value, "found": live})
    if as_json:
        report.emit_json(
            "status",
            {
                "mode": "image" if host.image_mode else "host",
                "applied": None if applied is None else applied.profile,
                "generation": None if applied is None else applied.number,
                "in_effect": [
                    {"generation": g.number, "profile": g.profile, "status": g.status}
                    for g in stack
                ],
                "drifted": bool(drift),
                "drift": drift,
                "incomplete": incomplete,
            },
        )
    else:
        for message in incomplete:
            report.out(f"warning: {message}")
        if applied is None:
            report.out("No profile applied.")
        else:
            report.out(
                f"Applied: {applied.profile} (generation {applied.number}, {applied.finished})"
            )
            below = [f"{g.profile} (generation {g.number})" for g in reversed(stack[:-1])]
            if below:
                report.out(
                    f"  on top of: {', '.join(below)}; `tuner rollback` undoes one at a time"
                )
            if host.image_mode:
                report.out("image mode: files only, the running kernel is not read")
            if not drift:
                report.out("No drift: files and live values are as applied.")
            for item in drift:
                if "path" in item:
                    report.out(f"  drift: {item['path']}: expected {item['expected']}, "
                               f"found {item['found']}")  # fmt: skip
                else:
                    report.out(f"  drift: {item['key']}: expected {item['expected']}, "
                               f"found {item['found']}")  # fmt: skip
    if detailed_exitcode and (drift or incomplete):
        return errors.EXIT_CHANGES
    return errors.EXIT_OK
