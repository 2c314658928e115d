"""tuner status: which profile is applied, and whether anything drifted since."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from tuner import __version__, errors, report
from tuner.commands._common import make_host
from tuner.journal import Journal, incomplete_message
from tuner.keys import normalize_live, parse_key


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
    incomplete = [incomplete_message(g) for g in journal.incomplete()]
    applied = journal.applied()
    drift: list[dict[str, object]] = []
    if applied is not None:
        for path, state in sorted(applied.files_after.items()):
            found = host.file_state(PurePosixPath(path))
            expected = state.content if state else None
            if (found.content if found else None) != expected:
                drift.append({"path": path, "expected": "absent" if state is None else "as applied",
                              "found": "absent" if found is None else "changed"})  # fmt: skip
        if not host.image_mode:
            for key, value in sorted(applied.sysctl_after.items()):
                live = host.read_sysctl(parse_key(key))
                if live != normalize_live(value):
                    drift.append({"key": key, "expected": value, "found": live})
    if as_json:
        report.emit_json(
            {
                "format_version": 1,
                "tuner_version": __version__,
                "mode": "image" if host.image_mode else "host",
                "applied": None if applied is None else applied.profile,
                "generation": None if applied is None else applied.number,
                "drifted": bool(drift),
                "drift": drift,
                "incomplete": incomplete,
            }
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
