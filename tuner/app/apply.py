"""tuner apply: the whole workflow, returning what was done.

The plan (or a saved plan, checked against the host it was made on), the review (shown, then
confirmed), the transaction under the lock (the plan is made again there and must not have
moved), and systemd told about changed drop-ins. Nothing is changed before the reviewer agrees,
and a failure leaves the host as it was (``state.transaction``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuner.app import units
from tuner.app.plan import blockers, prepare, replaced, summary_of
from tuner.app.workflow import Review, agreed, require_root, warn_chroot
from tuner.base.errors import TunerError
from tuner.changes.plan import FileChange, KernelChange, Plan, make_plan
from tuner.machine import systemd
from tuner.machine.host import MANAGED_MODE, FileState, Host, LockHeld
from tuner.profile.library import ProfileLibrary
from tuner.profile.ref import ProfileRef
from tuner.state import savedplan
from tuner.state.journal import Generation, Journal, incomplete_message
from tuner.state.transaction import Target, run


@dataclass(frozen=True)
class Applied:
    plan: Plan
    generation: Generation | None  # None: nothing was changed (a dry run, or nothing to do)
    units: tuple[str, ...] = ()  # systemd units whose drop-ins changed
    systemd: tuple[str, ...] = ()  # what was done about them, a line each
    dry_run: bool = False
    in_effect: Generation | None = None  # a saved plan applied before: the generation it made

    @property
    def changed(self) -> bool:
        return self.generation is not None

    def to_json(self) -> dict[str, object]:
        """Whether anything changed, what (the plan's pending changes), the generation, and what
        systemd was asked to do."""
        plan = self.plan
        return {
            "changed": self.changed,
            "profile": plan.profile.name,
            "mode": plan.mode,
            "root": plan.root,
            "generation": None if self.generation is None else self.generation.number,
            "units": list(self.units),
            "changes": [c.to_json() for c in plan.pending],
            "systemd": list(self.systemd),
            "already_applied": None if self.in_effect is None else self.in_effect.number,
        }


def apply(
    ref: ProfileRef,
    host: Host,
    library: ProfileLibrary,
    review: Review,
    *,
    strict: bool = False,
    yes: bool = False,
    dry_run: bool = False,
    restart_services: bool = False,
) -> Applied:
    """Apply ``ref`` (a profile, or a saved plan: then exactly that plan, or nothing)."""
    saved = None
    if ref.kind == "plan":
        saved = _saved(Path(ref.text), host)
        ref = ProfileRef.parse(saved[0].ref)
        yes = True  # the plan was reviewed when it was saved: apply exactly it, or refuse
    if not dry_run:
        refuse_unsettled(Journal(host))
    plan = prepare(ref, host, library, strict=strict)
    if saved is not None:
        before = _applied_before(saved[0], plan, ref, host)
        if before is not None:
            return Applied(plan, None, in_effect=before)
        _refuse_stale(*saved, plan, host)
    review.show(plan)
    if dry_run or not plan.has_changes:
        return Applied(plan, None, dry_run=dry_run)
    blocked = blockers(plan)
    if blocked:
        raise TunerError("cannot apply: " + "; ".join(blocked))
    require_root(host, "apply")
    warn_chroot(host, review, plan)
    agreed(review, yes=yes, question="Apply these changes?", verb="apply")
    generation, changed_units = commit(plan, host)
    done = f"{generation.profile} is applied (generation {generation.number})"
    said = units.reload(host, list(changed_units), restart=restart_services, done=done)
    return Applied(plan, generation, changed_units, tuple(said))


def commit(shown: Plan, host: Host) -> tuple[Generation, tuple[str, ...]]:
    """Change exactly what ``shown`` showed, under the lock, all or nothing; refuses when the host
    changed since (the plan is made again under the lock and must match). Returns the
    generation and the systemd units whose drop-ins changed."""
    journal = Journal(host)
    with host.lock():
        refuse_unsettled(journal, locked=True)
        profile = shown.profile
        now = make_plan(profile, host, list(shown.diagnostics), replaced=replaced(profile, host))
        if summary_of(now) != summary_of(shown):
            raise TunerError(
                "the host changed since the plan was shown: nothing was changed, run again"
            )
        generation = run(
            host, journal, target_of(now, host), kind="apply", profile=now.profile.name,
            plan=summary_of(now),
        )  # fmt: skip
    changed = [c.path for c in now.pending if isinstance(c, FileChange)]
    return generation, tuple(systemd.units_of(changed))


def refuse_unsettled(journal: Journal, *, locked: bool = False) -> None:
    """Apply refuses while a generation is unsettled (``locked``: the caller holds the lock)."""
    if not locked:
        journal.host.wait_while_locked()  # --wait-lock: another run may finish first
    pending = journal.unsettled(ignore_lock=locked)
    if pending:
        raise TunerError(incomplete_message(pending[-1]) + " apply refuses until then.")
    if not locked and journal.writer_busy:  # say so now, not after planning against its changes
        raise LockHeld(journal.host.lock_message(journal.host.lock_holder()))


def target_of(plan: Plan, host: Host) -> Target:
    owner = host.caller.owner
    files = {
        path: None if text is None else FileState(text.encode(), MANAGED_MODE, *owner)
        for path, text in plan.files.items()
        if any(isinstance(c, FileChange) and c.path == str(path) for c in plan.pending)
    }
    values = {c.key: c.desired for c in plan.pending if isinstance(c, KernelChange)}
    return Target(files, values, _emptied_dirs(files, host))


def _emptied_dirs(
    files: dict[PurePosixPath, FileState | None], host: Host
) -> tuple[PurePosixPath, ...]:
    """The directories an earlier apply created (a unit's drop-in directory) that a file this
    one removes may leave empty: removed once empty, innermost first, as a rollback does."""
    created = {d for g in Journal(host).in_effect() for d in g.created_dirs}
    dirs = set()
    for path, state in files.items():
        if state is not None:
            continue
        for parent in path.parents:
            if str(parent) not in created:
                break
            dirs.add(str(parent))
    return tuple(PurePosixPath(d) for d in sorted(dirs, key=lambda d: (-d.count("/"), d)))


def _saved(path: Path, host: Host) -> tuple[savedplan.Basis, list[dict[str, object]]]:
    """The saved plan's basis and pending changes. Where it applies is the command line's to say
    (``--root``, ``--proc-sys``, ``--no-kernel``; / and the running kernel by default), never the
    file's: a plan made for another root or kernel tree is refused, naming the options to give."""
    basis, pending = savedplan.load(path)
    here = {"--root": str(host.root), "--proc-sys": None if host.proc_sys is None else
            str(host.proc_sys)}  # fmt: skip
    planned = {"--root": basis.root, "--proc-sys": basis.proc_sys}
    moved = [o for o in here if not _same_place(here[o], planned[o])]
    if moved or basis.kernel != host.kernel.available:
        here_said = savedplan.options(str(host.root), here["--proc-sys"]) or "no options"
        planned_said = savedplan.options(basis.root, basis.proc_sys) or "no options"
        raise TunerError(
            f"{path} was planned for {planned_said} (/ and its running kernel when none), but "
            f"this command has {here_said}: nothing was changed. A plan applies only where it "
            "was made: "
            f"{savedplan.apply_command(path, basis)}"
        )
    return basis, pending


def _same_place(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def _applied_before(
    saved: savedplan.Basis, plan: Plan, ref: ProfileRef, host: Host
) -> Generation | None:
    """The generation a saved plan made, when it is the one in effect and nothing it set has
    moved since: running the plan again is then done already, not stale."""
    if plan.has_changes:
        return None
    moved = savedplan.changes_since(saved, savedplan.basis_of(plan, ref, host))
    if any(line.startswith(("the ", "profile file ")) for line in moved):
        return None  # another root, kernel or profile: a different plan, not this one again
    applied = Journal(host).applied()
    return applied if applied is not None and applied.profile == plan.profile.name else None


def _refuse_stale(
    saved: savedplan.Basis, pending: list[dict[str, object]], plan: Plan, host: Host
) -> None:
    """Refuse, naming every difference, when the host or the profile moved since the plan."""
    ref = ProfileRef.parse(saved.ref)
    moved = savedplan.changes_since(saved, savedplan.basis_of(plan, ref, host))
    if not moved and summary_of(plan) != pending:
        moved = ["the changes the plan would make are different now"]
    if moved:
        raise TunerError(
            "the saved plan is stale, nothing was changed (plan again):\n"
            + "\n".join(f"  {line}" for line in moved)
        )
