"""tuner explain KEY|RULE-ID: the catalog entry or the rule, the live value, who sets it."""

from __future__ import annotations

import difflib
from pathlib import Path

from tuner.base.errors import NotFoundError
from tuner.base.keys import KeySyntaxError, parse_key
from tuner.cli import report
from tuner.cli.common import make_host
from tuner.knowledge import catalog, rules
from tuner.machine.cache import resolve_cached
from tuner.machine.live import LiveKernel
from tuner.profile.library import ProfileLibrary


def run(subject: str, root: Path | None, proc_sys: Path | None, as_json: bool = False) -> int:
    found = rules.by_id(subject)
    if found is not None and as_json:
        rule = {"id": found.id, "severity": found.severity, "summary": found.summary,
                "source": found.source}  # fmt: skip
        report.emit_json("explain", {"rule": rule})
        return 0
    if found is not None:
        report.out(f"rule {found.id} ({found.severity})")
        report.out(report.wrap(found.summary, "  "))
        report.out(f"  source: {found.source}")
        return 0
    try:
        name: str | None = parse_key(subject).name
    except KeySyntaxError:
        name = None
    entry = catalog.lookup(name) if name else None
    host = make_host(root, proc_sys)
    live = LiveKernel(host)
    if entry is None:
        known = [*catalog.entries(), *(r.id for r in rules.RULES)]
        guess = difflib.get_close_matches(name or subject, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(guess)}?" if guess else ""
        exists = name is not None and live.available and live.value(name) is not None
        where = " (the kernel has it, but tuner's catalog does not describe it)" if exists else ""
        raise NotFoundError(f"{subject!r} is neither a catalog key nor a rule id{where}{hint}")
    if as_json:
        body = entry.to_json(live.release if live.available else None)
        body["live_value"] = live.value(entry.key) if live.available else None
        body["set_by_bundled_profiles"] = _bundled_setters(entry.key, host.root)
        report.emit_json("explain", {"key": body})
        return 0
    report.out(f"{entry.key} ({entry.scope} key{', ' + entry.unit if entry.unit else ''})")
    report.out(report.wrap(entry.meaning, "  "))
    report.out(f"  shape: {_shape(entry)}")
    default = _default_text(entry, live.release if live.available else None)
    note = f" ({entry.default_note})" if entry.default_note else ""
    report.out(f"  kernel default: {default or '(empty)'}{note}")
    if entry.inherited:
        report.out("  a new network namespace copies the initial namespace's value")
    for label, version in (("appeared in Linux", entry.since), ("removed in Linux", entry.removed)):
        if version:
            report.out(f"  {label} {version}")
    if entry.module:
        report.out(f"  exists only while the {entry.module} module is loaded")
    if live.available:
        value = live.value(entry.key)
        report.out(
            f"  live value: {value if value is not None else '(this kernel has no such key)'}"
        )
    else:
        report.out("  live value: not read (image mode)")
    setters = _bundled_setters(entry.key, host.root)
    report.out("  set by bundled profiles: " + (", ".join(setters) if setters else "none"))
    report.out(f"  source: {entry.source}")
    return 0


def _shape(entry: catalog.Entry) -> str:
    bounds = ""
    if entry.minimum is not None or entry.maximum is not None:
        low = entry.minimum if entry.minimum is not None else "-inf"
        high = entry.maximum if entry.maximum is not None else "inf"
        bounds = f", {low}..{high}"
    if entry.shape == "enum":
        return "one of " + "; ".join(f"{k} = {v}" for k, v in sorted(entry.values.items()))
    if entry.shape == "vector":
        return f"{len(entry.elements)} integers: {', '.join(entry.elements)}{bounds}"
    if entry.shape == "portlist":
        return "a comma-separated list of ports and ranges (e.g. 8080,9000-9010)"
    return f"{entry.shape}{bounds}"


def _bundled_setters(key: str, root: Path) -> list[str]:
    library = ProfileLibrary.for_root(root)
    setters = []
    for profile_entry in library.entries():
        if profile_entry.origin != "bundled":
            continue
        profile, _ = resolve_cached(profile_entry.name, library)
        value = profile.sysctl_value(key) if profile else None
        if value is not None:
            setters.append(f"{profile_entry.name} ({value})")
    return setters


def _default_text(entry: catalog.Entry, release: str | None) -> str:
    """The boot default on this kernel, with the versions where it changed."""
    constant = entry.default_for(release)
    if constant is None:
        return "depends on the machine"
    if not entry.default_since:
        return constant
    history = ", ".join(f"{v} since {'.'.join(map(str, s))}" for s, v in entry.default_since)
    return f"{constant} on {release or 'recent kernels'} ({entry.default} before; {history})"
