"""The journal: every apply and rollback is a generation under ``<root>/var/lib/tuner``.

A generation is written durably *before* anything is touched, holding the exact prior state of
every file (bytes, mode, owner, or absence) and every live value it will change, and the state it
is going to reach. Its status goes from ``pending`` to ``complete``, or ``failed`` (undone); it is
``needs-recovery`` when a failure could not be undone either. A ``pending`` generation that no
process is working on means a run died part-way.

The recovery model, in one paragraph: applies stack up, and a rollback walks back down the
stack. Everything else is derived, never stored. An apply is *in effect* unless a complete
rollback undid it. A generation is *unsettled* while it is pending (and no run holds the lock)
or needs recovery; while one is, apply refuses and says what to run. Plain ``tuner rollback``
settles the newest unsettled generation first: an unfinished *apply* is rolled back to the state
recorded before it; an unfinished *rollback* is completed (rolled forward to the state it was
going to reach), never undone. Otherwise it undoes the newest apply in effect. ``rollback --to
N`` restores the state from before generation N, undoing every apply in effect from N on at
once. A rollback is never itself rolled back: to go forward again, apply.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any, Literal

from tuner.errors import HostError
from tuner.host import STATE_DIR, FileState, Host

GENERATIONS = STATE_DIR / "generations"
FORMAT_VERSION = 1
Status = Literal["pending", "complete", "failed", "needs-recovery"]
UNSETTLED = ("pending", "needs-recovery")
Kind = Literal["apply", "rollback"]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Generation:
    number: int
    kind: Kind
    profile: str
    mode: Literal["host", "image"]
    status: Status
    created: str
    files_before: dict[str, FileState | None] = field(default_factory=dict)
    files_after: dict[str, FileState | None] = field(default_factory=dict)
    sysctl_before: dict[str, str] = field(default_factory=dict)
    sysctl_after: dict[str, str] = field(default_factory=dict)
    created_dirs: tuple[str, ...] = ()
    plan: tuple[dict[str, Any], ...] = ()  # the changes apply showed (layer, key/path, action, ...)
    rolls_back: int | None = None  # a rollback: the newest apply it undoes
    undoes: tuple[int, ...] = ()  # a rollback: every apply it undoes
    remove_dirs: tuple[str, ...] = ()  # a rollback: directories to remove once empty
    finished: str | None = None
    error: str | None = None

    @property
    def reverts(self) -> tuple[int, ...]:
        return self.undoes or ((self.rolls_back,) if self.rolls_back is not None else ())

    def finish(self, status: Status, error: str | None = None) -> Generation:
        return replace(self, status=status, finished=now(), error=error)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_before"] = {p: _state_json(s) for p, s in self.files_before.items()}
        data["files_after"] = {p: _state_json(s) for p, s in self.files_after.items()}
        data["created_dirs"] = list(self.created_dirs)
        data["plan"] = list(self.plan)
        data["undoes"] = list(self.undoes)
        data["remove_dirs"] = list(self.remove_dirs)
        return {"format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Generation:
        data = {k: v for k, v in data.items() if k != "format_version"}
        data["files_before"] = {p: _state(s) for p, s in data["files_before"].items()}
        data["files_after"] = {p: _state(s) for p, s in data["files_after"].items()}
        data["created_dirs"] = tuple(data["created_dirs"])
        data["plan"] = tuple(data.get("plan", ()))
        data["undoes"] = tuple(data.get("undoes", ()))
        data["remove_dirs"] = tuple(data.get("remove_dirs", ()))
        return cls(**data)


def _state_json(state: FileState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    content = base64.b64encode(state.content).decode()
    return {"content": content, "mode": state.mode, "uid": state.uid, "gid": state.gid}


def _state(data: dict[str, Any] | None) -> FileState | None:
    if data is None:
        return None
    return FileState(base64.b64decode(data["content"]), data["mode"], data["uid"], data["gid"])


class Journal:
    def __init__(self, host: Host) -> None:
        self.host = host

    def generations(self) -> list[Generation]:
        found = []
        for name in self.host.list_dir(GENERATIONS):
            if not name.endswith(".json"):
                continue  # a temporary file left by a killed run
            text = self.host.read_text(GENERATIONS / name)
            try:
                found.append(Generation.from_json(json.loads(text or "")))
            except (ValueError, KeyError, TypeError) as exc:
                where = self.host.real_path(GENERATIONS / name)
                raise HostError(f"the journal entry {where} is damaged: {exc}") from None
        return sorted(found, key=lambda g: g.number)

    def next_number(self) -> int:
        existing = self.generations()
        return existing[-1].number + 1 if existing else 1

    def save(self, generation: Generation) -> None:
        """Write a generation durably (atomic replace, fsync of file and directory). Called under
        the lock, it first removes what a killed save left behind (temporary files)."""
        self.host.make_dirs(STATE_DIR, mode=0o700)
        self.host.make_dirs(GENERATIONS, mode=0o700)
        self.sweep()
        self.host.write_file(_path(generation), _file(generation))

    def sweep(self) -> None:
        """Remove temporary files a killed save left in the journal (only under the lock)."""
        self.host.remove_temporaries(GENERATIONS)

    def reserve(self, generation: Generation) -> None:
        """Set aside the space the final save of ``generation`` needs, so that a full disk fails
        before the first change rather than after the last; ``release`` frees it for that save."""
        size = len(_file(generation).content) + RESERVE_MARGIN
        self.host.reserve_space(RESERVATION, size)

    def release(self) -> None:
        self.host.remove_file(RESERVATION)

    def prunable(self, generations: list[Generation], keep: int) -> list[Generation]:
        """Of ``generations``, those older than the newest ``keep`` that nothing needs any more.

        Only a prefix of the history goes. It stops before the oldest apply still in effect
        (status and rollback need what it recorded) and before anything unsettled."""
        needed = [g.number for g in self.in_effect(generations)]
        needed += [g.number for g in self.unsettled(generations, ignore_lock=True)]
        old = generations[: max(len(generations) - keep, 0)]
        return [g for g in old if not needed or g.number < min(needed)]

    def remove(self, generation: Generation) -> None:
        self.host.remove_file(_path(generation))

    def rolled_back(self, generations: list[Generation]) -> set[int]:
        """Numbers of the applies a complete rollback has undone."""
        return {
            number
            for g in generations
            if g.kind == "rollback" and g.status == "complete"
            for number in g.reverts
        }

    def unsettled(
        self, generations: list[Generation] | None = None, *, ignore_lock: bool = False
    ) -> list[Generation]:
        """Generations a run left pending or could not undo, oldest first; an apply that a
        complete rollback undid is settled. While a run holds the lock, pending is its own."""
        generations = self.generations() if generations is None else generations
        undone = self.rolled_back(generations)
        found = [g for g in generations if g.status in UNSETTLED and g.number not in undone]
        if not ignore_lock and self.host.lock_held():
            found = [g for g in found if g.status == "needs-recovery"]
        return found

    def in_effect(self, generations: list[Generation] | None = None) -> list[Generation]:
        """The applies whose effect is (or, unfinished, may partly be) in place, oldest first."""
        generations = self.generations() if generations is None else generations
        undone = self.rolled_back(generations)
        return [
            g
            for g in generations
            if g.kind == "apply" and g.status != "failed" and g.number not in undone
        ]

    def applied(self, generations: list[Generation] | None = None) -> Generation | None:
        """The newest complete apply in effect."""
        complete = [g for g in self.in_effect(generations) if g.status == "complete"]
        return complete[-1] if complete else None


RESERVATION = GENERATIONS / ".reserved-space"
RESERVE_MARGIN = 64 * 1024


def _file(generation: Generation) -> FileState:
    text = json.dumps(generation.to_json(), indent=1, sort_keys=True) + "\n"
    owner = (0, 0) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    return FileState(text.encode(), 0o600, *owner)


def _path(generation: Generation) -> PurePosixPath:
    return GENERATIONS / f"{generation.number:06d}.json"


def incomplete_message(generation: Generation) -> str:
    """What is wrong with an unsettled generation, and the one command that settles it."""
    what = (
        f"generation {generation.number} ({generation.kind} {generation.profile}, "
        f"{generation.created})"
    )
    if generation.status == "needs-recovery":
        cause = f"failed, and undoing it failed too ({generation.error})"
    else:
        cause = "did not finish: tuner was interrupted part-way"
    if generation.kind == "rollback":
        fix = "Run `tuner rollback` to finish it (it completes the rollback, never undoes it)."
    else:
        fix = "Run `tuner rollback` to restore the state from before it."
    return f"{what} {cause}. {fix}"
