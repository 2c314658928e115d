"""tuner rollback: the whole workflow, returning what was done.

What will be undone (the newest apply in effect, every apply down to ``--to N``, or the rest of
a run that was killed), the review, the transaction under the lock (the choice is made again
there and must not have moved), and systemd told about changed drop-ins."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.app import units
from tuner.app.workflow import Review, agreed, require_root, warn_chroot
from tuner.base.errors import TunerError
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

    @property
    def done(self) -> str:
        """What is done, in words: "generation 3 is rolled back (generation 4)"."""
        number = self.generation.number
        if self.choice.resume is not None:
            return f"generation {number} is finished"
        return f"generation {self.undone} is rolled back (generation {number})"

    @property
    def undone(self) -> str:
        """The generations undone, newest first: "3, 2"."""
        return ", ".join(str(g.number) for g in reversed(self.choice.undoes))

    def to_json(self) -> dict[str, object]:
        return {
            "changed": True,
            "generation": self.generation.number,
            "finished": self.choice.resume.number if self.choice.resume else None,
            "undoes": [g.number for g in self.choice.undoes],
            "units": list(self.units),
            "systemd": list(self.systemd),
        }


def rollback(
    host: Host,
    review: Review,
    *,
    to: int | None = None,
    yes: bool = False,
    restart_services: bool = False,
) -> RolledBack:
    """Undo the newest apply in effect (or all down to generation ``to``), or finish a run that
    was killed; after ``review`` agrees."""
    require_root(host, "rollback")
    choice = prepare_rollback(host, to)
    review.show(choice)
    if choice.target.sysctl:
        warn_chroot(host, review)
    agreed(review, yes=yes, question="Apply these changes?")
    result = commit(choice, host, to)
    said = units.reload(host, list(result.units), restart=restart_services, done=result.done)
    return RolledBack(result.generation, choice, result.units, tuple(said))


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
