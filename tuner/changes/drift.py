"""One comparison of an expected state with what the host holds: status's drift and the
transaction's read-back both use it.

A state is files (content, mode, owner, or absent) and live values. deepdiff compares the nested
projections and names each difference by its path; the digest of a file's content stands for the
bytes, so a difference reads "content", "mode" or "owner", not a byte dump. Owners are compared
only when tuner runs as root (a user cannot chown, so an unprivileged run never sets them).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from tuner.base.keys import normalize_live, parse_key
from tuner.base.wording import plural
from tuner.machine import kernel
from tuner.machine.host import FileState, Host

ASPECTS = ("content", "mode", "owner", "presence", "value")  # the ways a host can differ


@dataclass(frozen=True)
class Difference:
    """One way the host differs: a file's content, mode or owner, or a live value. A content
    difference carries the lines: those added and removed since, and the unified diff."""

    path: str | None
    key: str | None
    aspect: str  # one of ASPECTS
    expected: str  # content: the sha256 of what was applied
    found: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    diff: tuple[str, ...] = ()  # unified, from what was applied to what is there now

    def __str__(self) -> str:
        what = self.path or self.key or ""
        if self.aspect == "content":
            said = [plural(len(self.added), "line") + " added"] if self.added else []
            said += [plural(len(self.removed), "line") + " removed"] if self.removed else []
            return f"{what}: changed since it was applied: {', '.join(said) or 'bytes differ'}"
        return f"{what}: {self.aspect} is {self.found}, expected {self.expected}"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"path": self.path, "key": self.key, "aspect": self.aspect}
        lines = {"added": list(self.added), "removed": list(self.removed),
                 "diff": list(self.diff)} if self.aspect == "content" else {}  # fmt: skip
        return (
            {k: v for k, v in data.items() if v is not None}
            | {
                "expected": self.expected,
                "found": self.found,
            }
            | lines
        )


def content_lines(path: str, applied: bytes, now: bytes) -> tuple[tuple[str, ...], ...]:
    """The lines added and removed since ``applied``, and the unified diff (text as UTF-8,
    anything else shown escaped by whoever prints it)."""
    before = applied.decode(errors="replace").splitlines()
    after = now.decode(errors="replace").splitlines()
    diff = tuple(difflib.unified_diff(before, after, f"{path} (applied)", f"{path} (now)",
                                      lineterm=""))  # fmt: skip
    added = tuple(line[1:] for line in diff[2:] if line.startswith("+"))
    removed = tuple(line[1:] for line in diff[2:] if line.startswith("-"))
    return added, removed, diff


def _file(state: FileState | None, *, owners: bool) -> dict[str, Any] | None:
    if state is None:
        return None
    view: dict[str, Any] = {
        "content": hashlib.sha256(state.content).hexdigest(),
        "mode": f"{state.mode:04o}",
    }
    if owners:
        view["owner"] = f"{state.uid}:{state.gid}"
    return view


def observe(
    host: Host, paths: Iterable[str | PurePosixPath], keys: Iterable[str]
) -> tuple[dict[str, FileState | None], dict[str, str | None]]:
    """What the host holds now for ``paths`` and ``keys`` (a key it lacks reads as None)."""
    files = {str(p): host.file_state(PurePosixPath(p)) for p in paths}
    values = {k: kernel.read(host.kernel, parse_key(k)) for k in keys}
    return files, values


def differences(
    expected_files: Mapping[str, FileState | None],
    expected_values: Mapping[str, str],
    found_files: Mapping[str, FileState | None],
    found_values: Mapping[str, str | None],
    *,
    owners: bool,
) -> list[Difference]:
    """Every difference between the expected and the found state, in path and key order;
    owners only with ``owners`` (a user cannot chown, so an unprivileged run never sets them)."""
    from deepdiff import DeepDiff  # only where a comparison is made: never on a plain plan

    expected = {
        "files": {p: _file(s, owners=owners) for p, s in expected_files.items()},
        "values": {k: normalize_live(v) for k, v in expected_values.items()},
    }
    found = {
        "files": {p: _file(found_files.get(p), owners=owners) for p in expected_files},
        "values": {k: found_values.get(k) for k in expected_values},
    }
    diff = DeepDiff(expected, found, verbose_level=2, view="tree")
    out: list[Difference] = []
    for change in [*diff.get("values_changed", []), *diff.get("type_changes", [])]:
        path = change.path(output_format="list")
        before, after = change.t1, change.t2
        if path[0] == "values":
            out.append(Difference(None, path[1], "value", str(before), str(after)))
        elif len(path) == 2:  # a whole file appeared or went
            out.append(Difference(path[1], None, "presence", _present(before), _present(after)))
        elif path[2] == "content":
            applied, now = expected_files[path[1]], found_files.get(path[1])
            lines = content_lines(path[1], applied.content, now.content) if applied and now else ()
            out.append(Difference(path[1], None, "content", str(before), str(after), *lines))
        else:
            out.append(Difference(path[1], None, path[2], str(before), str(after)))
    return sorted(out, key=lambda d: (d.path is None, d.path or d.key or "", d.aspect))


def _present(view: object) -> str:
    return "absent" if view is None else "present"
