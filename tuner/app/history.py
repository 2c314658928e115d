"""tuner history: every apply and rollback, oldest first; pruning and quarantine (under the
lock)."""

from __future__ import annotations

from dataclasses import dataclass

from tuner.machine.host import Host
from tuner.state.journal import Generation, Journal


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
            "files": generation.changed_files,
            "sysctl": {
                key: {"before": generation.sysctl_before.get(key), "after": value}
                for key, value in sorted(generation.sysctl_after.items())
            },
            "error": generation.error,
        }


def history(host: Host, keep: int | None = None, quarantine: str | None = None) -> History:
    """Every generation, oldest first; with ``keep``, first prune all but the newest ``keep``
    that nothing needs (under the lock); with ``quarantine``, first move that damaged entry out
    of the journal (under the lock). Damaged entries are listed, never fatal here."""
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
