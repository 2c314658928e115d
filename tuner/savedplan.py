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
from dataclasses import asdict, dataclass
from pathlib import Path

from tuner import report
from tuner.errors import TunerError
from tuner.host import Host
from tuner.library import ProfileLibrary, looks_like_path
from tuner.live import LiveKernel
from tuner.plan import Plan

KIND = "tuner saved plan"
MAX_BYTES = 16 * 1024 * 1024


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


def basis_of(plan: Plan, ref: str, host: Host) -> Basis:
    library = ProfileLibrary.for_root(host.root)
    top = plan.profile.path
    paths = [library.find(name, near=top.parent) for name in plan.profile.chain[:-1]] + [top]
    files: dict[str, str | None] = {}
    for path in sorted(plan.files, key=str):
        state = host.file_state(path)
        files[str(path)] = None if state is None else f"{_sha(state.content)} {state.mode:o}"
    live = LiveKernel(host)
    values = {e.key.name: live.value(e.key) for e in plan.profile.sysctl} if live.available else {}
    return Basis(
        ref=str(Path(ref).resolve()) if looks_like_path(ref) else ref,
        root=str(host.root),
        proc_sys=None if host.proc_sys is None else str(host.proc_sys),
        kernel=host.kernel.available,
        release=plan.kernel_release,
        profile_files={str(p.resolve()): _sha(p.read_bytes()) for p in paths},
        files=files,
        live=values,
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save(path: Path, plan: Plan, basis: Basis, pending: list[dict[str, object]]) -> None:
    """The plan's JSON, its basis and its pending changes, written whole or not at all."""
    body = plan.to_json() | {"saved": KIND, "basis": asdict(basis), "pending": pending}
    text = json.dumps(report.envelope("plan", body), indent=2, sort_keys=False) + "\n"
    temporary = path.with_name(f".{path.name}.tuner-tmp")
    try:
        temporary.write_text(text)
        temporary.replace(path)
    except OSError as exc:
        raise TunerError(f"cannot write the plan to {path}: {exc.strerror}") from None


def looks_saved(ref: str) -> bool:
    """Whether apply's argument names a saved plan rather than a profile."""
    return ref.endswith(".json") or (Path(ref).is_file() and _starts_like_json(Path(ref)))


def _starts_like_json(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(64).lstrip().startswith(b"{")
    except OSError:
        return False


def load(path: Path) -> tuple[Basis, list[dict[str, object]]]:
    """The basis and pending changes of a saved plan; TunerError when it is not one."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise TunerError(f"{path}: not a saved plan (larger than {MAX_BYTES} bytes)")
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TunerError(f"no saved plan at {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TunerError(f"{path}: not a saved plan ({exc})") from None
    if not isinstance(document, dict) or document.get("saved") != KIND:
        raise TunerError(f"{path}: not a saved plan (make one with tuner plan PROFILE --out FILE)")
    if document.get("format_version") != report.FORMAT_VERSION:
        raise TunerError(
            f"{path}: saved by another tuner (format {document.get('format_version')})"
        )
    try:
        basis = Basis(**document["basis"])
        pending = list(document["pending"])
    except (KeyError, TypeError) as exc:
        raise TunerError(f"{path}: a damaged saved plan ({exc})") from None
    return basis, pending


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
