"""tuner import: a profile from what a host already has, a single file, or a tuned profile.

- from a root (``/`` or an image): the boot configuration as the real appliers read it (the
  ``sysctld`` model: the winning explicit assignment of each key, where systemd-sysctl and
  ``sysctl --system`` agree), the login limits as pam_limits reads them (``pamlimits``: the last
  line per domain, type and item that also decides that domain's login) and every ``Limit*=`` in
  force for the units under /etc/systemd/system (``unitfiles``); ``live`` adds catalog keys whose
  live value differs from the kernel default and that no file sets ("live only: not persisted");
- from one sysctl.conf/sysctl.d or limits.conf file (its format told by its content);
- from a tuned profile (``model.tuned``): its merged ``[sysctl]`` settings.

Each setting says where it came from (``source: FILE:LINE``) and keeps the comment above it as its
``why``. Whatever cannot be imported is listed with the reason, at the top of the profile and in
the result; nothing is dropped silently. The profile is validated before it is written: a value
the kernel would refuse is left out (it never took effect), and a rule's finding on what the host
already runs is acknowledged with a reason that says so (for the team to review).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args

import yaml

from tuner import __version__
from tuner.base import limits as limit_syntax
from tuner.base import services
from tuner.base.diagnostics import Diagnostic, Location
from tuner.base.errors import TunerError, Unreadable
from tuner.base.keys import KeySyntaxError, check_value_text, normalize_live, parse_key
from tuner.base.safetext import escape
from tuner.changes.render import LIMITS_FILE
from tuner.knowledge import catalog, rules
from tuner.machine.host import FileState, Host
from tuner.machine.live import LiveKernel
from tuner.machine.rootfs import read_path
from tuner.model import pamlimits, sysctld, tuned, unitfiles
from tuner.profile.document import LimitItem
from tuner.profile.library import PROFILE_NAME, SITE_PROFILES, ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.profile.resolved import LimitEntry, Profile, limit_lines

Format = Literal["sysctl", "limits"]
MAX_FILE = 4 * 1024 * 1024
_TUNER_ITEMS = frozenset(get_args(LimitItem))  # the items a profile may set


class ImportError_(TunerError):
    """A source that cannot be imported (its format unclear, a tuned profile tuned refuses)."""


@dataclass
class _Setting:
    value: str
    source: str
    why: str | None = None
    note: str | None = None  # e.g. "live only: not persisted"
    acknowledge: dict[str, str] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        number = self.value.isascii() and self.value.isdigit() and len(self.value) < 19
        out: dict[str, Any] = {"value": int(self.value) if number else self.value}
        why = " ".join(p for p in (self.note, self.why) if p)
        if why:
            out["why"] = why
        out["source"] = escape(self.source, newlines=False)  # a file name may hold anything
        if self.acknowledge:
            out["acknowledge"] = dict(self.acknowledge)
        return out


@dataclass
class _Draft:
    """What an import found, before it becomes text."""

    description: str
    sysctl: dict[str, _Setting] = field(default_factory=dict)
    limits: dict[tuple[str, str, str], _Setting] = field(default_factory=dict)
    services: dict[tuple[str, str], _Setting] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    acknowledge: dict[str, str] = field(default_factory=dict)  # for the whole profile

    def leave_out(self, what: str, reason: str) -> None:
        line = f"{what}: {reason}"
        if line not in self.left_out:
            self.left_out.append(line)


@dataclass(frozen=True)
class Imported:
    name: str
    text: str
    written: Path | None  # None: printed (--out -)
    counts: dict[str, int]
    left_out: tuple[str, ...]
    acknowledged: tuple[str, ...]  # findings on what the host runs, acknowledged for review

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "written": str(self.written) if self.written else None,
            "imported": self.counts,
            "left_out": list(self.left_out),
            "acknowledged": list(self.acknowledged),
            "profile": self.text,
        }


# --- sources -------------------------------------------------------------------------------------


def from_root(host: Host, *, live: bool = False) -> _Draft:
    where = escape("/" if str(host.root) == "/" else str(host.root), newlines=False)
    draft = _Draft(f"Imported by tuner import from the boot and login configuration of {where}.")
    _boot_sysctl(host, draft)
    _login_limits(host, draft)
    _unit_limits(host, draft)
    if live:
        _live_only(host, draft)
    return draft


def from_file(path: Path, fmt: Format | None) -> _Draft:
    try:
        raw = read_path(path, MAX_FILE)
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read it: {exc.strerror}") from None
    text = raw.decode("utf-8", "surrogateescape")
    fmt = fmt or detect(text, path)
    draft = _Draft(
        f"Imported by tuner import from {escape(path.name, newlines=False)} ({fmt} format)."
    )
    shown = PurePosixPath(str(path))
    if fmt == "sysctl":
        assigned = sysctld.parse_conf(text, shown)
        index = sysctld.BootIndex(assigned)
        for name, winner in sorted(index.explicit.items()):
            _add_sysctl(draft, name, winner.value, winner.where, _comment_above(text, winner.line))
        for glob in index.globs:
            draft.leave_out(f"{glob.where}: {glob.pattern} = {glob.value}", _GLOB)
    else:
        lines = pamlimits.parse_limits_conf(text, str(path))
        for line, kind in _winners(lines, draft):
            _add_limit(draft, line, kind, _comment_above(text, line.line))
    return draft


def from_tuned(profile: str, host: Host) -> _Draft:
    """A tuned profile by name (the root's /etc/tuned, then /usr/lib/tuned) or a directory."""
    search: tuple[PurePosixPath, ...] = tuned.SEARCH_PATH
    name = profile

    def read(path: PurePosixPath) -> str | None:
        try:
            return host.read_text(path)
        except Unreadable:
            return None

    reader = read
    if "/" in profile:
        directory = Path(profile).absolute()
        if not (directory / "tuned.conf").is_file():
            raise ImportError_(f"{profile}: no tuned.conf in this directory")
        name = directory.name
        outside = PurePosixPath(str(directory.parent))
        search = (outside, *tuned.SEARCH_PATH)

        def reader(path: PurePosixPath) -> str | None:
            if path.is_relative_to(outside) and path.parent.parent == outside:
                try:
                    return read_path(Path(str(path)), MAX_FILE).decode("utf-8", "surrogateescape")
                except (FileNotFoundError, NotADirectoryError):
                    return None
                except OSError as exc:
                    raise ImportError_(f"{path}: cannot read it: {exc.strerror}") from None
            return read(path)

    try:
        loaded = tuned.load(name, reader, search)
    except tuned.TunedError as exc:
        raise ImportError_(str(exc)) from None
    summary = f": {escape(loaded.summary, newlines=False)}" if loaded.summary else ""
    draft = _Draft(f"Imported by tuner import from tuned profile {loaded.name}{summary}.")
    texts = {f: reader(f) or "" for f in loaded.files}
    for setting in loaded.sysctl:
        why = _comment_above(texts.get(setting.origin.file, ""), setting.origin.line)
        _add_sysctl(draft, setting.key, setting.value, str(setting.origin), why)
    for item in loaded.left_out:
        where = f"{item.origin}: " if item.origin else ""
        draft.leave_out(f"{where}{item.what}", item.reason)
    return draft


def detect(text: str, path: Path) -> Format:
    """sysctl (``key = value`` lines) or limits (``domain type item value`` lines)."""
    sysctl_lines = limits_lines = 0
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        fields = line.split("#", 1)[0].split()
        if "=" in line and re.fullmatch(r"-?[\w./*?\[\]:-]+", line.split("=", 1)[0].strip()):
            sysctl_lines += 1
        elif len(fields) == 4 and fields[1].lower() in ("soft", "hard", "-"):
            limits_lines += 1
    if sysctl_lines and not limits_lines:
        return "sysctl"
    if limits_lines and not sysctl_lines:
        return "limits"
    raise ImportError_(
        f"{path}: cannot tell whether this is a sysctl or a limits file ({sysctl_lines} "
        f"'key = value' lines, {limits_lines} 'domain type item value' lines); "
        "pass --format sysctl or --format limits"
    )


# --- the root's layers ---------------------------------------------------------------------------

_GLOB = "a glob pattern: tuner sets named keys only; it stays in its file and keeps applying"


def _boot_sysctl(host: Host, draft: _Draft) -> None:
    files = sysctld.boot_files(host, {})
    texts = {f.path: f.text for f in files}
    with contextlib.suppress(Unreadable):
        texts[sysctld.SYSCTL_CONF] = host.read_text(sysctld.SYSCTL_CONF) or ""
    boot = sysctld.BootIndex(sysctld.assignments(files, host, sysctld.SYSTEMD))
    system = sysctld.BootIndex(sysctld.assignments(files, host, sysctld.PROCPS))
    for name in sorted(set(boot.explicit) | set(system.explicit)):
        first, second = boot.effective(name), system.effective(name)
        if first is None and second is not None:
            draft.leave_out(
                f"{second.where}: {name} = {second.value}",
                "only `sysctl --system` reads /etc/sysctl.conf; systemd-sysctl never applies "
                "it at boot (Debian links it in as /etc/sysctl.d/99-sysctl.conf)",
            )
            continue
        assert first is not None
        if second is not None and second.value != first.value:
            draft.leave_out(
                f"{name}",
                f"the appliers disagree: systemd-sysctl sets {first.value} ({first.where}), "
                f"`sysctl --system` {second.value} ({second.where}); decide, then import again",
            )
            continue
        why = _comment_above(texts.get(first.file, ""), first.line)
        _add_sysctl(draft, name, first.value, first.where, why)
    for glob in boot.globs:
        draft.leave_out(f"{glob.where}: {glob.pattern} = {glob.value}", _GLOB)


def _winners(
    lines: list[pamlimits.ConfLine], draft: _Draft
) -> list[tuple[pamlimits.ConfLine, str]]:
    """The last line for each (domain, soft|hard, item) that pam_limits would use; the others
    it ignores are said."""
    found: dict[tuple[str, str, str], pamlimits.ConfLine] = {}
    for line in lines:
        shown = f"{line.where}: {line.domain} {line.type} {line.item} {line.value}".rstrip()
        if line.type == "-" and not line.item:
            draft.leave_out(
                shown, "'<domain> -' (no limits at all for them): tuner cannot express it"
            )
            continue
        problem = _limit_problem(line)
        if problem:
            draft.leave_out(shown, problem)
            continue
        for kind in ("soft", "hard") if line.type == "-" else (line.type,):
            found.pop((line.domain, kind, line.item), None)
            found[(line.domain, kind, line.item)] = line
    return [(line, kind) for (_d, kind, _i), line in found.items()]


def _limit_problem(line: pamlimits.ConfLine) -> str | None:
    if line.type not in ("soft", "hard", "-"):
        return f"type {line.type!r}: pam_limits ignores the line"
    if line.item not in _TUNER_ITEMS:
        return f"item {line.item!r}: pam_limits ignores the line"
    if (
        line.item in pamlimits.RLIMIT_ITEMS
        and pamlimits.rlimit_number(line.item, line.value) is None
    ):
        return f"value {line.value!r}: pam_limits ignores the line"
    try:
        limit_syntax.check_domain(line.domain)
        limit_syntax.check_domain_item(line.domain, line.item)
        value = limit_syntax.for_item(line.item, limit_syntax.normalize_limit_value(line.value))
        limit_syntax.check_item_value(line.item, value)
    except ValueError as exc:
        return str(exc)
    return None


def _login_limits(host: Host, draft: _Draft) -> None:
    lines = pamlimits.login_lines(host, {})
    texts: dict[str, str] = {}
    known = pamlimits.accounts(host)
    before = pamlimits.LoginIndex(lines)
    candidates = []
    for line, kind in _winners(lines, draft):
        who = pamlimits.identity_for(line.domain, host, known)
        if who is not None and line.item in pamlimits.RLIMIT_ITEMS:
            settings = before.effective(who)
            setting = settings.get(line.item) if settings else None
            decider = None if setting is None else (
                setting.soft_from if kind == "soft" else setting.hard_from
            )  # fmt: skip
            number = pamlimits.rlimit_number(line.item, line.value)
            if decider is None or pamlimits.rlimit_number(decider.item, decider.value) != number:
                where = decider.where if decider else "a '<domain> -' line"
                draft.leave_out(
                    f"{line.where}: {line.domain} {kind} {line.item} {line.value}",
                    f"at login {where} decides this for {line.domain} (pam_limits)",
                )
                continue
        candidates.append((line, kind))
    candidates = _same_logins(host, lines, candidates, known, draft)
    for line, kind in candidates:
        if line.file not in texts:
            try:
                texts[line.file] = host.read_text(PurePosixPath(line.file)) or ""
            except Unreadable:
                texts[line.file] = ""
        _add_limit(draft, line, kind, _comment_above(texts[line.file], line.line))


def _same_logins(
    host: Host,
    lines: list[pamlimits.ConfLine],
    candidates: list[tuple[pamlimits.ConfLine, str]],
    known: pamlimits.Accounts,
    draft: _Draft,
) -> list[tuple[pamlimits.ConfLine, str]]:
    """The candidates that, written in tuner's own limits file (its order, not theirs), leave
    every login's limits as they are: each line that would change someone's is left out."""
    people = {pamlimits.identity_for(line.domain, host, known) for line in lines}
    people |= {pamlimits.identity_for(user, host, known) for user in known.users}
    probes = [p for p in people if p is not None]
    before = pamlimits.LoginIndex(lines)
    wanted = {p: _numbers(before.effective(p)) for p in probes}
    while candidates:
        text = _limits_text(candidates)
        after = pamlimits.LoginIndex(pamlimits.login_lines(host, {LIMITS_FILE: text}))
        culprits: set[tuple[str, str, str]] = set()
        for who in probes:
            settings = after.effective(who)
            if _numbers(settings) == wanted[who]:
                continue
            for item, setting in (settings or {}).items():
                for kind, line in (("soft", setting.soft_from), ("hard", setting.hard_from)):
                    if line is not None and line.file == str(LIMITS_FILE):
                        old = (wanted[who] or {}).get(item)
                        new = (setting.soft, setting.hard)
                        if old != new:
                            culprits.add((line.domain, kind, item))
        if not culprits:
            return candidates
        kept = []
        for line, kind in candidates:
            if (line.domain, kind, line.item) in culprits:
                draft.leave_out(
                    f"{line.where}: {line.domain} {kind} {line.item} {line.value}",
                    "in tuner's own limits file (its order, not this one's) it would change "
                    "what another login gets; it stays in its file",
                )
            else:
                kept.append((line, kind))
        if len(kept) == len(candidates):
            return kept
        candidates = kept
    return candidates


def _numbers(
    settings: dict[str, pamlimits.Setting] | None,
) -> dict[str, tuple[int | None, int | None]] | None:
    if settings is None:
        return None
    return {item: (s.soft, s.hard) for item, s in settings.items()}


def _limits_text(candidates: list[tuple[pamlimits.ConfLine, str]]) -> str:
    """The lines as tuner's limits file would hold them (``limit_lines``: its order)."""
    entries = tuple(
        LimitEntry(line.domain, kind, line.item, _limit_value(line), None, Location("", 0, 0))
        for line, kind in candidates
    )
    return "".join(
        f"{rule.domain} {rule.type} {rule.item} {rule.value}\n" for rule in limit_lines(entries)
    )


def _limit_value(line: pamlimits.ConfLine) -> str:
    return limit_syntax.for_item(line.item, limit_syntax.normalize_limit_value(line.value))


def _unit_limits(host: Host, draft: _Draft) -> None:
    found, skipped = unitfiles.etc_limits(host)
    for item in skipped:
        draft.leave_out(item.what, item.reason)
    texts: dict[PurePosixPath, str] = {}
    for unit, directives in sorted(found.items()):
        for directive, assigned in sorted(directives.items()):
            shown = f"{assigned.where}: {directive}={assigned.value}"
            try:
                value = services.normalize_service_value(assigned.value)
                services.parse_value(directive, value)
            except ValueError as exc:
                draft.leave_out(
                    shown, f"{exc}: tuner cannot read it as systemd does, so it is left as it is"
                )
                continue
            if assigned.file not in texts:
                texts[assigned.file] = host.read_text(assigned.file) or ""
            why = _comment_above(texts[assigned.file], assigned.line)
            draft.services[(unit, directive)] = _Setting(value, assigned.where, why)


def _live_only(host: Host, draft: _Draft) -> None:
    live = LiveKernel(host)
    if not live.available:
        raise ImportError_("--live reads the running kernel: not with an image root (--root)")
    files = sysctld.boot_files(host, {})
    boot = sysctld.BootIndex(sysctld.assignments(files, host, sysctld.SYSTEMD))
    for name, setting in sorted(draft.sysctl.items()):
        now = live.value(name)
        if now is not None and normalize_live(now) != setting.value:
            draft.leave_out(
                f"{name} = {normalize_live(now)} (live)",
                f"differs from what boot sets ({setting.value}, {setting.source}); the boot "
                "value is imported, the live one is lost at the next boot",
            )
    for name, entry in sorted(catalog.entries().items()):
        default = entry.default_for(live.release)
        if default is None or name in draft.sysctl or boot.effective(name) is not None:
            continue
        value = live.value(name)
        if value is None or normalize_live(value) == normalize_live(default):
            continue
        before = len(draft.sysctl)
        _add_sysctl(draft, name, normalize_live(value), f"{host.kernel.where} (live)", None)
        if len(draft.sysctl) > before:
            draft.sysctl[
                name
            ].note = f"Live only: not persisted (the kernel default is {normalize_live(default)})."


# --- settings ------------------------------------------------------------------------------------


def _add_sysctl(draft: _Draft, raw: str, value: str, where: str, why: str | None) -> None:
    shown = f"{where}: {raw} = {value}"
    try:
        name = parse_key(raw).name
        check_value_text(value)
    except (KeySyntaxError, ValueError) as exc:
        draft.leave_out(shown, str(exc))
        return
    known = catalog.lookup(name)
    problem = known.check(value) if known else None
    if problem:
        draft.leave_out(shown, f"{problem}: the kernel refuses it, so it never took effect")
        return
    draft.sysctl[name] = _Setting(value, where, why)


def _add_limit(draft: _Draft, line: pamlimits.ConfLine, kind: str, why: str | None) -> None:
    draft.limits[(line.domain, kind, line.item)] = _Setting(_limit_value(line), line.where, why)


def _comment_above(text: str, line: int) -> str | None:
    """The comment block right above ``line`` (1-based), as one sentence-like text."""
    lines = text.split("\n")
    said: list[str] = []
    number = line - 2
    while 0 <= number < len(lines):
        stripped = lines[number].strip()
        if not stripped or stripped[0] not in "#;":
            break
        said.insert(0, stripped.lstrip("#;").strip())
        number -= 1
    text = " ".join(p for p in said if p)
    if not text:
        return None
    text = escape(text, newlines=False)
    return text[:500]


# --- the profile ---------------------------------------------------------------------------------


def render(draft: _Draft) -> str:
    body: dict[str, Any] = {"description": draft.description}
    if draft.sysctl:
        body["sysctl"] = {k: s.doc() for k, s in sorted(draft.sysctl.items())}
    if draft.limits:
        grouped: dict[tuple[str, str], dict[str, _Setting]] = {}
        for (domain, kind, item), setting in draft.limits.items():
            grouped.setdefault((domain, item), {})[kind] = setting
        rules_out = []
        for (domain, item), kinds in sorted(grouped.items()):
            soft, hard = kinds.get("soft"), kinds.get("hard")
            if soft and hard and soft.doc() == hard.doc():  # one "-" line
                rules_out.append({"domain": domain, "type": "-", "item": item} | soft.doc())
                continue
            for kind in ("soft", "hard"):
                if kind in kinds:
                    rules_out.append({"domain": domain, "type": kind, "item": item}
                                     | kinds[kind].doc())  # fmt: skip
        body["limits"] = rules_out
    if draft.services:
        units: dict[str, dict[str, Any]] = {}
        for (unit, directive), setting in sorted(draft.services.items()):
            units.setdefault(unit, {})[directive] = setting.doc()
        body["services"] = units
    if draft.acknowledge:
        body["acknowledge"] = dict(draft.acknowledge)
    header = [
        f"# Written by `tuner import` (tuner {__version__}): every value says where it came from."
    ]
    if draft.left_out:
        header.append("# Left out (tuner does not import these; each with the reason):")
        header += [f"#   {escape(line, newlines=False)}" for line in draft.left_out]
    else:
        header.append("# Nothing was left out.")
    text = yaml.safe_dump(body, sort_keys=False, width=100, allow_unicode=False)
    return "\n".join(header) + "\n" + text


def finish(draft: _Draft, name: str, library: ProfileLibrary, host: Host) -> tuple[str, list[str]]:
    """The profile's text, checked as ``tuner validate`` checks it (the profile alone): what the
    kernel would refuse is left out, a rule's finding on what the host runs is acknowledged for
    review. Also: the acknowledged findings."""
    acknowledged: list[str] = []
    for _attempt in range(4):
        text = render(draft)
        profile, found = _check(text, name, library, host)
        errors = [d for d in found if d.severity == "error" and d.rule is None]
        if errors or profile is None:
            said = "; ".join(str(d) for d in errors[:3])
            raise TunerError(f"tuner import produced a profile it cannot load (a bug): {said}")
        findings = [d for d in found if d.rule and d.severity in ("error", "warning")]
        if not findings:
            return text, acknowledged
        for finding in findings:
            rule = rules.by_id(finding.rule or "")
            targets = _settings_at(draft, profile, finding)
            if rule is None:
                continue
            if not targets:  # about no one setting: the whole profile acknowledges it
                draft.acknowledge[rule.id] = _review("the host")
                acknowledged.append(f"{finding.message} [{rule.id}]")
                continue
            for section, key, target in targets:
                if rule.binding is not None:
                    getattr(draft, section).pop(key, None)
                    draft.leave_out(target.source, f"{finding.message} [{rule.id}]")
                    continue
                target.acknowledge[rule.id] = _review(target.source)
                acknowledged.append(f"{target.source}: {finding.message} [{rule.id}]")
    raise TunerError("tuner import could not settle the profile's findings (a bug)")


def _review(source: str) -> str:
    return f"imported from {source} as the host ran it: review"


def _check(
    text: str, name: str, library: ProfileLibrary, host: Host
) -> tuple[Profile | None, list[Diagnostic]]:
    with tempfile.TemporaryDirectory(prefix="tuner-import-") as scratch:
        path = Path(scratch) / f"{name}.yaml"
        path.write_text(text)
        profile, diagnostics = library.resolve(ProfileRef.parse(str(path)), partial=True)
        if profile is None:
            return None, diagnostics
        live = LiveKernel(Host(host.root, None))  # the profile alone, as validate judges it
        return profile, diagnostics + rules.check(rules.Context(profile, live))


def _settings_at(
    draft: _Draft, profile: Profile, finding: Diagnostic
) -> list[tuple[str, Any, _Setting]]:
    """The imported settings a finding is about: the ones whose value it points at."""
    where = finding.location
    out: list[tuple[str, Any, _Setting]] = []
    for entry in profile.sysctl:
        if (
            entry.origin == where or entry.key.name == finding.key
        ) and entry.key.name in draft.sysctl:
            out.append(("sysctl", entry.key.name, draft.sysctl[entry.key.name]))
    for limit in profile.limits:
        key = (limit.domain, limit.kind, limit.item)
        if limit.origin == where and key in draft.limits:
            out.append(("limits", key, draft.limits[key]))
    for service in profile.services:
        pair = (service.unit, service.directive)
        if service.origin == where and pair in draft.services:
            out.append(("services", pair, draft.services[pair]))
    return out


def write(
    draft: _Draft, name: str, host: Host, library: ProfileLibrary, out: Path | None, *,
    force: bool = False,
) -> Imported:  # fmt: skip
    if not PROFILE_NAME.fullmatch(name):
        raise ImportError_(
            f"{name!r} is not a profile name: letters, digits, '.', '_' and '-', starting with a "
            "letter or digit"
        )
    bundled = {e.name for e in library.entries() if e.origin == "bundled" or e.shadows_bundled}
    if name in bundled and out is None and not force:
        raise ImportError_(
            f"{name!r} is a bundled profile: a site profile of that name would replace it for "
            "every profile that extends it; choose another name (or --force)"
        )
    text, acknowledged = finish(draft, name, library, host)
    body = yaml.safe_load(text)
    counts = {section: len(body.get(section) or ()) for section in ("sysctl", "limits")}
    counts["services"] = len(draft.services)
    written: Path | None = None
    if out is None:
        path = SITE_PROFILES / f"{name}.yaml"
        with host.lock():
            if host.file_state(path) is not None and not force:
                raise ImportError_(
                    f"{host.real_path(path)} exists: pass --force to replace it, or choose "
                    "another name"
                )
            host.write_file(path, FileState(text.encode(), 0o644))
        written = host.real_path(path)
    elif str(out) != "-":
        if out.exists() and not force:
            raise ImportError_(f"{out} exists: pass --force to replace it")
        out.write_text(text)
        written = out
    return Imported(name, text, written, counts, tuple(draft.left_out), tuple(acknowledged))
