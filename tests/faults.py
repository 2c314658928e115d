"""Run a tuner command in a forked child with a fault at its Nth step.

A *step* is one call that changes the host or the journal: ``Host.write_file``, the rename inside
it (``os.rename`` of a ``.tuner-tmp`` file), ``Host.remove_file``, ``Host.write_sysctl`` and
``Host.reserve_space``. At step N the child either dies at once (``kill``: ``os._exit``, which
like SIGKILL runs no ``finally`` and no undo) or the step fails with an OSError's message
(``ENOSPC``, ``EROFS``: what the real method says when the system call fails).

Forking keeps each run cheap (tuner is already imported) and its patches out of the test process.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import signal
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner.base.errors import HostError
from tuner.machine.host import Host
from tuner.machine.kernel import ProcKernel

STEPS = ("write_file", "rename", "remove_file", "write_sysctl", "reserve_space")
KILLED = 128 + signal.SIGKILL


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    steps: int  # how many steps the run reached (all of them when it was not cut short)


def in_child(
    args: list[str], work: Path | None, arm: Callable[[], Callable[[], None]]
) -> tuple[int, str]:
    """``tuner ARGS`` in a forked child (tuner is already imported, and the child's patches
    stay out of pytest): ``arm()`` patches the child before the run and returns what to do
    once it ends, however it ends. The exit code and the output."""
    work = work or Path("/tmp")
    out = work / f".child-{os.getpid()}.out"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        code = 70
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            # pytest's capture replaced sys.stdout with an object of its own: write to the fds
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            finish = arm()
            from tuner.cli.main import main

            try:
                code = main(args)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                finish()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # a crash must show as one, not as pytest carrying on in a child
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    text = out.read_text(errors="replace")
    out.unlink(missing_ok=True)
    return os.waitstatus_to_exitcode(status), text


def _steps(count: Path) -> int:
    steps = int(count.read_text() or 0) if count.exists() else 0
    count.unlink(missing_ok=True)
    return steps


def run(args: list[str], at: int = 0, fault: str = "kill", work: Path | None = None) -> Outcome:
    """``tuner ARGS`` with ``fault`` at step ``at`` (0: no fault, just count the steps)."""
    count = (work or Path("/tmp")) / f".fault-{os.getpid()}.count"

    def arm() -> Callable[[], None]:
        _arm(at, fault, count)
        return lambda: None

    code, text = in_child(args, work, arm)
    return Outcome(KILLED if code == KILLED else code, text, _steps(count))


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
    count = (work or Path("/tmp")) / f".signal-{os.getpid()}.count"

    def arm() -> Callable[[], None]:
        calls = _arm_signal(at, signum)
        return lambda: _write_count(count, calls())

    code, text = in_child(args, work, arm)
    return Outcome(code, text, _steps(count))


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


# --- what was durable when the power went -----------------------------------------------------


def record(args: list[str], under: Path, log: Path, work: Path | None = None) -> Outcome:
    """``tuner ARGS`` in a forked child that logs, in order, every change below ``under`` that
    a power cut could lose: directory entries made or removed (mkdir, create, rename, unlink,
    rmdir), each fsync of a directory, and each fsync of a file with the content, mode and
    owner it made durable (files are identified by inode). JSON lines in ``log``."""

    def arm() -> Callable[[], None]:
        entries = _arm_recorder(str(under))

        def finish() -> None:
            log.write_text("".join(json.dumps(e) + "\n" for e in entries))

        return finish

    code, text = in_child(args, work, arm)
    return Outcome(code, text, 0)


def _arm_recorder(under: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    original = {name: getattr(os, name) for name in ("mkdir", "open", "rename", "unlink",
                                                     "rmdir", "fsync")}  # fmt: skip

    def where(name: Any, dir_fd: int | None) -> str:
        name = str(os.fsdecode(name))
        if dir_fd is None or name.startswith("/"):
            return str(os.path.abspath(name))
        return str(os.path.normpath(os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name)))

    def mine(path: str) -> bool:
        return path == under or path.startswith(under + "/")

    def log(kind: str, **fields: Any) -> None:
        entries.append({"op": kind, **fields})

    def mkdir(path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        original["mkdir"](path, mode, dir_fd=dir_fd)
        if mine(full := where(path, dir_fd)):
            log("mkdir", path=full)

    def opening(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        full = where(path, dir_fd)
        existed = flags & os.O_CREAT and os.path.lexists(full)
        fd: int = original["open"](path, flags, mode, dir_fd=dir_fd)
        if flags & os.O_CREAT and not existed and mine(full):
            log("create", path=full, inode=os.fstat(fd).st_ino)
        return fd

    def rename(source: Any, target: Any, *, src_dir_fd: int | None = None,
               dst_dir_fd: int | None = None) -> None:  # fmt: skip
        before, after = where(source, src_dir_fd), where(target, dst_dir_fd)
        original["rename"](source, target, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        if mine(before) or mine(after):
            log("rename", path=before, to=after)

    def unlink(path: Any, *, dir_fd: int | None = None) -> None:
        full = where(path, dir_fd)
        original["unlink"](path, dir_fd=dir_fd)
        if mine(full):
            log("unlink", path=full)

    def rmdir(path: Any, *, dir_fd: int | None = None) -> None:
        full = where(path, dir_fd)
        original["rmdir"](path, dir_fd=dir_fd)
        if mine(full):
            log("rmdir", path=full)

    def fsync(fd: int) -> None:
        original["fsync"](fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if not mine(path.removesuffix(" (deleted)")):
            return
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            log("fsync_dir", path=path)
            return
        with open(f"/proc/self/fd/{fd}", "rb") as handle:
            content = handle.read()
        log("fsync_file", inode=info.st_ino, content=base64.b64encode(content).decode(),
            mode=stat.S_IMODE(info.st_mode), uid=info.st_uid, gid=info.st_gid)  # fmt: skip

    os.mkdir = mkdir
    os.open = opening
    os.rename = rename  # type: ignore[assignment]
    os.unlink = unlink
    os.rmdir = rmdir
    os.fsync = fsync  # type: ignore[assignment]
    return entries


def durable(
    pristine: Path, base: Path, entries: list[dict[str, Any]], crash: int
) -> dict[str, Any]:
    """The tree below ``base`` (as it was before the run: a copy at ``pristine``) after a power
    cut once ``crash`` logged changes were made, as
    a conservative filesystem keeps it: a directory entry survives only when its directory was
    fsynced after the change (a rename: both), a file's content only as of its last fsync (a
    file never fsynced is empty), and an entry whose directory did not survive is lost with it.
    Returns path -> ("dir",) or ("file", content, mode, uid, gid)."""
    tree: dict[str, Any] = {}
    content: dict[Any, tuple[bytes, int, int, int]] = {}
    tree[str(base)] = ("dir",)
    for found in sorted(pristine.rglob("*")):
        info, path = found.lstat(), str(base / found.relative_to(pristine))
        if found.is_dir() and not found.is_symlink():
            tree[path] = ("dir",)
        elif found.is_file() and not found.is_symlink():
            key = ("initial", path)
            content[key] = (found.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid,
                            info.st_gid)  # fmt: skip
            tree[path] = ("file", key)
    steps = entries[:crash]
    kept: set[int] = set()
    pending: list[int] = []
    for index, entry in enumerate(steps):
        if entry["op"] == "fsync_file":
            content[entry["inode"]] = (base64.b64decode(entry["content"]), entry["mode"],
                                       entry["uid"], entry["gid"])  # fmt: skip
        elif entry["op"] == "fsync_dir":
            synced = entry["path"]
            for waiting in list(pending):
                change = steps[waiting]
                parents = {
                    os.path.dirname(change["path"]),
                    os.path.dirname(change.get("to", change["path"])),
                }
                if synced in parents:
                    change.setdefault("synced", set()).add(synced)
                    if parents <= change["synced"]:
                        kept.add(waiting)
                        pending.remove(waiting)
        else:
            pending.append(index)
    for index in sorted(kept):
        change = steps[index]
        op, path = change["op"], change["path"]
        if os.path.dirname(path) not in tree and op != "rename":
            continue  # its directory was lost: so is the entry
        if op == "mkdir":
            tree[path] = ("dir",)
        elif op == "create":
            tree[path] = ("file", change["inode"])
        elif op == "rename" and path in tree and os.path.dirname(change["to"]) in tree:
            moved = tree.pop(path)
            for name in [n for n in tree if n.startswith(path + "/")]:
                tree[change["to"] + name[len(path) :]] = tree.pop(name)
            tree[change["to"]] = moved
        elif op in ("unlink", "rmdir"):
            tree.pop(path, None)
    for entry in entries:
        entry.pop("synced", None)
    out: dict[str, Any] = {}
    for path, node in tree.items():
        out[path] = (
            node if node[0] == "dir" else ("file", *content.get(node[1], (b"", 0o600, 0, 0)))
        )
    return out


def materialize(tree: dict[str, Any], base: Path, to: Path) -> None:
    """Write ``durable``'s tree (paths below ``base``) below ``to``."""
    for path in sorted(tree):
        node, target = tree[path], to / os.path.relpath(path, base)
        if path == str(base) or node[0] == "dir":
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(node[1])
            target.chmod(node[2])
            os.chown(target, node[3], node[4])
