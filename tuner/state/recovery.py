"""What a rollback does, decided from the journal (the recovery model is in journal.py).

``choose`` returns a ``Choice``: finish an interrupted rollback, roll back an unfinished apply,
undo the newest apply in effect, or with ``to`` undo every apply in effect from generation N on,
restoring for each file and key what the oldest of them found there. ``preview`` says what that
changes on the host as it is now (a file already gone is no change), and what it would discard:
changes made by hand since the applies it undoes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from tuner.base.errors import NotFoundError, TunerError
from tuner.base.keys import normalize_live
from tuner.changes import drift
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


def expected_after(
    generations: tuple[Generation, ...] | list[Generation],
) -> tuple[dict[str, FileState | None], dict[str, str]]:
    """What ``generations`` (oldest first) left in place: each file and key as the newest of
    them that touched it wrote it."""
    files: dict[str, FileState | None] = {}
    values: dict[str, str] = {}
    for generation in generations:
        files.update(generation.files_after)
        values.update(generation.sysctl_after)
    return files, values


@dataclass(frozen=True)
class Step:
    """One change a rollback makes to the host as it is now."""

    path: str | None
    key: str | None
    action: str  # restore | remove | set
    now: str | None = None  # a live value: what it is (normalised)
    to: str | None = None  # a live value: what it becomes

    def __str__(self) -> str:
        if self.key is not None:
            return f"~ {self.key}: {self.now or '(absent)'} -> {self.to}"
        return f"{'-' if self.action == 'remove' else '~'} {self.path}"

    def to_json(self) -> dict[str, object]:
        found = {"path": self.path, "key": self.key, "action": self.action,
                 "from": self.now, "to": self.to}  # fmt: skip
        return {k: v for k, v in found.items() if v is not None}


@dataclass(frozen=True)
class Preview:
    """What a rollback will do here: the choice, its steps on the host as it is now, and the
    changes made since the applies it undoes, which it would discard."""

    choice: Choice
    steps: tuple[Step, ...]
    discarded: tuple[drift.Difference, ...]


def preview(choice: Choice, host: Host) -> Preview:
    target = choice.target
    now_files, now_values = drift.observe(host, target.files, target.sysctl)  # read once
    steps = []
    for path, state in sorted(target.files.items()):
        now = now_files[str(path)]
        if now is None and state is None:
            continue  # already gone
        if now is not None and state is not None and (now.content, now.mode) == (
            state.content, state.mode):  # fmt: skip
            continue
        steps.append(Step(str(path), None, "remove" if state is None else "restore"))
    for name, value in sorted(target.sysctl.items()):
        current = now_values[name]
        wanted = normalize_live(value)
        if current is None or normalize_live(current) != wanted:
            steps.append(Step(None, name, "set", current and normalize_live(current), wanted))
    discarded: list[drift.Difference] = []
    finished = sorted((g for g in choice.undoes if g.status == "complete"), key=lambda g: g.number)
    if choice.resume is None and finished:  # only a finished run's after-state is known to hold
        files, values = expected_after(finished)
        files = {p: s for p, s in files.items() if PurePosixPath(p) in target.files}
        values = {} if host.image_mode else {k: v for k, v in values.items()
                                               if k in target.sysctl}  # fmt: skip
        discarded = drift.differences(files, values, now_files, now_values,
                                      owners=host.caller.privileged)  # fmt: skip
    return Preview(choice, tuple(steps), tuple(discarded))
