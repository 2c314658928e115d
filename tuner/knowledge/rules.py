"""Cross-key rules over a resolved profile and, when there is one, the live host.

Each rule has a stable id, a severity, a summary and a source, and yields diagnostics that name the
keys and numbers involved. A rule about a key uses the profile's value, else the live one, else the
kernel default (``facts``). ``check`` runs them all; errors block apply. ``tuner explain RULE-ID``
prints a rule.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from tuner.base import limits
from tuner.base.diagnostics import Diagnostic, Location, Severity
from tuner.base.keys import PORT_RANGE, PORT_START, check_value_text
from tuner.base.wording import did_you_mean
from tuner.knowledge import capacity, catalog, connections, nofile
from tuner.knowledge.facts import Facts
from tuner.machine.live import LiveKernel
from tuner.machine.sessions import nofile_cap
from tuner.profile.resolved import Profile

NR_OPEN_MAX = 2147483584
# Kubernetes "safe" sysctls, settable per pod without --allowed-unsafe-sysctls, and the release
# that made each safe (None: the original set). Source: kubernetes.io, "Using sysctls in a
# Kubernetes Cluster" and "Linux Kernel Version Requirements" (checked 2026-11).
KUBERNETES_SAFE: dict[str, str | None] = {
    "kernel.shm_rmid_forced": None,
    "net.ipv4.ip_local_port_range": None,
    "net.ipv4.tcp_syncookies": None,
    "net.ipv4.ping_group_range": "1.18",
    "net.ipv4.ip_unprivileged_port_start": "1.22",
    "net.ipv4.ip_local_reserved_ports": "1.27",
    "net.ipv4.tcp_keepalive_time": "1.29",
    "net.ipv4.tcp_fin_timeout": "1.29",
    "net.ipv4.tcp_keepalive_intvl": "1.29",
    "net.ipv4.tcp_keepalive_probes": "1.29",
    "net.ipv4.tcp_rmem": "1.32",
    "net.ipv4.tcp_wmem": "1.32",
}


@dataclass(frozen=True)
class Context:
    profile: Profile
    live: LiveKernel
    strict: bool = False

    @functools.cached_property
    def facts(self) -> Facts:
        return Facts(self.profile, self.live)

    @functools.cached_property
    def capacity(self) -> list[capacity.Check]:
        return capacity.checks(self.profile, self.facts)

    def kernel(self) -> tuple[int, ...] | None:
        release = self.live.release if self.live.available else None
        return catalog.version_tuple(release) if release else None

    def where(self, name: str) -> Location | None:
        for entry in self.profile.sysctl:
            if entry.key.name == name:
                return entry.origin
        return None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    source: str
    check: Callable[[Rule, Context], Iterator[Diagnostic]]
    # why this rule's findings cannot be acknowledged (a value the kernel or a login refuses:
    # only fixing it helps); None: a team may acknowledge it
    binding: str | None = None

    def found(
        self,
        message: str,
        where: Location | None,
        key: str | None,
        severity: Severity | None = None,
        detail: str | None = None,
    ) -> Diagnostic:
        return Diagnostic(severity or self.severity, message, where, key, self.id, detail)


RULES: list[Rule] = []
Check = Callable[[Rule, Context], Iterator[Diagnostic]]


def rule(
    rule_id: str, severity: Severity, summary: str, source: str, binding: str | None = None
) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        RULES.append(Rule(rule_id, severity, summary, source, fn, binding))
        return fn

    return register


def _host_finding(rule: Rule, ctx: Context) -> Iterator[Diagnostic]:
    return iter(())  # made by plan and status from the host's files and journal, not here


_ABOUT_HOST = "a fact of this host's files, not of the profile: change what the finding names"
# The findings plan and status make about the host itself (another file that decides a value,
# an unfinished run): they carry ids too, so `tuner explain` answers for them.
_HOST: tuple[tuple[str, Severity, str, str, str], ...] = (
        ("boot-shadowed", "warning",
         "Another sysctl.d file (or /etc/sysctl.conf) sets the key after tuner's file: at the "
         "next boot the profile's value would be lost.",
         "sysctl.d(5); tuner's boot model (docs/plan.md)", _ABOUT_HOST),
        ("login-shadowed", "warning",
         "Another limits line decides the limit at login: the profile's value would not apply.",
         "limits.conf(5); tuner's login model (docs/plan.md)", _ABOUT_HOST),
        ("unsafe-target", "error",
         "Something other than a regular file is where tuner writes: apply would refuse.",
         "docs/profiles.md (what tuner trusts)", _ABOUT_HOST),
        ("incomplete-generation", "warning",
         "A tuner run was killed and left a generation unfinished: `tuner rollback` finishes "
         "or undoes it.",
         "docs/recovery.md", "a fact of this host's journal: tuner rollback settles it"),
        ("damaged-journal", "warning",
         "A journal entry cannot be read; the generations around it still can.",
         "docs/recovery.md", "a fact of this host's journal, not of the profile"),
)  # fmt: skip
HOST_FINDINGS = tuple(
    Rule(i, sev, text, src, _host_finding, why) for i, sev, text, src, why in _HOST
)


def by_id(rule_id: str) -> Rule | None:
    """A rule over profiles, or one of the findings about the host (``HOST_FINDINGS``)."""
    return next((r for r in (*RULES, *HOST_FINDINGS) if r.id == rule_id), None)


_SHAPE_RULES = ("catalog-value", "value-syntax")


def check(ctx: Context) -> list[Diagnostic]:
    """Every rule. The shape rules go first; the others see only the sysctls whose values have
    the right shape, so no rule reasons about (or trips over) a value already reported."""
    found: list[Diagnostic] = []
    for entry in RULES:
        if entry.id in _SHAPE_RULES:
            found.extend(entry.check(entry, ctx))
    bad = {d.key for d in found if d.severity == "error"}
    if bad:
        kept = tuple(e for e in ctx.profile.sysctl if e.key.name not in bad)
        ctx = Context(dataclasses.replace(ctx.profile, sysctl=kept), ctx.live, strict=ctx.strict)
    for entry in RULES:
        if entry.id not in _SHAPE_RULES:
            found.extend(entry.check(entry, ctx))
    return acknowledge(found, ctx.profile)


def acknowledge(found: list[Diagnostic], profile: Profile) -> list[Diagnostic]:
    """The findings with the profile's acknowledgements applied: an acknowledged finding is an
    info line that names the team's reason. An acknowledgement of no known rule, or of a rule
    whose findings only a fix can answer, is an error at the acknowledgement."""
    given = profile.acknowledgements()
    problems = []
    usable = []
    for ack in given:
        known = by_id(ack.rule)
        key = f"acknowledge.{ack.rule}"
        if known is None:
            ids = [r.id for r in (*RULES, *HOST_FINDINGS)]
            guess = did_you_mean(ack.rule, ids)
            hint = f"did you mean {guess!r}? " if guess else ""
            message = f"no rule {ack.rule!r}; {hint}`tuner explain RULE-ID` shows a rule"
            problems.append(Diagnostic("error", message, ack.origin, key))
        elif known.binding is not None:
            message = f"{ack.rule} cannot be acknowledged: {known.binding}"
            problems.append(Diagnostic("error", message, ack.origin, key))
        else:
            usable.append(ack)
    out = []
    for finding in found:
        covering = next((a for a in usable if a.covers(finding.rule, finding.location)), None)
        if covering is None:
            out.append(finding)
            continue
        message = f"{finding.message} (acknowledged: {covering.reason})"
        out.append(dataclasses.replace(finding, severity="info", message=message))
    return problems + out


@rule(
    "catalog-value",
    "error",
    "A value of the wrong shape or outside the bounds the catalog gives for its key.",
    "tuner's key catalog (tuner/data/catalog.yaml), from the kernel sources it names",
    "the value is outside what the kernel accepts; only a valid value helps",
)
def _catalog_value(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    for entry in ctx.profile.sysctl:
        known = catalog.lookup(entry.key.name)
        problem = known.check(entry.value) if known else None
        if problem:
            yield self.found(problem, entry.origin, entry.key.name)


@rule(
    "value-syntax",
    "error",
    "A value with a newline, '=', '#', ';' or a control character: it would inject lines.",
    "sysctl.d(5) line syntax; docs/kernel-facts.md (where settings live)",
    "the value would inject lines into the files tuner writes",
)
def _value_syntax(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    values = [(e.key.name, e.value, e.origin) for e in ctx.profile.sysctl]
    values += [(f"{e.domain} {e.item}", e.value, e.origin) for e in ctx.profile.limits]
    values += [(f"{s.unit}.{s.directive}", s.value, s.origin) for s in ctx.profile.services]
    for key, value, where in values:
        try:
            check_value_text(value)
        except ValueError as exc:
            yield self.found(str(exc), where, key)


@rule(
    "port-range-order",
    "error",
    "ip_local_port_range must be 1 <= low <= high <= 65535, and low >= ip_unprivileged_port_start.",
    "net/ipv4/sysctl_net_ipv4.c: ipv4_local_port_range and ipv4_privileged_ports return EINVAL",
    "the kernel refuses the value (EINVAL); only a valid value helps",
)
def _port_range_order(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    facts = ctx.facts
    span, start = facts.value(PORT_RANGE), facts.value(PORT_START)
    numbers = span.ints() if span else None
    if span is None or (span.origin != "profile" and (start is None or start.origin != "profile")):
        return
    if not numbers or len(numbers) != 2:
        return  # catalog-value reports the shape
    low, high = numbers
    where = ctx.where(PORT_RANGE) or ctx.where(PORT_START)
    if not 1 <= low <= high <= 65535:
        yield self.found(
            f"low {low} and high {high} must satisfy 1 <= low <= high <= 65535; "
            "the kernel refuses it (EINVAL)",
            where,
            PORT_RANGE,
        )
    start_value = start.ints() if start else None
    if start_value and low < start_value[0]:
        yield self.found(
            f"low end {low} is below ip_unprivileged_port_start ({start_value[0]}, "
            f"{start.origin if start else ''} value); the kernel refuses it (EINVAL)",
            where,
            PORT_RANGE,
        )


@rule(
    "port-range-parity",
    "warning",
    "ip_local_port_range low and high of the same parity draw a kernel warning.",
    "commits 07f4c90062f8 and 1580ab63fc9a: connect() prefers even ports, bind() odd ones",
)
def _port_range_parity(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    span = ctx.facts.value(PORT_RANGE)
    numbers = span.ints() if span and span.origin == "profile" else None
    if numbers and len(numbers) == 2 and numbers[0] % 2 == numbers[1] % 2:
        low, high = numbers
        yield self.found(
            f"low {low} and high {high} have the same parity; use an even low and an odd high "
            f"(e.g. {low - low % 2} {high | 1 if high < 65535 else 65535})",
            ctx.where(PORT_RANGE),
            PORT_RANGE,
        )


@rule(
    "listener-not-reserved",
    "warning",
    "A port something listens on lies inside the ephemeral range but is not reserved.",
    "Documentation/networking/ip-sysctl.rst (ip_local_reserved_ports)",
)
def _listener_not_reserved(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    if not ctx.live.available:
        return
    facts = ctx.facts
    span = capacity.ports(facts)
    reserved_text = facts.value("net.ipv4.ip_local_reserved_ports")
    reserved = connections.ports_in(reserved_text.text) if reserved_text else set()
    inside = sorted(
        p for p in facts.listening_ports if span.low <= p <= span.high and p not in reserved
    )
    if inside:
        shown = ",".join(map(str, inside[:10])) + (" ..." if len(inside) > 10 else "")
        yield self.found(
            f"{'listening port' if len(inside) == 1 else 'listening ports'} {shown} "
            f"{'lies' if len(inside) == 1 else 'lie'} "
            f"inside ip_local_port_range {span.low}-{span.high}: "
            f"add {'it' if len(inside) == 1 else 'them'} to net.ipv4.ip_local_reserved_ports so no "
            f"outgoing connection takes {'it' if len(inside) == 1 else 'them'}",
            ctx.where(PORT_RANGE),
            PORT_RANGE,
        )


def _live_above(ctx: Context, name: str, setting: int) -> int | None:
    """The live value of ``name`` when it is higher than the profile's ``setting``."""
    live = ctx.live.value(name) if ctx.live.available else None
    if live is not None and live.isdigit() and setting < int(live):
        return int(live)
    return None


def _capacity(ctx: Context, name: str) -> capacity.Check | None:
    return next((c for c in ctx.capacity if c.name == name), None)


def _intent_where(ctx: Context) -> Location | None:
    return ctx.profile.intent_origin


@rule(
    "outbound-per-tuple",
    "error",
    "The declared outbound connections exceed usable ports x (src IP, dst IP, dst port) tuples.",
    "docs/kernel-facts.md: the unit of exhaustion is the tuple; EADDRNOTAVAIL beyond it",
)
def _outbound_per_tuple(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    found = _capacity(ctx, "outbound connections per tuple")
    if found and not found.ok:
        yield self.found(
            f"{found.arithmetic}: needs {found.fix}",
            _intent_where(ctx),
            "intent",
        )


@rule(
    "new-connection-rate",
    "error",
    "Declared new connections/s per tuple at 70% or more of (usable - held ports) / 60 s (or "
    "the reuse delay): the ports live connections hold carry no churn.",
    "include/net/tcp.h TCP_TIMEWAIT_LEN (60 s); net/ipv4/tcp_ipv4.c tcp_twsk_unique; "
    "docs/kernel-facts.md (the rate with held ports)",
)
def _new_connection_rate(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    found = _capacity(ctx, "new connections per second per tuple")
    if found and not found.ok:
        yield self.found(f"{found.arithmetic}: {found.fix}", _intent_where(ctx), "intent")


@rule(
    "tw-reuse",
    "error",
    "tcp_tw_reuse 1 or 2 (the default: loopback) with tcp_timestamps=0, or with a "
    "tcp_tw_reuse_delay of 60000 ms (TIME_WAIT ends first), does nothing; reuse on a pure server "
    "is a no-op (info).",
    "net/ipv4/tcp_ipv4.c tcp_twsk_unique: reuse needs timestamps and applies to connect() only",
)
def _tw_reuse(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    facts = ctx.facts
    reuse = facts.value("net.ipv4.tcp_tw_reuse")
    stamps = facts.value("net.ipv4.tcp_timestamps")
    if reuse is None or reuse.text not in ("1", "2"):
        return
    ours = reuse.origin == "profile" or (stamps is not None and stamps.origin == "profile")
    if ours and stamps is not None and stamps.text == "0":
        scope = "outgoing connections" if reuse.text == "1" else "loopback connections (2)"
        where = ctx.where("net.ipv4.tcp_timestamps") or ctx.where("net.ipv4.tcp_tw_reuse")
        yield self.found(
            f"tcp_tw_reuse={reuse.text} ({reuse.origin} value) reuses TIME_WAIT ports of "
            f"{scope} only with TCP timestamps, but tcp_timestamps is 0 ({stamps.origin} "
            "value): no port would ever be reused",
            where,
            "net.ipv4.tcp_tw_reuse",
            None if reuse.origin == "profile" else "warning",  # asked for by this profile: error
        )
    delay = facts.value("net.ipv4.tcp_tw_reuse_delay")
    if delay is not None and delay.origin == "profile" and delay.ints():
        policy = connections.reuse_of({"net.ipv4.tcp_tw_reuse": reuse.text,
                                       "net.ipv4.tcp_timestamps": stamps.text if stamps else "1",
                                       "net.ipv4.tcp_tw_reuse_delay": delay.text})  # fmt: skip
        blocker = policy.blocker("127.0.0.1")
        if blocker and "tcp_tw_reuse_delay" in blocker:
            yield self.found(
                f"{blocker}: tcp_tw_reuse={reuse.text} would never take a port",
                ctx.where("net.ipv4.tcp_tw_reuse_delay"),
                "net.ipv4.tcp_tw_reuse_delay",
            )
    intent = ctx.profile.intent
    if reuse.origin != "profile" or reuse.text != "1":
        return
    where = ctx.where("net.ipv4.tcp_tw_reuse")
    if intent and intent.role == "server":
        yield self.found(
            "tcp_tw_reuse only helps outgoing connect(); this profile's role is "
            "server, so it changes nothing",
            where,
            "net.ipv4.tcp_tw_reuse",
            "info",
        )


@rule(
    "key-removed",
    "error",
    "A key the running kernel's version no longer has (tcp_tw_recycle: gone since 4.12).",
    "the catalog's removed field; commit 4396e46187ca removed tcp_tw_recycle",
    "the kernel no longer has the key: writing it fails; remove it",
)
def _key_removed(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    kernel = ctx.kernel()
    for entry in ctx.profile.sysctl:
        known = catalog.lookup(entry.key.name)
        if not known or not known.removed:
            continue
        gone = catalog.version_tuple(known.removed)
        if kernel is None:
            yield self.found(
                f"removed in Linux {known.removed}: {known.meaning}",
                entry.origin,
                entry.key.name,
                "warning",
            )
        elif kernel >= gone:
            yield self.found(
                f"removed in Linux {known.removed} (this kernel is "
                f"{ctx.live.release}): {known.meaning}",
                entry.origin,
                entry.key.name,
            )


@rule(
    "fin-timeout",
    "warning",
    "tcp_fin_timeout below 30, or a why that calls it the TIME_WAIT length (it is FIN_WAIT_2's).",
    "Documentation/networking/ip-sysctl.rst; TIME_WAIT is TCP_TIMEWAIT_LEN, fixed at 60 s",
)
def _fin_timeout(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    for entry in ctx.profile.sysctl:
        if entry.key.name != "net.ipv4.tcp_fin_timeout":
            continue
        if entry.value.isdigit() and int(entry.value) < 30:
            yield self.found(
                f"{entry.value} s is below 30: orphaned connections in FIN_WAIT_2 are "
                "dropped early, and TIME_WAIT is not shortened",
                entry.origin,
                entry.key.name,
            )
        if entry.why and _calls_it_time_wait(entry.why):
            yield self.found(
                "the why says this is about TIME_WAIT, but tcp_fin_timeout is the "
                "FIN_WAIT_2 timeout; TIME_WAIT is a fixed 60 s",
                entry.origin,
                entry.key.name,
            )


_NEGATION = re.compile(r"\b(not|no|isn't|is not|nor|never|unlike|rather than|instead of)\b", re.I)
# what the blog's mistake claims fin_timeout does to TIME_WAIT
_CLAIM = re.compile(
    r"\b(short\w*|reduc\w*|lower\w*|cut\w*|faster|sooner|quicker|speed\w*|timeout|duration|"
    r"length|how long|recycl\w*|reclaim\w*|free\w*|releas\w*|control\w*|govern\w*|sets?|tun\w*)\b",
    re.I,
)
# what a correct why says about TIME_WAIT in passing
_TRUE = re.compile(
    r"\b(fixed|60 ?s(econds)?|TCP_TIMEWAIT_LEN|unchanged|untouched|stays|remains)\b", re.I
)


def _calls_it_time_wait(why: str) -> bool:
    """Whether ``why`` says tcp_fin_timeout is about TIME_WAIT: a clause that names TIME_WAIT and
    claims something of it (shortens, frees, its length) with no negation and without stating the
    fixed 60 s. "not the TIME_WAIT length", "TIME_WAIT is not shortened" and "TIME_WAIT stays a
    fixed 60 s" are right, and quiet; "shortens TIME_WAIT" is the blog's mistake."""
    for clause in re.split(r"[.;,:()]", why):
        if (
            re.search(r"time[_ -]?wait", clause, re.IGNORECASE)
            and _CLAIM.search(clause)
            and not _NEGATION.search(clause)
            and not _TRUE.search(clause)
        ):
            return True
    return False


@rule(
    "nofile-above-nr-open",
    "error",
    "nofile soft <= hard <= fs.nr_open (the profile's, else live); nr_open <= 2147483584.",
    "kernel/sys.c: setrlimit(RLIMIT_NOFILE) above fs.nr_open fails with EPERM; fs/file.c",
    "setrlimit fails with EPERM above fs.nr_open: the limit never takes effect",
)
def _nofile_above_nr_open(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    nr_open = ctx.facts.value("fs.nr_open")
    ceiling = nr_open.ints() if nr_open else None
    if not ceiling:
        return
    if ceiling[0] > NR_OPEN_MAX:
        yield self.found(
            f"fs.nr_open {ceiling[0]} is above the kernel's maximum {NR_OPEN_MAX}",
            ctx.where("fs.nr_open"),
            "fs.nr_open",
        )
    for setting in nofile.settings(ctx.profile):
        # unlimited (pam_limits) and infinity (systemd) become fs.nr_open: limits.conf(5),
        # systemd.exec(5); they can never be above it
        label, where = setting.label, setting.where
        if not setting.value.unlimited and setting.value.above(ceiling[0]):
            origin = (
                "this profile"
                if nr_open and nr_open.origin == "profile"
                else f"{nr_open.origin if nr_open else ''} value"
            )
            yield self.found(
                f"{label} is above fs.nr_open {ceiling[0]:,} ({origin}): setrlimit "
                "fails with EPERM; raise fs.nr_open first",
                where,
                "nofile",
            )


@rule(
    "file-max",
    "error",
    "fs.file-max below the descriptors the profile plans for (warning: below the live value).",
    "Documentation/admin-guide/sysctl/fs.rst: ENFILE when fs.file-max is reached",
)
def _file_max(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    value = ctx.facts.value("fs.file-max")
    if value is None or value.origin != "profile" or not value.ints():
        return
    setting = value.ints()[0]  # type: ignore[index]
    where = ctx.where("fs.file-max")
    intent = ctx.profile.intent
    if intent:
        needed = capacity.descriptors_needed(intent)
        if setting < needed:
            yield self.found(
                f"{setting:,} is below the {needed:,} descriptors this profile plans for",
                where,
                "fs.file-max",
            )
    live = _live_above(ctx, "fs.file-max", setting)
    if live is not None:
        yield self.found(
            f"{setting:,} is lower than this host's current {live:,} (the boot "
            "default scales with RAM): it would reduce the limit",
            where,
            "fs.file-max",
            "warning",
        )


@rule(
    "proxy-descriptors",
    "error",
    "A proxy needs 2 x connections + overhead descriptors within LimitNOFILE and fs.nr_open.",
    "HAProxy management guide, section 5: about 2 descriptors per proxied connection",
)
def _proxy_descriptors(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    intent = ctx.profile.intent
    if intent is None or intent.role != "proxy":
        return
    for found in ctx.capacity:
        if found.name in ("descriptors vs nofile", "descriptors vs fs.nr_open") and not found.ok:
            yield self.found(f"{found.arithmetic}: {found.fix}", _intent_where(ctx), "intent")


@rule(
    "somaxconn-old-kernel",
    "error",
    "net.core.somaxconn above 65535 on kernels before 4.1, where it was a 16-bit value.",
    "commit 6ba7b23e7a87 widened the backlog in Linux 4.1",
)
def _somaxconn(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    kernel = ctx.kernel()
    value = ctx.facts.value("net.core.somaxconn")
    from_profile = value is not None and value.origin == "profile" and value.text.isdigit()
    if kernel and kernel < (4, 1) and value and from_profile and int(value.text) > 65535:
        yield self.found(
            f"{value.text} is above 65535, the limit before Linux 4.1 (this "
            f"kernel is {ctx.live.release})",
            ctx.where("net.core.somaxconn"),
            "net.core.somaxconn",
        )


@rule(
    "tcp-mem",
    "error",
    "tcp_mem: min <= pressure <= max, in PAGES; a max beyond RAM means bytes were written.",
    "Documentation/networking/ip-sysctl.rst (tcp_mem is in pages)",
)
def _tcp_mem(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    value = ctx.facts.value("net.ipv4.tcp_mem")
    numbers = value.ints() if value and value.origin == "profile" else None
    if not numbers or len(numbers) != 3:
        return
    where = ctx.where("net.ipv4.tcp_mem")
    if not numbers[0] <= numbers[1] <= numbers[2]:
        yield self.found(
            f"min {numbers[0]}, pressure {numbers[1]}, max {numbers[2]} are not in ascending order",
            where,
            "net.ipv4.tcp_mem",
        )
    memory = ctx.facts.memory_bytes
    page = ctx.facts.page_size
    if memory and numbers[2] * page >= memory:
        yield self.found(
            f"max {numbers[2]:,} pages x {page} bytes = {numbers[2] * page / 1024**3:.1f} "
            f"GiB is not below RAM ({memory / 1024**3:.1f} GiB): tcp_mem is in pages, "
            "was it written in bytes?",
            where,
            "net.ipv4.tcp_mem",
            "warning",
        )


@rule(
    "socket-buffers-order",
    "error",
    "tcp_rmem and tcp_wmem: three byte counts, min <= default <= max.",
    "Documentation/networking/ip-sysctl.rst",
)
def _socket_buffers(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    for name in ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"):
        value = ctx.facts.value(name)
        numbers = value.ints() if value and value.origin == "profile" else None
        if numbers and len(numbers) == 3 and not numbers[0] <= numbers[1] <= numbers[2]:
            yield self.found(
                f"min {numbers[0]}, default {numbers[1]}, max {numbers[2]} are not in "
                "ascending order",
                ctx.where(name),
                name,
            )


@rule(
    "tw-buckets",
    "warning",
    "tcp_max_tw_buckets below new connections/s x 60, or below this host's default.",
    "Documentation/networking/ip-sysctl.rst: never lower tcp_max_tw_buckets artificially",
)
def _tw_buckets(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    value = ctx.facts.value("net.ipv4.tcp_max_tw_buckets")
    if value is None or value.origin != "profile" or not value.text.isdigit():
        return
    setting, where = int(value.text), ctx.where("net.ipv4.tcp_max_tw_buckets")
    intent = ctx.profile.intent
    rate = intent.new_connections_per_second if intent else None
    if rate and setting < rate * connections.TIME_WAIT_SECONDS:
        yield self.found(
            f"{setting:,} is below {rate:,}/s x 60 s = {rate * 60:,} sockets in TIME_WAIT",
            where,
            "net.ipv4.tcp_max_tw_buckets",
        )
    live = _live_above(ctx, "net.ipv4.tcp_max_tw_buckets", setting)
    if live is not None:
        yield self.found(
            f"{setting:,} is below this host's {live:,}; the kernel docs say never to lower it",
            where,
            "net.ipv4.tcp_max_tw_buckets",
        )


@rule(
    "conntrack",
    "warning",
    "nf_conntrack_* keys need the nf_conntrack module; nf_conntrack_max below expected flows.",
    "Documentation/networking/nf_conntrack-sysctl.rst",
)
def _conntrack(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    for entry in ctx.profile.sysctl:
        if not entry.key.name.startswith("net.netfilter.nf_conntrack_"):
            continue
        if ctx.live.available and not ctx.live.exists(entry.key):
            yield self.found(
                "the nf_conntrack module is not loaded, so this key does not exist "
                "yet: load it at boot (modules-load.d) before sysctl runs",
                entry.origin,
                entry.key.name,
            )
        intent = ctx.profile.intent
        if entry.key.name == "net.netfilter.nf_conntrack_max" and intent and entry.value.isdigit():
            flows = intent.concurrent_connections * capacity.sockets_per_connection(intent)
            if int(entry.value) < flows:
                yield self.found(
                    f"{int(entry.value):,} is below the {flows:,} flows this profile "
                    "expects: new connections would be dropped",
                    entry.origin,
                    entry.key.name,
                )


@rule(
    "container-target",
    "error",
    "In a container, global keys cannot be set; on Kubernetes, unsafe ones need allowing.",
    "Kubernetes docs, 'Using sysctls in a Kubernetes Cluster'; network namespaces",
)
def _container_target(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    intent = ctx.profile.intent
    if intent is None or intent.target == "host":
        return
    for entry in ctx.profile.sysctl:
        known = catalog.lookup(entry.key.name)
        if known and known.scope == "global":
            yield self.found(
                f"a global key: a {intent.target} cannot set it (only the host can)",
                entry.origin,
                entry.key.name,
            )
        elif intent.target == "kubernetes" and entry.key.name not in KUBERNETES_SAFE:
            yield self.found(
                "not a Kubernetes safe sysctl: the kubelet must list it in "
                "--allowed-unsafe-sysctls",
                entry.origin,
                entry.key.name,
                "warning",
            )
        elif intent.target == "kubernetes" and (since := KUBERNETES_SAFE[entry.key.name]):
            yield self.found(
                f"safe since Kubernetes {since}: older clusters need it in "
                "--allowed-unsafe-sysctls",
                entry.origin,
                entry.key.name,
                "info",
            )


@rule(
    "limits-soft-above-hard",
    "error",
    "A soft limit above the hard limit for the same domain and item.",
    "setrlimit(2): EINVAL when rlim_cur > rlim_max (kernel/sys.c); limits.conf(5)",
    "setrlimit fails with EINVAL: pam_limits never applies it",
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
            yield self.found(message, soft.origin, f"{domain} {item}")


@rule(
    "limits-root-wildcard",
    "warning",
    "A '*' limits rule (soft or hard) without a root rule: on Debian, '*' lines do not apply to "
    "root.",
    "pam_limits(8) on Debian; limits.conf(5)",
)
def _root_wildcard(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    domains = {(e.domain, e.item) for e in ctx.profile.limits}
    said = set()
    for entry in ctx.profile.limits:
        if entry.domain == "*" and ("root", entry.item) not in domains and entry.origin not in said:
            said.add(entry.origin)  # a "-" line is a soft and a hard limit: one warning
            yield self.found(
                f"'*' {entry.kind} {entry.item} does not apply to root on Debian: a process root "
                "starts from a login keeps its old limit; add a root rule if root runs it",
                entry.origin,
                f"* {entry.item}",
            )


@rule(
    "unknown-key",
    "warning",
    "A key the running kernel does not have (an error with --strict).",
    "/proc/sys of the running kernel; sysctl.d(5): unknown keys are skipped at boot",
)
def _unknown_key(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    if not ctx.live.available:
        return
    for entry in ctx.profile.sysctl:
        if ctx.live.exists(entry.key):
            continue
        known = catalog.lookup(entry.key.name)
        if known and (known.removed or known.module):
            continue  # key-removed and conntrack say it better
        guess = ctx.live.suggest(entry.key.name)
        hint = f"; did you mean {guess}?" if guess else ""
        message = f"the running kernel ({ctx.live.release or 'unknown'}) has no such key{hint}"
        severity: Severity = "error" if ctx.strict else "warning"
        yield self.found(message, entry.origin, entry.key.name, severity)


@rule(
    "limit-capped",
    "warning",
    "A nofile limit above what any new session can get on this machine (no CAP_SYS_RESOURCE).",
    "setrlimit(2) EPERM without CAP_SYS_RESOURCE; pam_limits ignores the failure; "
    "docs/kernel-facts.md (resource limits)",
)
def _limit_capped(self: Rule, ctx: Context) -> Iterator[Diagnostic]:
    cap = nofile_cap(ctx.live.host.kernel) if ctx.live.available else None
    if cap is None:
        return
    said = set()
    for setting in nofile.settings(ctx.profile):
        if setting.value.above(cap.hard) and setting.where not in said:
            said.add(setting.where)  # a "-" line, soft:hard: one warning
            who = "the service gets" if setting.unit else "a new session gets"
            yield self.found(
                f"{setting.subject} cannot take effect here: {who} at most {cap.hard:,}",
                setting.where,
                setting.key,
                detail=cap.reason,
            )
