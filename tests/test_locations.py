"""Every diagnostic's line and column, proven on a corpus of profiles with problems at known
places: each entry is written with a marker where its message must point, in any order, in block
and flow style, before and after invalid entries (a partial model leaves the invalid entries out;
the ones after them must still point at their own lines)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner.app.validate import validate
from tuner.base.diagnostics import Diagnostic
from tuner.machine.host import Host
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolve import resolve

MARK = "@@"

# A limits entry: (text with a marker where its error points, or none), in two styles. {n} makes
# each entry's domain unique, so that no two entries collide unless a case means them to.
LIMITS = {
    "valid": ["  - {{domain: user{n}, type: soft, item: nproc, value: 5}}\n",
              "  - domain: user{n}\n    type: hard\n    item: nproc\n    value: 7\n"],
    "bad value": ["  - {{domain: user{n}, type: soft, item: nofile, value: @@lots}}\n",
                  "  - domain: user{n}\n    type: soft\n    item: nofile\n    value: @@lots\n"],
    "bad type": ["  - {{domain: user{n}, type: @@sofft, item: nofile, value: 5}}\n",
                 "  - domain: user{n}\n    type: @@both\n    item: nofile\n    value: 5\n"],
    "bad item": ["  - {{domain: user{n}, type: soft, item: @@nofiles, value: 5}}\n",
                 "  - domain: user{n}\n    type: soft\n    item: @@cores\n    value: 5\n"],
    "missing value": ["  - @@{{domain: user{n}, type: soft, item: nofile}}\n",
                      "  - @@domain: user{n}\n    type: soft\n    item: nofile\n"],
    "unknown field": ["  - {{domain: user{n}, type: soft, item: nofile, value: 5, @@colour: red}}\n",
                      "  - domain: user{n}\n    type: soft\n    item: nofile\n    value: 5\n"
                      "    @@colour: red\n"],
    "soft above hard": ["  - {{domain: user{n}, type: soft, item: nofile, value: @@9000}}\n"
                        "  - {{domain: user{n}, type: hard, item: nofile, value: 100}}\n",
                        "  - domain: user{n}\n    type: soft\n    item: nofile\n    value: @@9000\n"
                        "  - domain: user{n}\n    type: hard\n    item: nofile\n    value: 100\n"],
    "repeated": ["  - {{domain: user{n}, type: soft, item: nproc, value: 5}}\n"
                 "  - @@{{domain: user{n}, type: soft, item: nproc, value: 6}}\n",
                 "  - domain: user{n}\n    type: soft\n    item: nproc\n    value: 5\n"
                 "  - @@domain: user{n}\n    type: soft\n    item: nproc\n    value: 6\n"],
}  # fmt: skip
SYSCTL = {
    "valid": ["  net.core.somaxconn{n}: {{value: 4096}}\n", "  vm.swappiness{n}:\n    value: 10\n"],
    "out of range": ["  net.ipv4.tcp_tw_reuse: {{value: @@7}}\n",
                     "  net.ipv4.tcp_tw_reuse:\n    value: @@7\n"],
    "not a number": ["  fs.nr_open: {{value: @@lots}}\n", "  fs.nr_open:\n    value: @@lots\n"],
    "unknown field": ["  fs.file-max: {{value: 5000000, @@colour: red}}\n",
                      "  fs.file-max:\n    value: 5000000\n    @@colour: red\n"],
}  # fmt: skip
# Keys that exist only once in the catalog can appear only once; "valid" sysctl entries are
# written as keys that exist (numbered aliases do not), so they are drawn at most once too.
ONCE = {"out of range", "not a number", "unknown field"}


def expected(text: str) -> tuple[str, set[tuple[int, int]]]:
    """The text without markers, and the (line, column) of each marker, counted from 1."""
    marks = set()
    lines = []
    for number, marked in enumerate(text.splitlines(keepends=True), start=1):
        line = marked
        while MARK in line:
            column = line.index(MARK)
            marks.add((number, column + 1))
            line = line[:column] + line[column + len(MARK) :]
        lines.append(line)
    return "".join(lines), marks


entries = st.lists(st.tuples(st.sampled_from(sorted(LIMITS)), st.integers(0, 1)), max_size=6)
sysctls = st.lists(st.tuples(st.sampled_from(sorted(SYSCTL)), st.integers(0, 1)), max_size=4,
                   unique_by=lambda e: e[0])  # fmt: skip


def diagnostics(path: Path, root: Path) -> tuple[Diagnostic, ...]:
    refs = [ProfileRef.parse(str(path))]
    return validate(refs, Host(root, None), ProfileLibrary.for_root(root, resolve)).found


def build(limits: list[tuple[str, int]], sysctl: list[tuple[str, int]], first: str) -> str:
    parts = {"limits": "".join(LIMITS[kind][style].format(n=n) for n, (kind, style) in
                               enumerate(limits)),
             "sysctl": "".join(SYSCTL[kind][style].format(n="") for kind, style in sysctl)}  # fmt: skip
    text = "description: a corpus profile\n"
    for section in (first, "sysctl" if first == "limits" else "limits"):
        if parts[section]:
            text += f"{section}:\n{parts[section]}"
    return text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limits=entries, sysctl=sysctls, first=st.sampled_from(["limits", "sysctl"]))
def test_every_error_points_at_its_marker(
    limits: list[tuple[str, int]], sysctl: list[tuple[str, int]], first: str, root: Path
) -> None:
    text, marks = expected(build(limits, sysctl, first))
    path = root / "corpus.yaml"
    path.write_text(text)
    found = diagnostics(path, root)
    errors = {(d.location.line, d.location.col) for d in found
              if d.severity == "error" and d.location is not None}  # fmt: skip
    assert errors == marks, "\n".join([text, *map(str, found)])


def test_a_warning_after_an_invalid_entry_points_at_its_own_line(root: Path) -> None:
    """The case users met: an invalid entry on line 3, then a rule's finding about lines 4-7
    reported at 3:52 (the invalid entry's value), since the partial model counted without it."""
    text, marks = expected(
        "description: x\n"
        "limits:\n"
        "  - {domain: '*', type: soft, item: nproc, value: @@lots}\n"
        "  - domain: '*'\n"
        "    type: soft\n"
        "    item: nofile\n"
        "    value: @@4096\n"
    )
    path = root / "after.yaml"
    path.write_text(text)
    found = diagnostics(path, root)
    where = {(d.location.line, d.location.col) for d in found if d.location is not None}
    assert where == marks, "\n".join(map(str, found))
    assert any(d.rule == "limits-root-wildcard" and d.location and d.location.line == 7
               for d in found)  # fmt: skip
