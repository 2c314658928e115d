"""What the next boot applies: sysctl.d files and their precedence (sysctl.d(5), procps sysctl(8)).

Both systemd-sysctl and ``sysctl --system`` gather ``*.conf`` files from the directories below; a
file name found in an earlier directory masks the same name in later ones (a link to /dev/null
masks it to nothing); the survivors are applied in lexical order of file name, and within a file
line by line, so the last assignment wins, with one exception: a glob pattern
(``net.ipv4.conf.*.rp_filter``) never overrides a key that some file sets explicitly, whichever
comes first. A glob matches one path component per ``*`` (``net.*.forwarding`` matches nothing
below ``net/ipv4/conf``), as glob(3) does on the path. One difference between the tools:

- procps then applies /etc/sysctl.conf once more, last of all (systemd-sysctl does not read it;
  Debian's /etc/sysctl.d/99-sysctl.conf link brings it into both lists at its own place).

Both rules were observed with procps 4.0.2 and systemd 252 (tests/test_boot_differential.py runs
the real tools on generated file sets and compares them with this model key by key).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from tuner.base.errors import Unreadable
from tuner.base.keys import normalize_live, split_key
from tuner.machine.host import Host

SYSCTL_DIRS = tuple(
    PurePosixPath(d)
    for d in (
        "/etc/sysctl.d",
        "/run/sysctl.d",
        "/usr/local/lib/sysctl.d",
        "/usr/lib/sysctl.d",
        "/lib/sysctl.d",
    )
)
SYSCTL_CONF = PurePosixPath("/etc/sysctl.conf")
SYSTEMD = "systemd-sysctl"
PROCPS = "sysctl --system"
_GLOB = re.compile(r"[*?\[]")
_SPACE = " \t\r\f\v"  # C isspace(): what both tools strip, unlike str.strip's Unicode spaces


@dataclass(frozen=True)
class Assignment:
    pattern: str  # a canonical key name, or a glob over canonical names
    value: str
    file: PurePosixPath  # the path as listed in its directory
    target: PurePosixPath  # where it really is (differs for a symlink)
    line: int
    is_glob: bool

    def matches(self, name: str) -> bool:
        if not self.is_glob:
            return name == self.pattern
        parts, names = self.pattern.split("."), name.split(".")
        return len(parts) == len(names) and all(
            fnmatch.fnmatchcase(n, p) for n, p in zip(names, parts, strict=True)
        )

    @property
    def where(self) -> str:
        link = f" (-> {self.target})" if self.target != self.file else ""
        return f"{self.file}:{self.line}{link}"


@dataclass(frozen=True)
class ConfFile:
    path: PurePosixPath
    target: PurePosixPath
    text: str

    @functools.cached_property
    def assignments(self) -> list[Assignment]:
        return parse_conf(self.text, self.path, self.target)


def parse_conf(
    text: str, path: PurePosixPath, target: PurePosixPath | None = None
) -> list[Assignment]:
    """The assignments of one sysctl.d file, as both tools read them."""
    out = []
    for number, raw in enumerate(text.split("\n"), 1):  # the tools end a line at \\n only
        line = raw.strip(_SPACE)
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip(_SPACE).removeprefix("-").strip(_SPACE)
        if not key:
            continue
        pattern = ".".join(c.replace(".", "/") for c in split_key(key))
        is_glob = bool(_GLOB.search(pattern))
        value = normalize_live(value)
        out.append(Assignment(pattern, value, path, target or path, number, is_glob))
    return out


def boot_files(host: Host, overrides: Mapping[PurePosixPath, str | None]) -> list[ConfFile]:
    """The sysctl.d files in the order they are applied, with ``overrides`` in place of disk.

    ``overrides`` maps a path to the text it will have (None: it will be removed), so the plan can
    look at the boot after apply.
    """
    chosen: dict[str, PurePosixPath] = {}
    for directory in SYSCTL_DIRS:
        names = set(host.list_dir(directory))
        names |= {p.name for p in overrides if p.parent == directory and overrides[p] is not None}
        for name in names:
            path = directory / name
            if not name.endswith(".conf") or name in chosen:
                continue
            if overrides.get(path, "") is None:
                continue
            chosen[name] = path
    files = []
    for name in sorted(chosen):
        path = chosen[name]
        if path in overrides:
            text = overrides[path] or ""
            files.append(ConfFile(path, path, text))
            continue
        target = host.resolve(path)
        try:
            text = host.read_text(path) or ""  # a link to /dev/null reads as nothing: masked
        except Unreadable:
            text = ""
        files.append(ConfFile(path, target, text))
    return files


def assignments(files: list[ConfFile], host: Host, tool: str) -> list[Assignment]:
    """Every assignment in the order ``tool`` applies it."""
    out = [a for f in files for a in f.assignments]
    if tool == PROCPS:
        try:
            text = host.read_text(SYSCTL_CONF)
        except Unreadable:
            text = None
        if text is not None:
            out += parse_conf(text, SYSCTL_CONF)
    return out


class BootIndex:
    """One tool's assignments indexed once: the last explicit one per key, and the globs in
    order, so deciding each of thousands of keys does not rescan every line."""

    def __init__(self, applied: list[Assignment]) -> None:
        self.explicit: dict[str, Assignment] = {}
        self.globs: list[Assignment] = []
        for assignment in applied:
            if assignment.is_glob:
                self.globs.append(assignment)
            else:
                self.explicit[assignment.pattern] = assignment

    def effective(self, name: str) -> Assignment | None:
        """The assignment that decides ``name`` at boot: the last explicit one, else the last
        glob that matches (the same rule for both tools; ``assignments`` gives each tool's list)."""
        found = self.explicit.get(name)
        if found is not None:
            return found
        return next((g for g in reversed(self.globs) if g.matches(name)), None)


def effective(applied: list[Assignment], name: str) -> Assignment | None:
    """``BootIndex(applied).effective(name)``, for a single key."""
    return BootIndex(applied).effective(name)
