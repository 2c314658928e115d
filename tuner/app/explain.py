"""tuner explain KEY|RULE-ID: a rule, or a key from the catalog with its live value and the
bundled profiles that set it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tuner.base.errors import NotFoundError
from tuner.base.keys import KeySyntaxError, parse_key
from tuner.knowledge import catalog, rules
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel
from tuner.profile.cached import resolve_cached
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef


@dataclass(frozen=True)
class RuleExplained:
    rule: rules.Rule

    def to_json(self) -> dict[str, object]:
        rule = self.rule
        return {"rule": {"id": rule.id, "severity": rule.severity, "summary": rule.summary,
                         "source": rule.source, "acknowledgeable": rule.binding is None,
                         "acknowledge": self.how}}  # fmt: skip

    @property
    def how(self) -> str:
        """How a profile acknowledges this rule, or why it cannot."""
        rule = self.rule
        if rule.binding is not None:
            return f"cannot be acknowledged: {rule.binding}"
        return (
            f'a profile acknowledges it with `acknowledge: {{{rule.id}: "REASON"}}`, at the top '
            "(every finding of the profile) or under one setting (that setting's findings); its "
            "findings then print as info lines naming the reason, and pass --strict"
        )


@dataclass(frozen=True)
class KeyExplained:
    entry: catalog.Entry
    release: str | None  # the running kernel's, None in image mode
    read: bool  # whether the live value was read (not in image mode)
    live_value: str | None
    setters: tuple[str, ...]  # "haproxy-2m-conns (65535)": the bundled profiles that set it

    def to_json(self) -> dict[str, object]:
        body = self.entry.to_json(self.release)
        body["live_value"] = self.live_value
        body["set_by_bundled_profiles"] = list(self.setters)
        return {"key": body}


def explain(subject: str, host: Host, library: ProfileLibrary) -> RuleExplained | KeyExplained:
    found = rules.by_id(subject)
    if found is not None:
        return RuleExplained(found)
    try:
        name: str | None = parse_key(subject).name
    except KeySyntaxError:
        name = None
    entry = catalog.lookup(name) if name else None
    live = LiveKernel(host)
    if entry is None:
        known = [*catalog.entries(), *(r.id for r in (*rules.RULES, *rules.HOST_FINDINGS))]
        guess = difflib.get_close_matches(name or subject, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(guess)}?" if guess else ""
        exists = name is not None and live.available and live.value(name) is not None
        where = " (the kernel has it, but tuner's catalog does not describe it)" if exists else ""
        raise NotFoundError(f"{subject!r} is neither a catalog key nor a rule id{where}{hint}")
    return KeyExplained(
        entry,
        live.release if live.available else None,
        live.available,
        live.value(entry.key) if live.available else None,
        tuple(_bundled_setters(entry.key, library)),
    )


def _bundled_setters(key: str, library: ProfileLibrary) -> list[str]:
    setters = []
    for profile_entry in library.entries():
        if profile_entry.origin != "bundled":
            continue
        profile, _ = resolve_cached(ProfileRef.name(profile_entry.name), library)
        value = profile.sysctl_value(key) if profile else None
        if value is not None:
            setters.append(f"{profile_entry.name} ({value})")
    return setters
