"""What a rollback does, decided from the journal (the recovery model is in journal.py).

``choose`` returns a ``Choice``: finish an interrupted rollback, roll back an unfinished apply,
undo the newest apply in effect, or with ``to`` undo every apply in effect from generation N on,
restoring for each file and key what the oldest of them found there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from tuner.base.errors import NotFoundError, TunerError
from tuner.machine.host import STATE_DIR, FileState, Host
from tuner.state.journal import Generation, Journal
from tuner.state.transaction import Target


@dataclass(frozen=True)
class Choice:
    """What a rollback will do: finish ``resume``, or undo the applies in ``undoes``."""

    target: Target
    undoes: tuple[Generation, ...] = ()
    resume: Generation | None = None
    skipped_values: int = 0  # live values left alone in image mode

    @property
    def key(self) -> tuple[object, ...]:
        return (self.resume.number if self.resume else None, tuple(g.number for g in self.undoes))

    def describe(self) -> str:
        if self.resume is not None:
            return (
                f"Finishing generation {self.resume.number} (rollback of "
                f"{', '.join(str(n) for n in self.resume.reverts)}, did not finish)"
            )
        names = ", ".join(
            f"{g.number} ({g.profile}{'' if g.status == 'complete' else ', unfinished'})"
            for g in reversed(self.undoes)
        )
        return f"Rolling back generation{'s' if len(self.undoes) > 1 else ''} {names}"


def choose(journal: Journal, to: int | None, *, locked: bool = False) -> Choice:
    """``locked``: the caller holds the lock, so every pending generation is a dead run's."""
    generations = journal.generations()
    if not generations:
        where = journal.host.real_path(STATE_DIR)
        raise NotFoundError(f"nothing to roll back: no generations in {where}")
    unsettled = journal.unsettled(generations, ignore_lock=locked)
    in_effect = journal.in_effect(generations)
    unfinished_rollbacks = [g for g in unsettled if g.kind == "rollback"]
    if to is None:
        if unsettled and unsettled[-1].kind == "rollback":
            return _finish(unsettled[-1])
        if unsettled:
            return _undo([unsettled[-1]])
        if not in_effect:
            raise NotFoundError("nothing to roll back: no apply is in effect")
        return _undo([in_effect[-1]])
    if unfinished_rollbacks:
        last = unfinished_rollbacks[-1]
        raise TunerError(
            f"generation {last.number} (a rollback) did not finish: run `tuner rollback` "
            "to finish it first"
        )
    chosen = next((g for g in generations if g.number == to), None)
    if chosen is None:
        raise NotFoundError(f"no generation {to} (history: 1..{generations[-1].number})")
    if chosen.kind != "apply":
        raise TunerError(f"generation {to} is a rollback: --to names an apply to undo")
    undo = [g for g in in_effect if g.number >= to]
    if not undo:
        raise NotFoundError(
            f"nothing to roll back: generation {to} and every apply after it are not in effect"
        )
    return _undo(undo)


def _finish(generation: Generation) -> Choice:
    target = Target(
        files={PurePosixPath(p): s for p, s in generation.files_after.items()},
        sysctl=dict(generation.sysctl_after),
        remove_dirs=tuple(PurePosixPath(d) for d in generation.remove_dirs),
    )
    return Choice(target, resume=generation)


def _undo(applies: list[Generation]) -> Choice:
    """The state from before the oldest of ``applies``: for each file and key, what the oldest
    of them that touched it found there."""
    files: dict[PurePosixPath, FileState | None] = {}
    values: dict[str, str] = {}
    dirs: set[str] = set()
    for generation in reversed(applies):  # newest first: the oldest's record is written last
        files.update({PurePosixPath(p): s for p, s in generation.files_before.items()})
        values.update(generation.sysctl_before)
        dirs.update(generation.created_dirs)
    innermost_first = sorted(dirs, key=lambda d: (-d.count("/"), d))
    target = Target(
        files=files,
        sysctl=values,
        remove_dirs=tuple(PurePosixPath(d) for d in innermost_first),
    )
    return Choice(target, undoes=tuple(applies))


def for_host(choice: Choice, host: Host) -> Choice:
    """In image mode live values are not restored: files only."""
    if not host.image_mode or not choice.target.sysctl:
        return choice
    target = Target(choice.target.files, {}, choice.target.remove_dirs)
    return Choice(target, choice.undoes, choice.resume, len(choice.target.sysctl))
