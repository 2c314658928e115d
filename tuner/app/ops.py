"""The application layer: each operation takes typed inputs and returns a typed result.

Commands are parse -> operation -> render (``views`` for people, ``report.emit_json`` with
``to_json()`` for machines); the Ansible module and doctor call the same functions. Nothing here
prints or asks: confirmation is the command's business, between ``prepare_*`` and ``*_commit``.

    plan(ref, host)                 -> Plan
    prepare_apply(ref, host)        -> Plan          apply_commit(plan, host) -> Applied
    prepare_rollback(host, to)      -> Choice        rollback_commit(choice, host, to) -> RolledBack
    status(host)                    -> Status
    history(host, keep)             -> History
    capacity(ref, host)             -> CapacityReport
    doctor(host, profile=None)      -> Doctor
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuner.base.diagnostics import Diagnostic, has_errors
from tuner.base.errors import ProfileError, TunerError
from tuner.knowledge import connections, diagnosis
from tuner.machine.host import Host
from tuner.machine.live import LiveKernel

# Each operation imports what it needs: ``doctor`` reads the kernel before Python has finished
# loading what ``plan`` needs, and ``plan`` never loads what only apply and rollback use.
if TYPE_CHECKING:
    from tuner.changes import drift
    from tuner.changes.plan import Plan
    from tuner.knowledge import capacity as capacity_model
    from tuner.machine import sockets
    from tuner.machine.host import FileState
    from tuner.machine.processes import ProcessScan
    from tuner.profile.resolve import Profile
    from tuner.state import recovery
    from tuner.state.journal import Generation, Journal
    from tuner.state.transaction import Target

# --- loading a profile ------------------------------------------------------------------------


def load_checked(
    ref: str,
    host: Host,
    *,
    strict: bool = False,
    live: LiveKernel | None = None,
    rule_errors_fail: bool = True,
) -> tuple[Profile, list[Diagnostic]]:
    """Resolve ``ref`` and run every rule; raise ProfileError with all diagnostics on an error
    (only on errors in the profile files themselves when ``rule_errors_fail`` is False).

    Everything is reported at once: when a file has errors, the rules still run on the part
    of the profile that is valid. ``strict`` makes every warning an error."""
    from tuner.knowledge import rules
    from tuner.machine.cache import resolve_for_check
    from tuner.profile.library import ProfileLibrary

    library = ProfileLibrary.for_root(host.root)
    profile, checked, diagnostics = resolve_for_check(ref, library)
    if checked is not None:
        ctx = rules.Context(checked, live or LiveKernel(host), strict)
        diagnostics = diagnostics + rules.check(ctx)
    if strict:
        diagnostics = [_strict(d) for d in diagnostics]
    if profile is None or (rule_errors_fail and has_errors(diagnostics)):
        raise ProfileError(diagnostics)
    return profile, diagnostics


def _strict(diagnostic: Diagnostic) -> Diagnostic:
    if diagnostic.severity != "warning":
        return diagnostic
    message = f"{diagnostic.message} (an error with --strict)"
    return dataclasses.replace(diagnostic, severity="error", message=message)


def incomplete_warnings(host: Host) -> list[Diagnostic]:
    """A warning for each generation a killed run left unfinished."""
    from tuner.state.journal import Journal, incomplete_message

    journal = Journal(host)
    generations = journal.generations(tolerate_damage=True)
    return [
        Diagnostic("warning", incomplete_message(g), None, None, "incomplete-generation")
        for g in journal.unsettled(generations)
    ] + [Diagnostic("warning", d.message(), None, None, "damaged-journal") for d in journal.damaged]


# --- plan and apply ---------------------------------------------------------------------------


def plan(ref: str, host: Host, *, strict: bool = False) -> Plan:
    """What applying ``ref`` would change; warnings about unfinished runs and a chroot included."""
    found = incomplete_warnings(host)
    chroot = host.chroot_warning()
    if chroot:
        found.append(Diagnostic("warning", chroot, None, None, "chroot"))
    return prepare_apply(ref, host, strict=strict, notes=found)


def prepare_apply(
    ref: str, host: Host, *, strict: bool = False, notes: list[Diagnostic] | None = None
) -> Plan:
    """The plan apply would carry out (no journal check: the caller refuses unsettled runs)."""
    from tuner.changes.plan import make_plan

    live = LiveKernel(host)  # read once, for the rules and the plan
    profile, diagnostics = load_checked(ref, host, strict=strict, live=live)
    return make_plan(profile, host, diagnostics + (notes or []), live)


def blockers(plan: Plan) -> list[str]:
    """Why apply cannot carry out ``plan`` at all (nothing would be changed)."""
    found = [
        f"{c.key}: the running kernel has no such key" if c.action == "missing"
        else f"{c.key}: cannot be read ({c.action})"
        for c in plan.changes
        if c.layer == "kernel" and c.action in ("missing", "unreadable")
    ]  # fmt: skip
    return found + [str(d) for d in plan.errors if d.rule == "unsafe-target"]


@dataclass(frozen=True)
class Applied:
    generation: Generation
    units: tuple[str, ...]  # systemd units whose drop-ins changed

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation.number,
            "profile": self.generation.profile,
            "units": list(self.units),
        }


def apply_commit(shown: Plan, host: Host) -> Applied:
    """Change exactly what ``shown`` showed, under the lock, all or nothing; refuses when the host
    changed since (the plan is made again under the lock and must match)."""
    from tuner.changes.plan import make_plan
    from tuner.machine import systemd
    from tuner.state.journal import Journal
    from tuner.state.transaction import run

    journal = Journal(host)
    with host.lock():
        refuse_unsettled(journal, locked=True)
        now = make_plan(shown.profile, host, list(shown.diagnostics))
        if summary_of(now) != summary_of(shown):
            raise TunerError(
                "the host changed since the plan was shown: nothing was changed, run again"
            )
        generation = run(
            host, journal, target_of(now), kind="apply", profile=now.profile.name,
            plan=summary_of(now),
        )  # fmt: skip
    changed = [c.path for c in now.pending if c.layer == "file" and c.path]
    return Applied(generation, tuple(systemd.units_of(changed)))


def refuse_unsettled(journal: Journal, *, locked: bool = False) -> None:
    """Apply refuses while a generation is unsettled (``locked``: the caller holds the lock)."""
    from tuner.machine.host import LockHeld
    from tuner.state.journal import incomplete_message

    pending = journal.unsettled(ignore_lock=locked)
    if pending:
        raise TunerError(incomplete_message(pending[-1]) + " apply refuses until then.")
    if not locked and journal.writer_busy:  # say so now, not after planning against its changes
        raise LockHeld(f"another tuner run holds the lock (pid {journal.host.lock_holder()})")


def target_of(plan: Plan) -> Target:
    from tuner.machine.host import MANAGED_MODE, FileState, file_owner
    from tuner.state.transaction import Target

    owner = file_owner()
    files = {
        path: None if text is None else FileState(text.encode(), MANAGED_MODE, *owner)
        for path, text in plan.files.items()
        if any(c.layer == "file" and c.path == str(path) for c in plan.pending)
    }
    values = {c.key: c.desired for c in plan.pending if c.layer == "kernel" and c.key and c.desired}
    return Target(files, values)


def summary_of(plan: Plan) -> list[dict[str, object]]:
    """The pending changes as the journal keeps them (file contents live in the generation)."""
    return [
        {k: v for k, v in c.to_json().items() if k not in ("diff", "current", "desired")}
        | ({} if c.layer == "file" else {"current": c.current, "desired": c.desired})
        for c in plan.pending
    ]


# --- rollback ---------------------------------------------------------------------------------


def prepare_rollback(host: Host, to: int | None) -> recovery.Choice:
    """What rollback will do (after sweeping what killed journal saves left behind)."""
    from tuner.state import recovery
    from tuner.state.journal import GENERATIONS, Journal

    journal = Journal(host)
    if host.list_dir(GENERATIONS):  # anything there: a temporary file may be among it
        with host.lock():
            journal.sweep()
    return recovery.for_host(recovery.choose(journal, to), host)


@dataclass(frozen=True)
class RolledBack:
    generation: Generation
    choice: recovery.Choice
    units: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation.number,
            "finished": self.choice.resume.number if self.choice.resume else None,
            "undoes": [g.number for g in self.choice.undoes],
            "units": list(self.units),
        }


def rollback_commit(choice: recovery.Choice, host: Host, to: int | None) -> RolledBack:
    from tuner.machine import systemd
    from tuner.state import recovery
    from tuner.state.journal import Journal
    from tuner.state.transaction import run

    journal = Journal(host)
    with host.lock():
        if recovery.for_host(recovery.choose(journal, to, locked=True), host).key != choice.key:
            raise TunerError("the journal changed while waiting: nothing was changed, run again")
        generation = run(
            host,
            journal,
            choice.target,
            kind="rollback",
            profile=(choice.resume or choice.undoes[-1]).profile,
            undoes=tuple(g.number for g in choice.undoes),
            resume=choice.resume,
        )
    if choice.resume is not None:
        changed = [str(p) for p in choice.target.files]
    else:
        after = {p: s for g in choice.undoes for p, s in g.files_after.items()}
        changed = [str(p) for p, s in choice.target.files.items() if after.get(str(p)) != s]
    return RolledBack(generation, choice, tuple(systemd.units_of(changed)))


# --- status and history -----------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    mode: str
    stack: tuple[Generation, ...]  # the applies in effect, oldest first
    applied: Generation | None
    unsettled: tuple[Generation, ...]
    drift: tuple[drift.Difference, ...] = ()
    ineffective: tuple[str, ...] = ()  # applied limits no new session can get here
    damaged: tuple[str, ...] = ()  # journal entries that cannot be read, with the way out
    running: bool = False  # another tuner run holds the lock now (drift is not looked at)

    @property
    def needs_attention(self) -> bool:
        return bool(self.drift or self.unsettled or self.ineffective or self.damaged)

    def to_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "applied": None if self.applied is None else self.applied.profile,
            "generation": None if self.applied is None else self.applied.number,
            "in_effect": [
                {"generation": g.number, "profile": g.profile, "status": g.status}
                for g in self.stack
            ],
            "drifted": bool(self.drift),
            "drift": [d.to_json() for d in self.drift],
            "incomplete": [_incomplete(g) for g in self.unsettled],
            "ineffective": list(self.ineffective),
            "damaged": list(self.damaged),
            "run_in_progress": self.running,
        }


def _incomplete(generation: Generation) -> str:
    from tuner.state.journal import incomplete_message

    return incomplete_message(generation)


def expected_state(
    stack: tuple[Generation, ...],
) -> tuple[dict[str, FileState | None], dict[str, str]]:
    """What the applies in effect put in place: for each file and key, the newest one's."""

    files: dict[str, FileState | None] = {}
    values: dict[str, str] = {}
    for generation in stack:
        files.update(generation.files_after)
        values.update(generation.sysctl_after)
    return files, values


def status(host: Host) -> Status:
    """The applies in effect, anything unsettled, and how the host differs from what the applies
    recorded (content, mode, owner, live values; live values not in image mode)."""
    from tuner.changes import drift
    from tuner.state.journal import Journal

    journal = Journal(host)
    generations = journal.generations(tolerate_damage=True)
    damaged = tuple(d.message() for d in journal.damaged)
    unsettled = tuple(journal.unsettled(generations))
    stack = tuple(journal.in_effect(generations))
    applied = journal.applied(generations)
    differences: list[drift.Difference] = []
    files, values = expected_state(stack)
    if host.image_mode:
        values = {}
    running = bool(journal.writer_busy)
    if running:  # what a run in progress changes is not drift: compare with what it started on
        stack = tuple(g for g in stack if g.status != "pending")
        applied = journal.applied(list(stack))
        files, values = expected_state(stack)
        values = {} if host.image_mode else values
    if stack and not unsettled and not running:
        differences = drift.differences(files, values, *drift.observe(host, files, values))
    mode = "image" if host.image_mode else "host"
    ineffective = _ineffective(files, host)
    return Status(mode, stack, applied, unsettled, tuple(differences), tuple(ineffective),
                  damaged, running)  # fmt: skip


def _ineffective(files: dict[str, FileState | None], host: Host) -> list[str]:
    """The applied nofile lines no new session can get on this machine (sessions.py)."""
    from tuner.machine import sessions
    from tuner.model import pamlimits

    if not any(path.startswith("/etc/security/limits") for path in files):
        return []
    cap = sessions.nofile_cap(host.kernel)
    if cap is None:
        return []
    found = []
    for path, state in sorted(files.items()):
        if state is None or not path.startswith("/etc/security/limits"):
            continue
        for line in pamlimits.parse_limits_conf(state.content.decode(errors="replace"), path):
            if line.item == "nofile" and sessions.capped(line.value, cap):
                found.append(
                    f"{line.where}: nofile {line.value} for {line.domain} does not take "
                    f"effect: a new session gets at most {cap.hard:,} ({cap.reason})"
                )
    return found


@dataclass(frozen=True)
class History:
    generations: tuple[Generation, ...]
    undone: frozenset[int]
    in_effect: frozenset[int]
    unsettled: tuple[Generation, ...]
    pruned: tuple[int, ...] = ()
    kept_extra: int = 0
    prune_asked: bool = False
    damaged: tuple[str, ...] = ()
    quarantined: str | None = None  # where --quarantine moved an entry

    def status_of(self, generation: Generation) -> str:
        """complete, failed, incomplete or needs recovery; for an apply, if it is in effect."""
        if generation.number in self.undone:
            return "rolled back"
        status = {"pending": "incomplete", "needs-recovery": "needs recovery"}.get(
            generation.status, generation.status
        )
        return f"{status}, in effect" if generation.number in self.in_effect else status

    def to_json(self) -> dict[str, object]:
        return {"generations": [self.entry(g) for g in self.generations],
                "damaged": list(self.damaged), "quarantined": self.quarantined}  # fmt: skip

    def entry(self, generation: Generation) -> dict[str, object]:
        return {
            "generation": generation.number,
            "kind": generation.kind,
            "profile": generation.profile,
            "created": generation.created,
            "finished": generation.finished,
            "status": self.status_of(generation),
            "in_effect": generation.number in self.in_effect,
            "mode": generation.mode,
            "rolls_back": generation.rolls_back,
            "undoes": list(generation.reverts),
            "plan": list(generation.plan),
            "files": changed_files(generation),
            "sysctl": {
                key: {"before": generation.sysctl_before.get(key), "after": value}
                for key, value in sorted(generation.sysctl_after.items())
            },
            "error": generation.error,
        }


def changed_files(generation: Generation) -> list[str]:
    after, before = generation.files_after, generation.files_before
    return sorted(p for p in after if before.get(p) != after[p])


def history(host: Host, keep: int | None = None, quarantine: str | None = None) -> History:
    """Every generation, oldest first; with ``keep``, first prune all but the newest ``keep``
    that nothing needs (under the lock); with ``quarantine``, first move that damaged entry out
    of the journal (under the lock). Damaged entries are listed, never fatal here."""
    from tuner.state.journal import Journal

    journal = Journal(host)
    pruned: list[int] = []
    extra = 0
    moved = None
    if quarantine is not None:
        with host.lock():
            moved = journal.quarantine(quarantine)
    if keep is not None and journal.generations(tolerate_damage=True):
        with host.lock():
            before = journal.generations(tolerate_damage=True)
            gone = journal.prunable(before, keep)
            first_damaged = min((d.number or 0 for d in journal.damaged), default=None)
            if first_damaged is not None:  # what a damaged entry needed is unknown: keep it
                gone = [g for g in gone if g.number < first_damaged]
            for generation in gone:
                journal.remove(generation)
        pruned = [g.number for g in gone]
        extra = max(len(before) - len(gone) - keep, 0)
    generations = journal.generations(tolerate_damage=True)
    return History(
        tuple(generations),
        frozenset(journal.rolled_back(generations)),
        frozenset(g.number for g in journal.in_effect(generations)),
        tuple(journal.unsettled(generations)),
        tuple(pruned),
        extra,
        keep is not None,
        tuple(d.message() for d in journal.damaged),
        moved,
    )


# --- capacity ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityReport:
    profile: Profile
    ceiling: capacity_model.Ceiling
    checks: tuple[capacity_model.Check, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def met(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        intent = self.profile.intent
        return {
            "profile": self.profile.name,
            "intent": None if intent is None else intent.to_json(),
            "ceiling": self.ceiling.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "met": self.met,
        }


def capacity(ref: str, host: Host) -> CapacityReport:
    """How many connections ``ref`` allows; rule errors are findings here, not refusals."""
    from tuner.knowledge import capacity as capacity_model
    from tuner.knowledge.facts import Facts

    live = LiveKernel(host)
    profile, diagnostics = load_checked(ref, host, live=live, rule_errors_fail=False)
    facts = Facts(profile, live)
    return CapacityReport(
        profile,
        capacity_model.ceiling(profile, facts),
        tuple(capacity_model.checks(profile, facts)),
        tuple(diagnostics),
    )


# --- doctor -----------------------------------------------------------------------------------

DOCTOR_KEYS = (
    "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_timestamps", "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_max_orphans",
    "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "fs.file-nr", "fs.file-max",
    "fs.nr_open", "net.netfilter.nf_conntrack_count", "net.netfilter.nf_conntrack_max",
    "net.ipv4.tcp_tw_reuse_delay", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
)  # fmt: skip


@dataclass(frozen=True)
class Doctor:
    seen: diagnosis.Observation
    findings: tuple[diagnosis.Finding, ...]
    profile: str | None = None  # --profile: the findings carry its verdicts

    @property
    def needs_attention(self) -> bool:
        return any(f.severity != "info" for f in self.findings)

    def to_json(self) -> dict[str, object]:
        seen = self.seen
        values = seen.values
        return {
            "namespace": {
                "network": seen.namespace,
                "initial": seen.initial_namespace,
                "container": seen.container,
            },
            "findings": [f.to_json() for f in self.findings],
            "profile": self.profile,
            "census": {
                "total": seen.census.total,
                "states": dict(sorted(seen.census.states.items())),
                "families": seen.census.families,
                "inbound": seen.census.inbound,
                "listeners": len(seen.census.listeners),
                "tuples": diagnosis.tuple_rows(seen),
            },
            "time_wait": {
                "total": seen.state("time-wait"),
                "fin_wait_2": seen.state("fin-wait-2"),
                "timewait_sockets": seen.counters.timewait_sockets,
                "max_tw_buckets": _number(values, "net.ipv4.tcp_max_tw_buckets"),
                "overflows": seen.counters.time_wait_overflow,
                "reuse": values.get("net.ipv4.tcp_tw_reuse"),
                "timestamps": values.get("net.ipv4.tcp_timestamps"),
                "reuse_delay_ms": _number(values, "net.ipv4.tcp_tw_reuse_delay"),
                "reuse_in_force": seen.reuse.describe(),
            },
            "ports": seen.space.to_json()
            | {"bound_inactive": None if seen.census.bound is None else len(seen.census.bound)},
            "sources": [diagnosis.source_json(s, seen.space) for s in seen.census.sources],
            "descriptors": {
                "file_nr": _number(values, "fs.file-nr"),
                "file_max": _number(values, "fs.file-max"),
                "processes": diagnosis.process_rows(seen.processes.closest),
                "processes_seen": seen.processes.seen,
                "processes_unseen": seen.processes.unseen,
            },
            "listen": {
                "somaxconn": _number(values, "net.core.somaxconn"),
                "listen_overflows": seen.counters.listen_overflows,
                "listen_drops": seen.counters.listen_drops,
            },
            "orphans": {
                "count": seen.counters.orphans,
                "max": _number(values, "net.ipv4.tcp_max_orphans"),
            },
            "conntrack": {
                "count": _number(values, "net.netfilter.nf_conntrack_count"),
                "max": _number(values, "net.netfilter.nf_conntrack_max"),
            },
            "notes": list(seen.notes),
        }


def _number(values: dict[str, str], key: str) -> int | None:
    text = values.get(key, "").split()
    return int(text[0]) if text and text[0].isdigit() else None


def doctor(
    host: Host,
    profile: str | None = None,
    *,
    top: int = 5,
    progress: sockets.Progress | None = None,
) -> Doctor:
    """What limits this host's connections now, each finding with its fix; with ``profile``,
    whether that profile would fix each one."""
    if host.image_mode:
        raise TunerError("doctor reads the running kernel: it has nothing to read in image mode")
    notes: list[str] = []
    live = LiveKernel(host)
    values = {key: value for key in DOCTOR_KEYS if (value := live.value(key)) is not None}
    if "net.netfilter.nf_conntrack_max" not in values:
        notes.append("conntrack: not loaded in this namespace (nothing tracked, nothing to check)")
    unread = sorted(key for key in DOCTOR_KEYS if live.error(key))
    if unread:
        notes.append(f"could not read {', '.join(unread)}")
    low, high = connections.range_of(values)
    reuse = connections.reuse_of(values)
    census = host.kernel.census(progress, (low + high + 1) // 2, int(reuse.delay * 1000))
    processes = host.kernel.processes(top)
    if processes.unseen:
        notes.append(f"could not read the descriptors of {processes.unseen} of "
                     f"{processes.seen + processes.unseen} processes (not root)")  # fmt: skip
    namespace, initial = host.kernel.network_namespace()
    seen = diagnosis.Observation(
        census, values, _counters(host, notes), processes, namespace, initial,
        host.container(), tuple(notes), _users(host, processes),
    )  # fmt: skip
    listed = _list_bound(seen)
    if listed is not False:
        bound = host.kernel.bound_ports() if listed else ()
        seen = dataclasses.replace(seen, census=dataclasses.replace(census, bound=bound))
    found = diagnosis.findings(seen)
    found = _with_profiles(found, host)
    if profile is None:
        return Doctor(seen, tuple(found))
    view = _profile_view(profile, host, live)
    judged = [dataclasses.replace(f, verdict=diagnosis.verdict(f, seen, view)) for f in found]
    return Doctor(seen, tuple(judged), profile)


def _list_bound(seen: diagnosis.Observation) -> bool | None:
    """Whether to list bound, unconnected sockets: True; None when there are none; False when
    too few could exist to change a finding. Listing them costs the kernel a walk of every bind
    bucket, connected sockets included (~1 us a socket). There are at most sockstat's alloc
    (every namespace's sockets) less inuse (this one's hashed sockets)."""
    inuse, alloc = seen.counters.tcp_inuse, seen.counters.tcp_alloc
    if inuse is None or alloc is None:
        return True
    unhashed = alloc - inuse
    if unhashed <= 0:
        return None
    return diagnosis.pressure(seen, unhashed) >= connections.WARNING


def _counters(host: Host, notes: list[str]) -> diagnosis.Counters:
    sockstat = _table(host.kernel.read_proc("net/sockstat"), "TCP:")
    netstat = _table(host.kernel.read_proc("net/netstat"), "TcpExt:")
    if not sockstat:
        notes.append("could not read /proc/net/sockstat (TIME_WAIT and orphan totals)")
    if not netstat:
        notes.append("could not read /proc/net/netstat (listen queue overflows)")
    return diagnosis.Counters(
        sockstat.get("tw"), sockstat.get("orphan"),
        netstat.get("ListenOverflows"), netstat.get("ListenDrops"),
        netstat.get("TCPTimeWaitOverflow"), sockstat.get("inuse"), sockstat.get("alloc"),
    )  # fmt: skip


def _users(host: Host, processes: ProcessScan) -> dict[int, str]:
    """Names of the uids of the processes doctor lists (the host's /etc/passwd)."""
    uids = {p.uid for p in processes.closest if p.uid is not None}
    if not uids:
        return {}
    from tuner.model.pamlimits import accounts

    found = {uid: name for name, (uid, _gid) in accounts(host).users.items() if uid in uids}
    return found | ({0: "root"} if 0 in uids and 0 not in found else {})


def _table(text: str | None, prefix: str) -> dict[str, int]:
    """ "TCP: inuse 5 orphan 0 tw 2" (sockstat) or a header line and a value line (netstat)."""
    lines = [line.split() for line in (text or "").splitlines() if line.startswith(prefix)]
    found: dict[str, int] = {}
    if len(lines) == 1:  # sockstat: name value pairs
        pairs = lines[0][1:]
        names, numbers = pairs[0::2], pairs[1::2]
    elif len(lines) >= 2:  # netstat: names, then values
        names, numbers = lines[0][1:], lines[1][1:]
    else:
        return found
    for name, number in zip(names, numbers, strict=False):
        if number.isdigit():
            found[name] = int(number)
    return found


def _with_profiles(found: list[diagnosis.Finding], host: Host) -> list[diagnosis.Finding]:
    """Name the bundled profiles that set each finding's fix (a value at least as large)."""
    if not any(_fix_settings(f) for f in found):
        return found
    from tuner.machine.cache import resolve_cached
    from tuner.profile.library import ProfileLibrary

    library = ProfileLibrary.for_root(host.root)
    settings: dict[str, dict[str, str]] = {}
    for entry in library.entries():
        if entry.origin != "bundled":
            continue
        resolved, _problems = resolve_cached(entry.name, library)
        if resolved is not None:
            settings[entry.name] = _profile_settings(resolved)
    result = []
    for finding in found:
        wanted = _fix_settings(finding)
        names = tuple(
            name for name, values in sorted(settings.items())
            if wanted and all(_satisfies(values.get(k), v) for k, v in wanted.items())
        )  # fmt: skip
        result.append(dataclasses.replace(finding, profiles=names))
    return result


def _fix_settings(finding: diagnosis.Finding) -> dict[str, str]:
    """A finding's fix as flat settings: "fs.file-max", "limits * nofile",
    "services haproxy.service LimitNOFILE" -> value."""
    found: dict[str, str] = {}
    sysctl, limits, services = (finding.fix.get(k) for k in ("sysctl", "limits", "services"))
    if isinstance(sysctl, dict):
        found |= {str(k): str(v) for k, v in sysctl.items()}
    if isinstance(limits, list):
        found |= {f"limits {e['domain']} {e['item']}": str(e["value"]) for e in limits}
    if isinstance(services, dict):
        for unit, directives in services.items():
            found |= {f"services {unit} {k}": str(v) for k, v in directives.items()}
    return found


def _profile_settings(profile: Profile) -> dict[str, str]:
    """What a profile sets, flattened as ``_fix_settings`` flattens a fix (soft limits)."""
    found = {e.key.name: e.value for e in profile.sysctl}
    found |= {f"limits {e.domain} {e.item}": e.value for e in profile.limits if e.kind == "soft"}
    found |= {f"services {s.unit} {s.directive}": s.value for s in profile.services}
    return found


def _satisfies(have: str | None, want: str) -> bool:
    """A profile value does what the fix asks: equal, or (one number) at least as large, or
    (a port range) at least as wide."""
    if have is None:
        return False
    if have == want:
        return True
    try:
        got, need = [int(p) for p in have.split()], [int(p) for p in want.split()]
    except ValueError:
        return False
    if len(got) == len(need) == 1:
        return got[0] >= need[0]
    if len(got) == len(need) == 2:
        return got[0] <= need[0] and got[1] >= need[1]
    return False


def _profile_view(ref: str, host: Host, live: LiveKernel) -> diagnosis.ProfileView:
    resolved, _diagnostics = load_checked(ref, host, live=live, rule_errors_fail=False)
    values = {key: value for key in DOCTOR_KEYS if (value := live.value(key)) is not None}
    values.update({e.key.name: e.value for e in resolved.sysctl})
    return diagnosis.ProfileView(values, resolved)
