"""All or nothing: change files and live values, or leave the host exactly as it was.

``run`` is the one engine behind apply and rollback:

1. the caller holds the lock;
2. the prior state of everything to be touched is captured and a ``pending`` generation holding it
   is written durably, before any change;
3. files are written atomically (or removed), then live values in a safe order (``order``);
4. every file and value is read back and compared;
5. the generation is marked ``complete``.

Any failure (the kernel refusing a value, a write error, a full disk, Ctrl-C) undoes what was done,
in reverse, and marks the generation ``failed``. If the process is killed instead, the generation
stays ``pending`` and ``tuner rollback`` restores its prior state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tuner import order
from tuner.errors import HostError, TunerError
from tuner.host import FileState, Host
from tuner.journal import Generation, Journal, Kind, now
from tuner.keys import normalize_live, parse_key


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
        current = host.read_sysctl_raw(parse_key(name))  # raw: restored exactly, tabs and all
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
    rolls_back: int | None = None,
    plan: list[dict[str, object]] | None = None,
) -> Generation:
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
    generation = Generation(
        number=journal.next_number(),
        kind=kind,
        profile=profile,
        mode="image" if host.image_mode else "host",
        status="pending",
        created=now(),
        files_before=files_before,
        files_after={str(p): s for p, s in sorted(target.files.items())},
        sysctl_before=sysctl_before,
        sysctl_after=dict(target.sysctl),
        created_dirs=tuple(new_dirs),
        rolls_back=rolls_back,
        plan=tuple(plan or ()),
    )
    journal.save(generation)  # durable before the first change
    # undone last, innermost first: the directories this run creates
    undo: list[Callable[[], None]] = [
        functools.partial(host.remove_dir_if_empty, PurePosixPath(d)) for d in new_dirs
    ]
    try:
        for path, state in sorted(target.files.items()):
            prior = files_before[str(path)]
            if state is None:
                host.remove_file(path)
            else:
                host.write_file(path, state)
            undo.append(functools.partial(_restore_file, host, path, prior))
        keys = [parse_key(name) for name in target.sysctl]
        current = {k: normalize_live(v) for k, v in sysctl_before.items()}
        for key in order.write_order(
            keys, lambda k: k, lambda k: target.sysctl[k.name], current.get
        ):
            host.write_sysctl(key, target.sysctl[key.name])
            undo.append(functools.partial(host.write_sysctl, key, sysctl_before[key.name]))
        _verify(host, target)
        for directory in target.remove_dirs:
            host.remove_dir_if_empty(directory)
    except BaseException as exc:  # Ctrl-C too: never leave a half-applied host
        problems = _undo(undo)
        reason = str(exc) if isinstance(exc, TunerError) else f"{type(exc).__name__}: {exc}"
        journal.save(generation.finish("failed", reason))
        if problems:
            left = "; ".join(problems)
            raise TransactionFailed(
                f"{reason}. Undoing it also failed ({left}): run `tuner rollback --to "
                f"{generation.number}`"
            ) from exc
        if not isinstance(exc, Exception):
            raise
        raise TransactionFailed(f"{reason}. Nothing was changed: every step was undone.") from exc
    done = generation.finish("complete")
    journal.save(done)
    return done


def _restore_file(host: Host, path: PurePosixPath, prior: FileState | None) -> None:
    if prior is None:
        host.remove_file(path)
    else:
        host.write_file(path, prior)


def _undo(steps: list[Callable[[], None]]) -> list[str]:
    problems = []
    for step in reversed(steps):
        try:
            step()
        except Exception as exc:  # keep undoing the rest
            problems.append(str(exc))
    return problems


def _verify(host: Host, target: Target) -> None:
    for path, state in target.files.items():
        found = host.file_state(path)
        if (found.content if found else None) != (state.content if state else None):
            raise HostError(f"{path} does not hold what was written")
    for name, value in target.sysctl.items():
        live = host.read_sysctl(parse_key(name))
        if live is None or live != normalize_live(value):
            raise HostError(f"{name} reads back as {live!r}, not {value!r}")
