"""tuner rollback: the whole workflow, returning what was done.

What will be undone (the newest apply in effect, every apply down to ``--to N``, or the rest of
a run that was killed), the review, the transaction under the lock (the choice is made again
there and must not have moved), and systemd told about changed drop-ins."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.app import units
from tuner.app.workflow import Review, agreed, require_root, warn_chroot
from tuner.base.errors import TunerError
from tuner.base.wording import one_of, plural
from tuner.changes import drift
from tuner.machine import systemd
from tuner.machine.host import Host
from tuner.state import recovery
from tuner.state.journal import GENERATIONS, Generation, Journal
from tuner.state.transaction import run


def prepare_rollback(host: Host, to: int | None) -> recovery.Choice:
    """What rollback will do (after sweeping what killed journal saves left behind)."""
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
    systemd: tuple[str, ...] = ()  # what was done about the units, a line each
    steps: tuple[recovery.Step, ...] = ()  # what changed on the host
    discarded: tuple[drift.Difference, ...] = ()  # changes made since, undone with --force

    @property
    def done(self) -> str:
        """What is done, in words: "generation 3 is rolled back (generation 4)"."""
        number = self.generation.number
        if self.choice.resume is not None:
            return f"generation {number} is finished"
        verb = "is" if len(self.choice.undoes) == 1 else "are"
        return f"{self.undone} {verb} rolled back (generation {number})"

    @property
    def undone(self) -> str:
        """The generations undone, newest first: "generation 3", "generations 3, 2 and 1"."""
        numbers = [str(g.number) for g in reversed(self.choice.undoes)]
        return f"generation{'s' if len(numbers) > 1 else ''} {one_of(numbers, 'and')}"

    def to_json(self) -> dict[str, object]:
        return {
            "changed": True,
            "generation": self.generation.number,
            "finished": self.choice.resume.number if self.choice.resume else None,
            "undoes": [g.number for g in self.choice.undoes],
            "units": list(self.units),
            "systemd": list(self.systemd),
            "changes": [step.to_json() for step in self.steps],
            "discarded": [d.to_json() for d in self.discarded],
        }


def rollback(
    host: Host,
    review: Review,
    *,
    to: int | None = None,
    yes: bool = False,
    force: bool = False,
    restart_services: bool = False,
) -> RolledBack:
    """Undo the newest apply in effect (or all down to generation ``to``), or finish a run that
    was killed; after ``review`` agrees. Changes made by hand since the applies it undoes are
    listed, and discarded only with ``force`` or the reviewer's yes."""
    require_root(host, "rollback")
    choice = prepare_rollback(host, to)
    shown = recovery.preview(choice, host)
    review.show(shown)
    if choice.target.sysctl:
        warn_chroot(host, review)
    if shown.discarded and yes and not force:
        raise TunerError(
            f"rollback would discard {plural(len(shown.discarded), 'change')} made since "
            f"{describe(choice)} (listed above): pass --force to discard them, or put them in a "
            "profile first; nothing was changed"
        )
    question = "Discard those changes and roll back?" if shown.discarded else "Roll back?"
    agreed(review, yes=yes, question=question, verb="roll back")
    result = commit(choice, host, to)
    said = units.reload(host, list(result.units), restart=restart_services, done=result.done)
    return RolledBack(result.generation, choice, result.units, tuple(said), shown.steps,
                      shown.discarded)  # fmt: skip


def describe(choice: recovery.Choice) -> str:
    """The applies a rollback undoes, in words: "generation 3 was applied"."""
    numbers = [str(g.number) for g in reversed(choice.undoes)]
    return f"generation{'s' if len(numbers) > 1 else ''} {one_of(numbers, 'and')} " + (
        "were applied" if len(numbers) > 1 else "was applied")  # fmt: skip


def commit(choice: recovery.Choice, host: Host, to: int | None) -> RolledBack:
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
