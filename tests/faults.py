"""Run a tuner command in a forked child with a fault at its Nth step.

A *step* is one call that changes the host or the journal: ``Host.write_file``, the rename inside
it (``os.rename`` of a ``.tuner-tmp`` file), ``Host.remove_file``, ``Host.write_sysctl`` and
``Host.reserve_space``. At step N the child either dies at once (``kill``: ``os._exit``, which
like SIGKILL runs no ``finally`` and no undo) or the step fails with an OSError's message
(``ENOSPC``, ``EROFS``: what the real method says when the system call fails).

Forking keeps each run cheap (tuner is already imported) and its patches out of the test process.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tuner.cli
import tuner.commands.apply
import tuner.commands.plan
import tuner.commands.rollback
import tuner.commands.status
import tuner.profile
import tuner.rules  # noqa: F401 - imported once here, not in every forked child
from tuner.errors import HostError
from tuner.host import Host
from tuner.kernel import ProcKernel

STEPS = ("write_file", "rename", "remove_file", "write_sysctl", "reserve_space")
KILLED = 128 + signal.SIGKILL


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    steps: int  # how many steps the run reached (all of them when it was not cut short)


def run(args: list[str], at: int = 0, fault: str = "kill", work: Path | None = None) -> Outcome:
    """``tuner ARGS`` with ``fault`` at step ``at`` (0: no fault, just count the steps)."""
    work = work or Path("/tmp")
    out = work / f".fault-{os.getpid()}.out"
    count = work / f".fault-{os.getpid()}.count"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        code = 70
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            # pytest's capture replaced sys.stdout with an object of its own: write to the fds
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            _arm(at, fault, count)
            from tuner.cli import main

            code = main(args)
            sys.stdout.flush()
            sys.stderr.flush()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # a crash must show as one, not as pytest carrying on in a child
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace")
    steps = int(count.read_text() or 0) if count.exists() else 0
    out.unlink(missing_ok=True)
    count.unlink(missing_ok=True)
    return Outcome(KILLED if code == KILLED else code, text, steps)


def _arm(at: int, fault: str, count_file: Path) -> None:
    calls = 0

    def step(what: str) -> None:
        nonlocal calls
        calls += 1
        count_file.write_text(str(calls))
        if calls != at:
            return
        if fault == "kill":
            os._exit(KILLED)
        code = getattr(errno, fault)
        if what == "rename":  # inside write_file, which handles an OSError itself
            raise OSError(code, os.strerror(code))
        raise HostError(f"{what} failed: {os.strerror(code)} (injected {fault})")

    for method in ("write_file", "remove_file", "write_sysctl", "reserve_space"):
        owner, name = (ProcKernel, "write") if method == "write_sysctl" else (Host, method)
        original = getattr(owner, name)

        def wrapped(
            self: object, *args: object, _original: object = original, _name: str = method
        ) -> object:
            step(_name)
            return _original(self, *args)  # type: ignore[operator]

        setattr(owner, name, wrapped)
    rename = os.rename

    def renaming(source: str, target: str, **dir_fds: int) -> None:
        if str(source).endswith(".tuner-tmp"):
            step("rename")
        rename(source, target, **dir_fds)

    os.rename = renaming  # type: ignore[assignment]


# --- a signal after every mutating system call ------------------------------------------------

MUTATING = ("write", "pwrite", "ftruncate", "rename", "unlink", "mkdir", "rmdir", "fsync",
            "fchmod", "fchown", "posix_fallocate")  # fmt: skip
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC


def run_signalled(
    args: list[str], at: int, signum: int = signal.SIGTERM, work: Path | None = None
) -> Outcome:
    """``tuner ARGS`` in a forked child that sends itself ``signum`` right after its ``at``-th
    mutating system call returns (0: none, just count them): os.write, rename, unlink, mkdir,
    rmdir, fsync, fchmod, fchown, ftruncate, posix_fallocate, and an open that may create or
    truncate. Python runs the handler at the next bytecode, the worst moment for a run: the
    change is made and the line after it has not run. The kernel's own /proc/sys writes count."""
    work = work or Path("/tmp")
    out = work / f".signal-{os.getpid()}.out"
    count = work / f".signal-{os.getpid()}.count"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            calls = _arm_signal(at, signum)
            from tuner.cli import main

            try:
                code = main(args)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                _write_count(count, calls())
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    text = out.read_text(errors="replace")
    steps = int(count.read_text() or 0) if count.exists() else 0
    out.unlink(missing_ok=True)
    count.unlink(missing_ok=True)
    return Outcome(os.waitstatus_to_exitcode(status), text, steps)


def _write_count(path: Path, calls: int) -> None:
    fd = _ORIGINAL["open"](str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    _ORIGINAL["write"](fd, str(calls).encode())
    os.close(fd)


_ORIGINAL: dict[str, Callable[..., Any]] = {}


def _arm_signal(at: int, signum: int) -> Callable[[], int]:
    calls = 0

    def after() -> None:
        nonlocal calls
        calls += 1
        if calls == at:
            os.kill(os.getpid(), signum)  # pending now; Python raises it at the next bytecode

    def wrap(name: str) -> None:
        original = getattr(os, name)
        _ORIGINAL[name] = original

        def wrapped(*args: object, **kwargs: object) -> object:
            result = original(*args, **kwargs)
            after()
            return result

        setattr(os, name, wrapped)

    for name in MUTATING:
        wrap(name)
    opener = os.open
    _ORIGINAL["open"] = opener

    def opening(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd: int = opener(path, flags, *args, **kwargs)
        if flags & _WRITE_FLAGS:
            after()
        return fd

    os.open = opening
    return lambda: calls
