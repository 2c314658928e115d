"""All or nothing: change files and live values, or leave the host exactly as it was.

``run`` is the one engine behind apply and rollback:

1. the caller holds the lock;
2. the prior state of everything to be touched is captured and a ``pending`` generation holding it
   (and the state to reach) is written durably, before any change; so is a reservation of the
   space its final record needs, so a full disk fails here, with nothing changed;
3. files are written atomically (or removed), then live values in a safe order (``order``);
4. every file and value is read back and compared;
5. the generation is marked ``complete``.

Any failure (the kernel refusing a value, a write error, a full disk, SIGINT, SIGTERM, SIGHUP)
undoes what was done, in reverse, with further signals held back, and marks the generation
``failed``; when the undo fails too, ``needs-recovery``, which every command reports until
``tuner rollback`` settles it. If the process is killed instead, the generation stays ``pending``
and ``tuner rollback`` settles it (see journal.py for the recovery model). A rollback that was
interrupted is finished by running ``run`` again with ``resume``: its target is recorded.
"""

from __future__ import annotations

import contextlib
import functools
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tuner.base.errors import HostError, TunerError
from tuner.base.keys import SysctlKey, normalize_live, parse_key
from tuner.changes import drift, order
from tuner.machine import signals
from tuner.machine.host import FileState, Host
from tuner.state.journal import Generation, Journal, Kind, Status


class TransactionFailed(TunerError):
    pass


@dataclass(frozen=True)
class Target:
    """The state to reach: file contents (None: absent) and live values."""

    files: dict[PurePosixPath, FileState | None] = field(default_factory=dict)
    sysctl: dict[str, str] = field(default_factory=dict)
    remove_dirs: tuple[PurePosixPath, ...] = ()  # to remove once empty (rollback of created dirs)


def capture(host: Host, target: Target) -> tuple[dict[str, FileState | None], dict[str, str]]:
    """The current state of everything ``target`` touches; refuses symlinks before any change."""
    files = {str(path): host.file_state(path) for path in sorted(target.files)}
    values: dict[str, str] = {}
    for name in target.sysctl:
        current = host.kernel.read_raw(parse_key(name))  # raw: restored exactly, tabs and all
        if current is None:
            raise HostError(f"cannot set {name}: the running kernel has no such key")
        values[name] = current
    return files, values


def run(
    host: Host,
    journal: Journal,
    target: Target,
    *,
    kind: Kind,
    profile: str,
    undoes: tuple[int, ...] = (),
    plan: list[dict[str, object]] | None = None,
    resume: Generation | None = None,
) -> Generation:
    """Reach ``target``, journaled as a new generation (or as ``resume``, an unfinished one)."""
    files_before, sysctl_before = capture(host, target)
    # recorded before any change, so a rollback after a kill -9 removes them too
    new_dirs = sorted(
        {
            str(d)
            for p, s in target.files.items()
            if s is not None
            for d in host.missing_dirs(p.parent)
        }
    )
    generation = resume or Generation(
        number=journal.next_number(),
        kind=kind,
        profile=profile,
        mode="image" if host.image_mode else "host",
        status="pending",
        created=host.now(),
        files_before=files_before,
        files_after={str(p): s for p, s in sorted(target.files.items())},
        sysctl_before=sysctl_before,
        sysctl_after=dict(target.sysctl),
        created_dirs=tuple(new_dirs),
        rolls_back=max(undoes) if undoes else None,
        undoes=undoes,
        remove_dirs=tuple(str(d) for d in target.remove_dirs),
        plan=tuple(plan or ()),
    )
    try:
        with signals.shielded():  # the journal entry and its reservation, or neither
            _begin(journal, generation, fresh=resume is None)
    except signals.Interrupted as exc:  # held back until the start was recorded: take it back
        with signals.shielded():
            _withdraw(journal, generation, fresh=resume is None)
        raise signals.Interrupted(exc.signum, "nothing was changed") from None
    # undone last, innermost first: the directories this run creates
    undo: list[Callable[[], None]] = [
        functools.partial(host.remove_dir_if_empty, PurePosixPath(d)) for d in new_dirs
    ]
    # Each undo is recorded *before* its change: a signal that lands between a change and the
    # next line finds the undo already there (restoring what was not changed yet is harmless).
    try:
        for path, state in sorted(target.files.items()):
            undo.append(functools.partial(_restore_file, host, path, files_before[str(path)]))
            if state is None:
                host.remove_file(path)
            else:
                host.write_file(path, state)
        keys = [parse_key(name) for name in target.sysctl]
        current = {k: normalize_live(v) for k, v in sysctl_before.items()}
        for key in order.write_order(
            keys, lambda k: k, lambda k: target.sysctl[k.name], current.get
        ):
            undo.append(functools.partial(_restore_value, host, key, sysctl_before[key.name]))
            host.kernel.write(key, target.sysctl[key.name])
        _verify(host, target)
        for directory in target.remove_dirs:
            if host.fs.exists(directory):  # made again by the undo, should this run fail
                undo.append(functools.partial(host.make_dirs, directory))
            host.remove_dir_if_empty(directory)
    except BaseException as exc:  # signals too: never leave a half-applied host
        with signals.shielded():
            _fail(journal, generation, undo, exc, resumed=resume is not None)
        raise  # pragma: no cover - _fail always raises
    try:
        with signals.shielded():
            return _complete(journal, generation, undo)
    except signals.Interrupted as exc:  # it came while the result was recorded: it stands
        done = f"it came after the change was complete (generation {generation.number})"
        raise signals.Interrupted(exc.signum, done) from None


def _begin(journal: Journal, generation: Generation, *, fresh: bool) -> None:
    """The durable start: the pending entry, then the space its final save needs."""
    if fresh:
        try:
            journal.save(generation)
        except HostError as exc:
            raise TransactionFailed(
                f"cannot start the journal entry ({exc}): nothing was changed"
            ) from None
    try:
        journal.reserve(generation)
    except HostError as exc:
        if fresh:
            with contextlib.suppress(HostError):
                journal.remove(generation)
        raise TransactionFailed(f"{exc}: the journal has no room; nothing was changed") from None


def _withdraw(journal: Journal, generation: Generation, *, fresh: bool) -> None:
    """Undo ``_begin``: nothing was changed yet, so the run leaves no trace in the journal."""
    with contextlib.suppress(HostError):
        journal.release()
    if fresh:
        with contextlib.suppress(HostError):
            journal.remove(generation)


def _complete(
    journal: Journal, generation: Generation, undo: list[Callable[[], None]]
) -> Generation:
    done = generation.finish("complete", journal.host.now())
    try:
        journal.release()
        journal.save(done)
    except HostError as exc:  # every change is made, but the journal cannot say so: undo them
        problems = _undo(undo)
        with contextlib.suppress(HostError):
            status: Status = "needs-recovery" if problems else "failed"
            journal.save(generation.finish(status, journal.host.now(), str(exc)))
        if problems:
            raise TransactionFailed(
                f"every change was made, but recording it failed ({exc}), and undoing the "
                f"changes failed too ({'; '.join(problems)}): run `tuner rollback` once the "
                f"cause is fixed (generation {generation.number} needs recovery)"
            ) from None
        raise TransactionFailed(
            f"every change was made, but recording it in the journal failed ({exc}), so every "
            "change was undone: the host is as it was. If status still reports generation "
            f"{generation.number} as unfinished, `tuner rollback` settles it"
        ) from None
    return done


def _fail(
    journal: Journal,
    generation: Generation,
    undo: list[Callable[[], None]],
    exc: BaseException,
    *,
    resumed: bool,
) -> None:
    problems = _undo(undo)
    if isinstance(exc, signals.Interrupted):
        reason = f"interrupted by {exc.name}"
    elif isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    else:
        reason = str(exc) if isinstance(exc, TunerError) else f"{type(exc).__name__}: {exc}"
    # a resumed rollback that failed is still unfinished: the host is where it was before
    status: Status = "needs-recovery" if problems or resumed else "failed"
    error = f"{reason}; undoing it failed: {'; '.join(problems)}" if problems else reason
    recorded = True
    try:
        with contextlib.suppress(HostError):
            journal.release()
        journal.save(generation.finish(status, journal.host.now(), error))
    except HostError:
        recorded = False  # the entry stays pending: as unsettled as needs-recovery
    if problems:
        outcome = (
            f"undoing it also failed ({'; '.join(problems)}): generation {generation.number} "
            "needs recovery; run `tuner rollback` once the cause is fixed"
        )
    elif resumed:
        outcome = (
            f"every step of this attempt was undone; generation {generation.number} is still "
            "unfinished: run `tuner rollback` again once the cause is fixed"
        )
    else:
        outcome = "nothing was changed: every step was undone"
    if not recorded and not problems:
        outcome += " (the journal could not record that; `tuner rollback` settles it)"
    if isinstance(exc, signals.Interrupted):
        raise signals.Interrupted(exc.signum, outcome) from None
    if isinstance(exc, KeyboardInterrupt):
        raise signals.Interrupted(signal.SIGINT, outcome) from None
    raise TransactionFailed(f"{reason}. {outcome[:1].upper()}{outcome[1:]}.") from exc


def _restore_value(host: Host, key: SysctlKey, prior: str) -> None:
    """Put ``prior`` back, unless the value never changed (the undo is recorded before the
    write, so it may find the write never happened)."""
    current = host.kernel.read_raw(key)
    if current is not None and normalize_live(current) == normalize_live(prior):
        return
    host.kernel.write(key, prior)


def _restore_file(host: Host, path: PurePosixPath, prior: FileState | None) -> None:
    with contextlib.suppress(HostError):
        if host.file_state(path) == prior:
            host.remove_temporaries(path.parent)  # a killed write may have left one beside it
            return
    if prior is None:
        host.remove_file(path)
    else:
        host.write_file(path, prior)


def _undo(steps: list[Callable[[], None]]) -> list[str]:
    problems = []
    for step in reversed(steps):
        try:
            step()
        except BaseException as exc:  # keep undoing the rest, whatever one step raised
            problems.append(str(exc) or type(exc).__name__)
    return problems


def _verify(host: Host, target: Target) -> None:
    """Read everything back: the same comparison as status's drift (drift.py)."""
    files = {str(p): s for p, s in target.files.items()}
    found = drift.observe(host, files, target.sysctl)
    problems = drift.differences(files, target.sysctl, *found, owners=host.caller.privileged)
    if problems:
        raise HostError(f"read back differs: {'; '.join(map(str, problems))}")
