"""The plan: what applying a profile would change, in three layers.

- kernel: live /proc/sys values against the profile's;
- file: every file tuner renders against what is on disk (and tuner's own files that the profile
  no longer wants, which would be removed);
- boot: keys that another sysctl.d file or /etc/sysctl.conf would override at the next boot,
  and limits that another limits file would override at the next login (pam_limits).

``make_plan`` is pure apart from reads through the host. Files and values are compared as they
are (flat mappings: no diff library needed); difflib shows file differences as unified diffs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar, Literal

from tuner.base.diagnostics import Diagnostic
from tuner.base.errors import HostError
from tuner.changes import render
from tuner.knowledge import capacity, catalog
from tuner.knowledge.facts import Facts
from tuner.machine.host import MANAGED_MODE, FileState, Host
from tuner.machine.live import LiveKernel
from tuner.model import pamlimits, sysctld
from tuner.profile.resolved import Profile

Layer = Literal["kernel", "file", "boot"]


@dataclass(frozen=True)
class KernelChange:
    """A live value to set (``missing``: the running kernel has no such key; ``unreadable``)."""

    action: KernelAction
    key: str
    current: str | None
    desired: str
    why: str | None = None
    source: str | None = None  # where the profile sets it
    unit: str | None = None
    layer: ClassVar[Literal["kernel"]] = "kernel"

    @property
    def pending(self) -> bool:
        return self.action == "set"

    def to_json(self) -> dict[str, object]:
        return _json(self.layer, self.action, "key", self.key, self.current, self.desired,
                     why=self.why, source=self.source, unit=self.unit)  # fmt: skip


@dataclass(frozen=True)
class FileChange:
    """A file tuner renders, to create, rewrite or delete."""

    action: FileAction
    path: str
    current: str | None  # the text on disk now (None: absent)
    desired: str | None  # None: delete
    diff: str | None = None
    note: str | None = None  # a file whose mode or owner apply will repair
    layer: ClassVar[Literal["file"]] = "file"

    @property
    def pending(self) -> bool:
        return True

    def to_json(self) -> dict[str, object]:
        return _json(self.layer, self.action, "path", self.path, self.current, self.desired,
                     diff=self.diff, note=self.note)  # fmt: skip


@dataclass(frozen=True)
class BootShadow:
    """A setting another file would decide at the next boot (sysctl.d) or login (pam_limits)."""

    key: str  # a sysctl key, or "DOMAIN TYPE ITEM" for a limits line
    current: str  # what the other file sets
    desired: str
    shadowed_by: str | None  # FILE:LINE of what wins
    tools: tuple[str, ...]  # the consumers that read it so: systemd-sysctl, sysctl, pam_limits
    why: str | None = None
    source: str | None = None
    layer: ClassVar[Literal["boot"]] = "boot"
    action: ClassVar[Literal["shadowed"]] = "shadowed"

    @property
    def pending(self) -> bool:
        return False  # apply cannot change another file: a warning says so

    def to_json(self) -> dict[str, object]:
        return _json(self.layer, self.action, "key", self.key, self.current, self.desired,
                     why=self.why, source=self.source, shadowed_by=self.shadowed_by,
                     tools=list(self.tools) or None)  # fmt: skip


Change = KernelChange | FileChange | BootShadow
KernelAction = Literal["set", "missing", "unreadable"]
FileAction = Literal["create", "update", "delete"]


def _json(layer: str, action: str, name: str, what: str, current: str | None,
          desired: str | None, **extra: object) -> dict[str, object]:  # fmt: skip
    """A change as ``plan --json`` shows it: what every change has, then what is set of the
    rest."""
    data: dict[str, object] = {"layer": layer, "action": action, name: what}
    data |= {"current": current, "desired": desired}
    return data | {k: v for k, v in extra.items() if v is not None}


@dataclass(frozen=True)
class Plan:
    profile: Profile
    mode: Literal["host", "image"]
    root: str
    proc_sys: str | None
    kernel_release: str | None
    changes: tuple[Change, ...]
    in_sync: tuple[str, ...]  # keys and paths already as desired
    diagnostics: tuple[Diagnostic, ...]
    files: Mapping[PurePosixPath, str | None] = field(default_factory=dict)  # None: remove
    capacity: tuple[capacity.Ceiling, list[capacity.Check]] | None = None

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.pending)

    @property
    def has_changes(self) -> bool:
        return bool(self.pending)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity != "error"]

    def count(self, layer: Layer, action: str) -> int:
        return sum(1 for c in self.changes if c.layer == layer and c.action == action)

    def to_json(self) -> dict[str, object]:
        """The body of ``plan --json`` (report.envelope adds the versions)."""
        return {
            "profile": self.profile.name,
            "extends": list(self.profile.chain[:-1]),
            "mode": self.mode,
            "root": self.root,
            "proc_sys": self.proc_sys,
            "kernel_release": self.kernel_release,
            "has_changes": self.has_changes,
            "changes": [c.to_json() for c in self.changes],
            "in_sync": list(self.in_sync),
            "capacity": None
            if self.capacity is None
            else {
                "ceiling": self.capacity[0].to_json(),
                "checks": [c.to_json() for c in self.capacity[1]],
            },
            "warnings": [d.to_json() for d in self.warnings],
            "errors": [d.to_json() for d in self.errors],
        }


def managed_files_on_disk(host: Host) -> list[PurePosixPath]:
    """tuner's own files now on disk (they start with the managed-file header)."""
    candidates = [render.SYSCTL_FILE, render.LIMITS_FILE]
    for name in host.list_dir(render.SYSTEMD_DIR):
        if name.endswith(".d"):
            candidates.append(render.SYSTEMD_DIR / name / render.DROPIN_NAME)
    return [p for p in candidates if render.is_managed(host.read_text(p))]


def desired_files(profile: Profile, host: Host) -> dict[PurePosixPath, str | None]:
    """Rendered files, plus None for each of tuner's files the profile no longer wants."""
    files: dict[PurePosixPath, str | None] = dict(render.render_files(profile))
    for path in managed_files_on_disk(host):
        files.setdefault(path, None)
    return files


def observe(
    desired: Mapping[PurePosixPath, str | None], host: Host
) -> tuple[dict[str, FileState | None], list[Diagnostic]]:
    """Each desired path's file as it is now (read once), and the paths apply would refuse to
    touch (a symlink or a non-file planted where tuner's file goes): plan says so instead of
    showing the link's target as the current content."""
    states: dict[str, FileState | None] = {}
    found = []
    listings: dict[PurePosixPath, set[str]] = {}
    for path in sorted(desired):
        grandparent = path.parent.parent
        if grandparent not in listings:  # one listing tells which drop-in directories exist
            listings[grandparent] = set(host.list_dir(grandparent))
        if path.parent.name not in listings[grandparent]:
            states[str(path)] = None
            continue
        try:
            states[str(path)] = host.file_state(path)
        except HostError as exc:
            message = f"{exc}: apply would refuse; remove it or put a regular file there"
            found.append(Diagnostic("error", message, None, str(path), "unsafe-target"))
    return states, found


def _file_changes(
    desired: Mapping[PurePosixPath, str | None],
    states: Mapping[str, FileState | None],
    owner: tuple[int, int],
) -> tuple[list[FileChange], list[str]]:
    desired = {p: t for p, t in desired.items() if str(p) in states}
    observed = {p: None if s is None else s.content.decode("utf-8", "surrogateescape")
                for p, s in states.items()}  # fmt: skip
    wanted = {str(p): text for p, text in desired.items()}
    notes = {p: _permissions(states[p], owner) for p in wanted if wanted[p] is not None}
    differ = {k for k in wanted if observed.get(k) != wanted[k] or notes.get(k)}
    changes, same = [], []
    for path in sorted(wanted):
        if path not in differ:
            same.append(path)
            continue
        current, text = observed[path], wanted[path]
        action: FileAction = "create" if current is None else "delete" if text is None else "update"
        diff = _diff(path, current, text)
        note = notes.get(path) if action == "update" else None
        changes.append(FileChange(action, path, current, text, diff=diff, note=note))
    return changes, same


def _diff(path: str, current: str | None, text: str | None) -> str:
    """The unified diff from ``current`` to ``text`` (None: no file), as difflib writes it; a
    file created or removed whole is written out directly (thousands of drop-ins in one plan)."""
    old, new = _lines(current or ""), _lines(text or "")
    if old and new:
        return "".join(difflib.unified_diff(old, new, f"{path} (on disk)", f"{path} (planned)"))
    if not old and not new:
        return ""
    size = len(old or new)
    span = "1" if size == 1 else f"1,{size}"
    if new:
        head = f"--- {'/dev/null' if current is None else path + ' (on disk)'}\n"
        return f"{head}+++ {path} (planned)\n@@ -0,0 +{span} @@\n" + "".join(f"+{x}" for x in new)
    tail = "/dev/null" if text is None else f"{path} (planned)"
    return f"--- {path} (on disk)\n+++ {tail}\n@@ -{span} +0,0 @@\n" + "".join(f"-{x}" for x in old)


def _permissions(state: FileState | None, owner: tuple[int, int]) -> str | None:
    """How a managed file's mode and owner differ from what apply writes (apply repairs it)."""
    if state is None:
        return None
    found = []
    if state.mode != MANAGED_MODE:
        found.append(f"mode {state.mode:o} -> {MANAGED_MODE:o}")
    if (state.uid, state.gid) != owner:
        found.append(f"owner {state.uid}:{state.gid} -> {owner[0]}:{owner[1]}")
    return ", ".join(found) or None


def _lines(text: str) -> list[str]:
    """Lines as the consumers read them: split at newline only (``str.splitlines`` also splits
    at NEL, U+2028 and other characters that no config parser treats as a line end)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _kernel_changes(profile: Profile, live: LiveKernel) -> tuple[list[KernelChange], list[str]]:
    observed = {e.key.name: live.value(e.key) for e in profile.sysctl}
    wanted = {e.key.name: e.value for e in profile.sysctl}
    differ = {k for k in wanted if observed.get(k) != wanted[k]}
    changes, same = [], []
    for entry in profile.sysctl:
        name = entry.key.name
        if name not in differ:
            same.append(name)
            continue
        action: KernelAction = "set"
        if observed[name] is None:
            action = "unreadable" if live.error(name) else "missing"
        changes.append(
            KernelChange(
                action,
                name,
                observed[name],
                entry.value,
                why=entry.why,
                source=str(entry.origin),
                unit=known.unit if (known := catalog.lookup(name)) else None,
            )
        )
    return changes, same


def _replaced_changes(
    profile: Profile, replaced: Mapping[str, tuple[str, str]], live: LiveKernel
) -> list[KernelChange]:
    changes = []
    for name, (before, who) in sorted(replaced.items()):
        current = live.value(name)
        if current is None or current == before:
            continue
        why = f"set by {who}, which {profile.name} replaces: back to its value from before"
        unit = known.unit if (known := catalog.lookup(name)) else None
        changes.append(KernelChange("set", name, current, before, why=why, unit=unit))
    return changes


def _boot_changes(
    profile: Profile, desired: Mapping[PurePosixPath, str | None], host: Host
) -> list[BootShadow]:
    """Keys whose value at the next boot would come from some other file than tuner's."""
    files = sysctld.boot_files(host, desired)
    changes = []
    by_tool = {
        tool: sysctld.BootIndex(sysctld.assignments(files, host, tool))
        for tool in (sysctld.SYSTEMD, sysctld.PROCPS)
    }
    for entry in profile.sysctl:
        winners: dict[sysctld.Assignment, list[str]] = {}
        for tool, index in by_tool.items():
            winner = index.effective(entry.key.name)
            if winner is None or winner.file == render.SYSCTL_FILE or winner.value == entry.value:
                continue
            winners.setdefault(winner, []).append(tool)
        for winner, tools in winners.items():
            changes.append(
                BootShadow(
                    entry.key.name,
                    winner.value,
                    entry.value,
                    winner.where,
                    tuple(tools),
                    why=entry.why,
                    source=str(entry.origin),
                )
            )
    return changes


def _login_changes(
    profile: Profile, desired: Mapping[PurePosixPath, str | None], host: Host
) -> list[BootShadow]:
    """Limits whose value at the next login would come from some other line than tuner's."""
    if not profile.limits:
        return []
    lines = pamlimits.login_lines(host, desired)
    index = pamlimits.LoginIndex(lines)
    known = pamlimits.accounts(host)
    changes = []
    for entry in profile.limits:
        who = pamlimits.identity_for(entry.domain, host, known)
        if who is None or entry.item not in pamlimits.RLIMIT_ITEMS:
            continue
        settings = index.effective(who)
        setting = settings.get(entry.item) if settings is not None else None
        winner = None if setting is None else (
            setting.soft_from if entry.kind == "soft" else setting.hard_from
        )  # fmt: skip
        if winner is not None and winner.file == str(render.LIMITS_FILE):
            continue
        wanted = pamlimits.rlimit_number(entry.item, entry.value)
        if winner is not None and pamlimits.rlimit_number(winner.item, winner.value) == wanted:
            continue
        blocker = winner or _no_limits_line(index.lines_for(who), who)
        changes.append(
            BootShadow(
                f"{entry.domain} {entry.kind} {entry.item}",
                blocker.value if blocker and blocker.item else "(not set)",
                entry.value,
                blocker.where if blocker else None,
                ("pam_limits",),
                why=entry.why,
                source=str(entry.origin),
            )
        )
    return changes


def _no_limits_line(
    lines: list[pamlimits.ConfLine], who: pamlimits.Identity
) -> pamlimits.ConfLine | None:
    """The '<domain> -' line that makes pam_limits set nothing for ``who``, if any."""
    return next(
        (line for line in lines if not line.item and pamlimits.effective([line], who) is None),
        None,
    )


def make_plan(
    profile: Profile,
    host: Host,
    diagnostics: list[Diagnostic],
    live: LiveKernel | None = None,
    *,
    replaced: Mapping[str, tuple[str, str]] | None = None,
) -> Plan:
    """``live``: the kernel as already read (by the rules); None reads it afresh. ``replaced``:
    the keys that the applies in effect set and ``profile`` does not, each with the value from
    before them and who set it (``journal.replaced_values``): they go back to that value."""
    live = live or LiveKernel(host)
    desired = desired_files(profile, host)
    changes: list[Change] = []
    in_sync: list[str] = []
    if live.available:
        kernel, same = _kernel_changes(profile, live)
        changes += kernel + _replaced_changes(profile, replaced or {}, live)
        in_sync += same
    states, refused = observe(desired, host)
    files, same = _file_changes(desired, states, host.caller.owner)
    changes += files
    in_sync += same
    changes += _boot_changes(profile, desired, host)
    changes += _login_changes(profile, desired, host)
    notes = list(diagnostics) + refused
    for change in changes:
        if isinstance(change, BootShadow) and change.tools == ("pam_limits",):
            message = (
                f"at login {change.shadowed_by} decides this limit ({change.current}, "
                f"pam_limits); the profile's {change.desired} would not apply"
            )
            notes.append(Diagnostic("warning", message, None, change.key, "login-shadowed"))
        elif isinstance(change, BootShadow):
            message = (
                f"at boot {change.shadowed_by} sets {change.current} after tuner's file "
                f"({', '.join(change.tools)}); the profile's {change.desired} would be lost"
            )
            notes.append(Diagnostic("warning", message, None, change.key, "boot-shadowed"))
    return Plan(
        profile=profile,
        mode="image" if host.image_mode else "host",
        root=str(host.root),
        proc_sys=host.kernel.where,
        kernel_release=live.release,
        changes=tuple(changes),
        in_sync=tuple(in_sync),
        diagnostics=tuple(notes),
        files=desired,
        capacity=(capacity.ceiling(profile, facts), capacity.checks(profile, facts))
        if profile.intent and (facts := Facts(profile, live))
        else None,
    )
