"""tuner explain KEY|RULE-ID: a rule, or a key (from the catalog, or any key the kernel has) with
its live value and the profiles (site and bundled) that set it."""

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
class Setter:
    """A profile of the library that sets the key, and the value it sets."""

    profile: str
    origin: str  # site | bundled
    value: str

    def __str__(self) -> str:
        return f"{self.profile} ({self.value})" if self.origin == "bundled" else (
            f"{self.profile} ({self.origin}: {self.value})")  # fmt: skip


@dataclass(frozen=True)
class KeyExplained:
    entry: catalog.Entry | None  # None: a key the kernel has that the catalog does not describe
    name: str
    release: str | None  # the running kernel's, None in image mode
    read: bool  # whether the live value was read (not in image mode)
    live_value: str | None
    setters: tuple[Setter, ...]  # the library's profiles that set it, site ones first

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = (
            self.entry.to_json(self.release) if self.entry is not None else
            {"name": self.name, "in_catalog": False})  # fmt: skip
        body["live_value"] = self.live_value
        body["set_by_bundled_profiles"] = [str(s) for s in self.setters if s.origin == "bundled"]
        body["set_by_profiles"] = [
            {"profile": s.profile, "origin": s.origin, "value": s.value} for s in self.setters
        ]
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
    value = live.value(name) if name is not None and live.available else None
    setters = tuple(_setters(name, library)) if name is not None else ()
    if entry is None and name is not None and (value is not None or setters):
        # a real key tuner knows nothing about: what the kernel and the profiles say of it
        release = live.release if live.available else None
        return KeyExplained(None, name, release, live.available, value, setters)
    if entry is None:
        known = [*catalog.entries(), *(r.id for r in (*rules.RULES, *rules.HOST_FINDINGS))]
        guess = difflib.get_close_matches(name or subject, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(guess)}?" if guess else ""
        kernel = ("this kernel has no such key" if live.available else
                  "the kernel was not read (image mode)")  # fmt: skip
        raise NotFoundError(
            f"{subject!r} is neither a catalog key nor a rule id, and {kernel}{hint}"
        )
    return KeyExplained(
        entry,
        entry.key,
        live.release if live.available else None,
        live.available,
        live.value(entry.key) if live.available else None,
        tuple(_setters(entry.key, library)),
    )


def _setters(key: str, library: ProfileLibrary) -> list[Setter]:
    """The library's profiles that set ``key`` (site ones first, as the library lists them);
    a profile with errors sets nothing."""
    setters = []
    for profile_entry in library.entries():
        profile, _ = resolve_cached(ProfileRef.name(profile_entry.name), library)
        value = profile.sysctl_value(key) if profile else None
        if value is not None:
            setters.append(Setter(profile_entry.name, profile_entry.origin, value))
    return setters
