"""Saved plans: ``tuner plan PROFILE --out FILE`` writes the plan with everything it was computed
from; ``tuner apply FILE`` applies exactly that plan, and refuses when anything it rests on moved.

What a plan rests on (its ``basis``): the profile's files (their sha256), each managed file on
the host (sha256 and mode, or absent), each live value the profile sets (host mode), the root,
the /proc/sys tree and the kernel release. Apply computes the basis again and names every
difference ("live net.core.somaxconn is 8192, the plan saw 4096"); the pending changes must then
also be the same, or the plan is stale.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tuner.base.envelope import FORMAT_VERSION, envelope
from tuner.base.errors import HostError, TunerError
from tuner.changes.plan import Plan
from tuner.machine.host import Host
from tuner.machine.kernel import REAL_PROC_SYS
from tuner.machine.live import LiveKernel
from tuner.machine.rootfs import read_path, write_outside
from tuner.profile.ref import MAX_PLAN_BYTES, SAVED_PLAN, ProfileRef


@dataclass(frozen=True)
class Basis:
    ref: str  # the profile as apply must find it again (a path is made absolute)
    root: str
    proc_sys: str | None
    kernel: bool
    release: str | None
    profile_files: dict[str, str]  # path -> sha256
    files: dict[str, str | None]  # managed path -> "sha256 mode", None when absent
    live: dict[str, str | None]  # key -> live value (host mode)


def basis_of(plan: Plan, ref: ProfileRef, host: Host) -> Basis:
    files: dict[str, str | None] = {}
    for path in sorted(plan.files, key=str):
        state = host.file_state(path)
        files[str(path)] = None if state is None else f"{_sha(state.content)} {state.mode:o}"
    live = LiveKernel(host)
    values = {e.key.name: live.value(e.key) for e in plan.profile.sysctl} if live.available else {}
    return Basis(
        ref=str(Path(ref.text).resolve()) if ref.kind == "path" else ref.text,
        root=str(host.root),
        proc_sys=None if host.proc_sys is None else str(host.proc_sys),
        kernel=host.kernel.available,
        release=plan.kernel_release,
        profile_files=dict(plan.profile.sources),  # the files the resolver read, as it read them
        files=files,
        live=values,
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(path: Path, plan: Plan, basis: Basis, pending: list[dict[str, object]]) -> None:
    """The plan's JSON, its basis and its pending changes, written whole or not at all: an
    O_EXCL temporary file beside ``path`` renamed over it (a link planted at either is refused,
    never written through)."""
    body = plan.to_json() | {"saved": SAVED_PLAN, "basis": asdict(basis), "pending": pending}
    text = json.dumps(envelope("plan", body), indent=2, sort_keys=False) + "\n"
    write_outside(path, text.encode(), "the plan")


def options(root: str, proc_sys: str | None) -> str:
    """The command-line options that name ``root`` and ``proc_sys``, defaults left out."""
    default = str(REAL_PROC_SYS) if root == "/" else None
    said = [] if root == "/" else [f"--root {shlex.quote(root)}"]
    if proc_sys != default:
        said.append(f"--proc-sys {shlex.quote(proc_sys)}" if proc_sys else "--no-kernel")
    return " ".join(said)


def apply_command(path: Path, basis: Basis) -> str:
    """The command that applies the plan at ``path`` where it was made."""
    return " ".join(["tuner apply", shlex.quote(str(path)), options(basis.root, basis.proc_sys)]
                    ).strip()  # fmt: skip


def load(path: Path) -> tuple[Basis, list[dict[str, object]]]:
    """The basis and pending changes of a saved plan, every field checked; TunerError naming
    what is wrong when it is not one (it is untrusted input: anyone may have written it)."""
    try:
        raw = read_path(path, MAX_PLAN_BYTES)
    except FileNotFoundError:
        raise TunerError(f"no saved plan at {path}") from None
    except OSError as exc:
        raise TunerError(f"{path}: cannot read the saved plan: {exc.strerror}") from None
    except HostError as exc:
        raise TunerError(f"{path}: not a saved plan ({exc})") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise TunerError(f"{path}: not a saved plan (not UTF-8 text)") from None
    except RecursionError:
        raise TunerError(f"{path}: not a saved plan (nested too deeply)") from None
    except ValueError as exc:
        raise TunerError(f"{path}: not a saved plan (not JSON: {exc})") from None
    if not isinstance(document, dict) or document.get("saved") != SAVED_PLAN:
        raise TunerError(f"{path}: not a saved plan (make one with tuner plan PROFILE --out FILE)")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        shown = version if isinstance(version, int) and not isinstance(version, bool) else "unknown"
        raise TunerError(f"{path}: saved by another tuner (format {shown}); this one reads "
                         f"format {FORMAT_VERSION}")  # fmt: skip
    problems: list[str] = []
    basis_data = _field(document, "basis", dict, "an object", problems, "")
    pending = _field(document, "pending", list, "a list", problems, "")
    basis = _basis(basis_data, problems) if isinstance(basis_data, dict) else None
    if isinstance(pending, list):
        for index, change in enumerate(pending):
            if not isinstance(change, dict):
                problems.append(f"pending[{index}]: expected an object")
    if problems or basis is None or not isinstance(pending, list):
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise TunerError(f"{path}: a damaged saved plan: {'; '.join(problems[:5])}{more}")
    return basis, pending


_TEXT = (str, "text")
_TEXT_OR_NULL = ((str, type(None)), "text or null")


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], said: str,
           problems: list[str], prefix: str) -> Any:  # fmt: skip
    where = f"{prefix}{name}"
    if name not in data:
        problems.append(f"{where}: missing")
        return None
    value = data[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        problems.append(f"{where}: expected {said}")
        return None
    return value


def _basis(data: dict[str, Any], problems: list[str]) -> Basis | None:
    before = len(problems)
    unknown = sorted(set(data) - {f.name for f in fields(Basis)})
    problems += [f"basis.{name[:40]}: not a field of a saved plan" for name in unknown[:3]]
    values: dict[str, Any] = {}
    for name, (kind, said) in (("ref", _TEXT), ("root", _TEXT), ("proc_sys", _TEXT_OR_NULL),
                               ("release", _TEXT_OR_NULL)):  # fmt: skip
        values[name] = _field(data, name, kind, said, problems, "basis.")
    values["kernel"] = _field(data, "kernel", bool, "true or false", problems, "basis.")
    for name, nullable in (("profile_files", False), ("files", True), ("live", True)):
        mapping = _field(data, name, dict, "an object", problems, "basis.")
        if isinstance(mapping, dict):
            kinds = (str, type(None)) if nullable else str
            for key, value in mapping.items():
                if not isinstance(value, kinds):
                    said = "text or null" if nullable else "text"
                    problems.append(f"basis.{name}[{json.dumps(key)[:60]}]: expected {said}")
        values[name] = mapping
    for name in ("root", "proc_sys"):
        text = values.get(name)
        if isinstance(text, str) and not text.startswith("/"):
            problems.append(f"basis.{name}: expected an absolute path")
    if len(problems) > before:
        return None
    return Basis(**values)


def changes_since(saved: Basis, now: Basis) -> list[str]:
    """Everything the saved plan rests on that is different now, one line each."""
    found: list[str] = []
    for what, before, after in (("root", saved.root, now.root),
                                ("kernel release", saved.release, now.release)):  # fmt: skip
        if before != after:
            found.append(f"the {what} is {after}, the plan saw {before}")
    for path in sorted(set(saved.profile_files) | set(now.profile_files)):
        if saved.profile_files.get(path) != now.profile_files.get(path):
            found.append(f"profile file {path} changed since the plan")
    for path in sorted(set(saved.files) | set(now.files)):
        before, after = saved.files.get(path), now.files.get(path)
        if before != after:
            if after is None:
                found.append(f"{path} was removed since the plan")
            elif before is None:
                found.append(f"{path} was created since the plan")
            else:
                found.append(f"{path} changed since the plan")
    for key in sorted(set(saved.live) | set(now.live)):
        before, after = saved.live.get(key), now.live.get(key)
        if before != after:
            found.append(f"live {key} is {_shown(after)}, the plan saw {_shown(before)}")
    return found


def _shown(value: str | None) -> str:
    return "absent" if value is None else value
