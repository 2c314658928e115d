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
import contextlib
import json
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import PurePosixPath
from typing import Any, Literal

from tuner.base import services
from tuner.base.errors import HostError
from tuner.base.keys import MAX_VALUE_LENGTH, KeySyntaxError, normalize_live, parse_key
from tuner.changes import render
from tuner.machine.host import STATE_DIR, FileState, Host

GENERATIONS = STATE_DIR / "generations"
FORMAT_VERSION = 1
Status = Literal["pending", "complete", "failed", "needs-recovery"]
UNSETTLED = ("pending", "needs-recovery")
Kind = Literal["apply", "rollback"]


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

    @property
    def changed_files(self) -> list[str]:
        """The files this generation changed (created, rewrote or removed)."""
        after, before = self.files_after, self.files_before
        return sorted(p for p in after if before.get(p) != after[p])

    def finish(self, status: Status, at: str, error: str | None = None) -> Generation:
        return replace(self, status=status, finished=at, error=error)

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
    def from_json(cls, data: object) -> Generation:
        """A generation from its JSON, every field checked (a journal entry is untrusted input:
        rollback writes what it says). ``Damage`` says what is wrong."""
        if not isinstance(data, dict):
            raise Damage("not a JSON object")
        if data.get("format_version") != FORMAT_VERSION:
            raise Damage(f"format_version is not {FORMAT_VERSION}")
        data = {k: v for k, v in data.items() if k != "format_version"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k)[:40] for k in set(data) - known)
        if unknown:
            raise Damage(f"unknown field {unknown[0]!r}")
        missing = sorted({"number", "kind", "profile", "mode", "status", "created"} - set(data))
        if missing:
            raise Damage(f"missing field {missing[0]!r}")
        _expect(data, "number", lambda v: _is_int(v) and v >= 1, "a number from 1")
        _expect(data, "kind", lambda v: v in ("apply", "rollback"), "apply or rollback")
        _expect(data, "profile", lambda v: isinstance(v, str) and _one_line(v), "a name")
        _expect(data, "mode", lambda v: v in ("host", "image"), "host or image")
        _expect(data, "status", lambda v: v in _STATUSES, "a status")
        for name in ("created", "finished", "error"):
            _expect(data, name, lambda v: v is None or isinstance(v, str), "text or null")
        _expect(data, "rolls_back", lambda v: v is None or _is_int(v), "a number or null")
        _expect(data, "undoes", lambda v: isinstance(v, list) and all(map(_is_int, v)),
                "a list of numbers")  # fmt: skip
        _expect(data, "plan", lambda v: isinstance(v, list) and all(isinstance(c, dict) for c in v),
                "a list of objects")  # fmt: skip
        out: dict[str, Any] = dict(data)
        for name in ("files_before", "files_after"):
            out[name] = {_managed(p): _state(s, p) for p, s in _mapping(data, name).items()}
        for name in ("sysctl_before", "sysctl_after"):
            out[name] = {_sysctl_name(k): _sysctl_value(k, v) for k, v in
                         _mapping(data, name).items()}  # fmt: skip
        for name in ("created_dirs", "remove_dirs"):
            value = data.get(name, [])
            if not isinstance(value, list):
                raise Damage(f"{name} is not a list")
            out[name] = tuple(_managed_dir(d) for d in value)
        for name in ("plan", "undoes"):
            out[name] = tuple(data.get(name, ()))
        return cls(**out)


class Damage(ValueError):
    """What is wrong with a journal entry."""


_STATUSES = ("pending", "complete", "failed", "needs-recovery")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _one_line(text: str) -> bool:
    return len(text) <= 4096 and not any(
        (ord(c) < 32 and c != "\t") or 127 <= ord(c) < 160
        for c in text  # the kernel's tab
    )


def _expect(data: dict[str, Any], name: str, test: Any, said: str) -> None:
    if name in data and not test(data[name]):
        raise Damage(f"{name} is not {said}")


def _mapping(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise Damage(f"{name} is not an object")
    return value


def _managed(path: str) -> str:
    """A path a journal entry may name: one of the files tuner writes, nothing else."""
    if path in (str(render.SYSCTL_FILE), str(render.LIMITS_FILE)):
        return path
    pure = PurePosixPath(path)
    unit = pure.parent.name.removesuffix(".d")
    if (
        pure.parent.parent == render.SYSTEMD_DIR
        and pure.parent.name.endswith(".d")
        and pure.name == render.DROPIN_NAME
        and path == str(render.dropin_path(unit))
    ):
        try:
            services.check_unit(unit)
        except ValueError:
            pass
        else:
            return path
    raise Damage(f"{path[:80]!r} is not a file tuner manages")


def _managed_dir(path: object) -> str:
    """A directory a journal entry may create or remove: one that holds a file tuner manages."""
    if not isinstance(path, str):
        raise Damage("a directory is not text")
    pure = PurePosixPath(path)
    if str(pure) == path and pure.is_absolute() and pure != PurePosixPath("/"):
        if any(pure in PurePosixPath(f).parents for f in
               (render.SYSCTL_FILE, render.LIMITS_FILE)):  # fmt: skip
            return path
        if pure in render.SYSTEMD_DIR.parents or pure == render.SYSTEMD_DIR:
            return path
        if pure.parent == render.SYSTEMD_DIR:
            with contextlib.suppress(Damage):
                _managed(str(pure / render.DROPIN_NAME))
                return path
    raise Damage(f"{path[:80]!r} is not a directory tuner manages")


def _sysctl_name(name: str) -> str:
    try:
        canonical = parse_key(name).name
    except KeySyntaxError:
        raise Damage(f"{name[:80]!r} is not a sysctl key") from None
    if canonical != name:
        raise Damage(f"{name[:80]!r} is not a sysctl key in its canonical form")
    return name


def _sysctl_value(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH or not _one_line(value):
        raise Damage(f"the value of {name} is not one line of text")
    return value


def _state_json(state: FileState | None) -> dict[str, Any] | None:
    if state is None:
        return None
    content = base64.b64encode(state.content).decode()
    return {"content": content, "mode": state.mode, "uid": state.uid, "gid": state.gid}


def _state(data: object, path: str) -> FileState | None:
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) != {"content", "mode", "uid", "gid"}:
        raise Damage(f"the state of {path} is not content, mode, uid and gid")
    mode, uid, gid, content = data["mode"], data["uid"], data["gid"], data["content"]
    if not (_is_int(mode) and 0 <= mode <= 0o7777):
        raise Damage(f"the mode of {path} is not a file mode")
    if not all(_is_int(n) and 0 <= n < 2**32 - 1 for n in (uid, gid)):
        raise Damage(f"the owner of {path} is not a uid and gid")
    try:
        raw = base64.b64decode(content, validate=True)
    except (TypeError, ValueError):
        raise Damage(f"the content of {path} is not base64") from None
    return FileState(raw, mode, uid, gid)


@dataclass(frozen=True)
class Damaged:
    """A journal entry tuner cannot read, and why."""

    name: str  # the file name in the generations directory
    path: str  # where it is on this machine
    reason: str

    @property
    def number(self) -> int | None:
        stem = self.name.removesuffix(".json")
        return int(stem) if stem.isdigit() else None

    def message(self) -> str:
        ref = self.number if self.number is not None else self.name
        return (f"the journal entry {self.path} is damaged ({self.reason}); "
                f"move it aside with: tuner history --quarantine {ref}")  # fmt: skip


class JournalDamaged(HostError):
    def __init__(self, damaged: list[Damaged]) -> None:
        self.damaged = damaged
        super().__init__("; ".join(d.message() for d in damaged[:3]) + (
            f" (and {len(damaged) - 3} more)" if len(damaged) > 3 else ""))  # fmt: skip


QUARANTINE = STATE_DIR / "quarantine"
MAX_ENTRY_BYTES = 64 * 1024 * 1024


class Journal:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.damaged: list[Damaged] = []
        self.writer_busy: bool | None = None  # whether a writer held the lock at the last read

    def generations(self, *, tolerate_damage: bool = False) -> list[Generation]:
        """Every readable generation, oldest first. A damaged entry raises ``JournalDamaged``
        (what would change the host must not guess) unless ``tolerate_damage`` (read-only
        commands): then it is left out and listed in ``self.damaged``."""
        with self.host.reading() as busy:
            found, damaged = self._read_all()
        self.writer_busy = busy
        self.damaged = damaged
        if damaged and not tolerate_damage:
            raise JournalDamaged(damaged)
        return sorted(found, key=lambda g: g.number)

    def _read_all(self) -> tuple[list[Generation], list[Damaged]]:
        found, damaged = [], []
        for name in self.host.list_dir(GENERATIONS):
            if not name.endswith(".json") or name.startswith("."):
                continue  # a temporary file left by a killed run
            path = GENERATIONS / name
            try:
                state = self.host.fs.read(path, limit=MAX_ENTRY_BYTES, follow_last=False)
                if state is None:
                    continue  # removed meanwhile
                generation = Generation.from_json(json.loads(state.content))
                if f"{generation.number:06d}.json" != name:
                    raise Damage(f"it says it is generation {generation.number}")
            except (Damage, HostError, ValueError, RecursionError) as exc:
                reason = str(exc) if isinstance(exc, (Damage, HostError)) else "not JSON"
                damaged.append(Damaged(name, str(self.host.real_path(path)), reason))
                continue
            found.append(generation)
        return found, damaged

    def quarantine(self, ref: str) -> str:
        """Move the damaged entry ``ref`` (its number or file name) out of the journal, into
        the quarantine directory beside it; where it went. Only a damaged entry: an intact one
        is what status and rollback stand on."""
        self.generations(tolerate_damage=True)
        matches = [d for d in self.damaged if ref in (d.name, str(d.number))]
        if not matches:
            known = ", ".join(str(d.number or d.name) for d in self.damaged) or "none"
            raise HostError(f"no damaged journal entry {ref!r} (damaged: {known})")
        entry = matches[0]
        target = QUARANTINE / f"{entry.name}.{self.host.now().replace(':', '')}"
        self.host.fs.rename(GENERATIONS / entry.name, target, dir_mode=0o700)
        return str(self.host.real_path(target))

    def next_number(self) -> int:
        existing = self.generations()
        return existing[-1].number + 1 if existing else 1

    def save(self, generation: Generation) -> None:
        """Write a generation durably (atomic replace, fsync of file and directory). Called under
        the lock, it first removes what a killed save left behind (temporary files)."""
        self.host.make_dirs(STATE_DIR, mode=0o700)
        self.host.make_dirs(GENERATIONS, mode=0o700)
        self.sweep()
        self.host.write_file(_path(generation), _file(generation, self.host.caller.owner))

    def sweep(self) -> None:
        """Remove temporary files a killed save left in the journal (only under the lock)."""
        self.host.remove_temporaries(GENERATIONS)

    def reserve(self, generation: Generation) -> None:
        """Set aside the space the final save of ``generation`` needs, so that a full disk fails
        before the first change rather than after the last; ``release`` frees it for that save."""
        size = len(_file(generation, self.host.caller.owner).content) + RESERVE_MARGIN
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
        busy = self.writer_busy if self.writer_busy is not None else self.host.lock_held()
        if not ignore_lock and busy:  # pending is that run's own, not a dead run's
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


def _file(generation: Generation, owner: tuple[int, int]) -> FileState:
    text = json.dumps(generation.to_json(), indent=1, sort_keys=True) + "\n"
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


def replaced_values(
    stack: Sequence[Generation], own: Collection[str]
) -> dict[str, tuple[str, str]]:
    """What applying a profile that sets the keys ``own`` over the applies in effect (``stack``,
    oldest first) undoes: each key they set and the profile does not, with the value it had
    before the first of them set it and who set it. A second profile *replaces* the first
    (docs/recovery.md): its files hold only its own keys, so the live values must too, or the
    next boot would disagree with the running kernel."""
    found: dict[str, tuple[str, str]] = {}
    for generation in stack:  # oldest first: its "before" is the value from before any of them
        for name in generation.sysctl_after:
            if name not in own and name not in found and name in generation.sysctl_before:
                who = f"{generation.profile} (generation {generation.number})"
                found[name] = (normalize_live(generation.sysctl_before[name]), who)
    return found
