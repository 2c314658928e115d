"""The journal: every apply and rollback is a generation under ``<root>/var/lib/tuner``.

A generation is written durably *before* anything is touched, holding the exact prior state of
every file (bytes, mode, owner, or absence) and every live value it will change, so that
``tuner rollback`` can restore it after any failure, even a kill -9. Its status goes from
``pending`` to ``complete`` or ``failed`` (undone); a ``pending`` generation that no process is
working on means a run died part-way.

Whether a generation has been rolled back is derived, never stored: it has, when a complete
rollback generation names it and that rollback has not itself been rolled back.
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
Status = Literal["pending", "complete", "failed"]
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
    rolls_back: int | None = None
    finished: str | None = None
    error: str | None = None

    def finish(self, status: Status, error: str | None = None) -> Generation:
        return replace(self, status=status, finished=now(), error=error)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_before"] = {p: _state_json(s) for p, s in self.files_before.items()}
        data["files_after"] = {p: _state_json(s) for p, s in self.files_after.items()}
        data["created_dirs"] = list(self.created_dirs)
        data["plan"] = list(self.plan)
        return {"format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Generation:
        data = {k: v for k, v in data.items() if k != "format_version"}
        data["files_before"] = {p: _state(s) for p, s in data["files_before"].items()}
        data["files_after"] = {p: _state(s) for p, s in data["files_after"].items()}
        data["created_dirs"] = tuple(data["created_dirs"])
        data["plan"] = tuple(data.get("plan", ()))
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
        """Write a generation durably (atomic replace, fsync of file and directory)."""
        self.host.make_dirs(STATE_DIR, mode=0o700)
        self.host.make_dirs(GENERATIONS, mode=0o700)
        text = json.dumps(generation.to_json(), indent=1, sort_keys=True) + "\n"
        owner = (0, 0) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
        self.host.write_file(_path(generation), FileState(text.encode(), 0o600, *owner))

    def prunable(self, generations: list[Generation], keep: int) -> list[Generation]:
        """Of ``generations``, those older than the newest ``keep`` that nothing needs any more.

        Only a prefix of the history goes, so every rollback that stays still follows what it
        undid. It stops before the applied generation (status compares the host against it) and
        before any unfinished one (rollback restores from it)."""
        undone = self.rolled_back(generations)
        applied = self.applied(generations)
        needed = [g.number for g in generations if g.status == "pending" and g.number not in undone]
        needed += [applied.number] if applied else []
        old = generations[: max(len(generations) - keep, 0)]
        return [g for g in old if not needed or g.number < min(needed)]

    def remove(self, generation: Generation) -> None:
        self.host.remove_file(_path(generation))

    def rolled_back(self, generations: list[Generation]) -> set[int]:
        """Numbers of the generations whose effect has been undone by a rollback."""
        undone: set[int] = set()
        for generation in reversed(generations):  # a later rollback decides about earlier ones
            if generation.number in undone:
                continue
            if generation.kind == "rollback" and generation.status == "complete":
                assert generation.rolls_back is not None
                undone.add(generation.rolls_back)
        return undone

    def incomplete(self) -> list[Generation]:
        """Generations a run left pending without finishing (none while a run holds the lock)."""
        generations = self.generations()
        undone = self.rolled_back(generations)  # a rollback settles an unfinished generation
        pending = [g for g in generations if g.status == "pending" and g.number not in undone]
        if pending and self.host.lock_held():
            return []
        return pending

    def applied(self, generations: list[Generation] | None = None) -> Generation | None:
        """The last complete apply whose effect is still in place."""
        generations = self.generations() if generations is None else generations
        undone = self.rolled_back(generations)
        for generation in reversed(generations):
            complete = generation.kind == "apply" and generation.status == "complete"
            if complete and generation.number not in undone:
                return generation
        return None


def _path(generation: Generation) -> PurePosixPath:
    return GENERATIONS / f"{generation.number:06d}.json"


def incomplete_message(generation: Generation) -> str:
    return (
        f"generation {generation.number} ({generation.kind} {generation.profile}, "
        f"{generation.created}) did not finish: tuner was interrupted part-way. "
        "Run `tuner rollback` to restore the state from before it."
    )
