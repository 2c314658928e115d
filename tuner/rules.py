"""Cross-key rules over a resolved profile and, when there is one, the live host.

Each rule has a stable id, a severity, and a source; it yields diagnostics that name the keys and
numbers involved. ``check`` runs them all. Errors block apply; warnings are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tuner import limits
from tuner.diagnostics import Diagnostic, Location, Severity
from tuner.live import LiveKernel
from tuner.resolve import Profile


@dataclass(frozen=True)
class Context:
    profile: Profile
    live: LiveKernel
    strict: bool = False


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    source: str
    check: Callable[[Rule, Context], Iterator[Diagnostic]]

    def diagnostic(self, message: str, where: Location | None, key: str | None) -> Diagnostic:
        return Diagnostic(self.severity, message, where, key, self.id)


RULES: list[Rule] = []


def rule(rule_id: str, severity: Severity, summary: str, source: str) -> Callable[..., object]:
    def register(fn: Callable[[Rule, Context], Iterator[Diagnostic]]) -> object:
        RULES.append(Rule(rule_id, severity, summary, source, fn))
        return fn

    return register


@rule(
    "unknown-key",
    "warning",
    "A key the running kernel does not have (an error with --strict).",
    "/proc/sys of the running kernel; sysctl.d(5): unknown keys are skipped with a warning at boot",
)
def _unknown_key(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    if not ctx.live.available:
        return
    for entry in ctx.profile.sysctl:
        if ctx.live.exists(entry.key):
            continue
        guess = ctx.live.suggest(entry.key.name)
        hint = f"; did you mean {guess}?" if guess else ""
        message = f"the running kernel ({ctx.live.release or 'unknown'}) has no such key{hint}"
        severity: Severity = "error" if ctx.strict else "warning"
        yield Diagnostic(severity, message, entry.origin, entry.key.name, self.id)


@rule(
    "limits-soft-above-hard",
    "error",
    "A soft limit above the hard limit for the same domain and item.",
    "setrlimit(2): EINVAL when rlim_cur > rlim_max (kernel/sys.c); limits.conf(5)",
)
def _soft_above_hard(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    by_ident = {(e.domain, e.item, e.kind): e for e in ctx.profile.limits}
    for (domain, item, kind), soft in by_ident.items():
        hard = by_ident.get((domain, item, "hard"))
        if kind != "soft" or hard is None:
            continue
        if limits.as_number(soft.value) > limits.as_number(hard.value):
            message = (
                f"{domain} soft {item} {soft.value} is above the hard limit {hard.value} "
                f"(set at {hard.origin}); pam_limits would fail to apply it"
            )
            yield self.diagnostic(message, soft.origin, f"{domain} {item}")


def check(ctx: Context) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for entry in RULES:
        found.extend(entry.check(entry, ctx))
    return found
