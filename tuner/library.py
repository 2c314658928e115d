"""Where profiles and templates are found.

A profile is named by path (anything with a ``/`` or a .yaml/.yml ending) or by name. Names are
looked up in ``<root>/etc/tuner/profiles/`` first (site and vendored profiles win), then in the
profiles bundled with tuner. A parent named in ``extends`` is looked up next to its child first
(unless the child is bundled: site profiles win everywhere).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuner.errors import NotFoundError

SITE_PROFILES = PurePosixPath("/etc/tuner/profiles")
_SUFFIXES = (".yaml", ".yml")


def data_dir(name: str) -> Path:
    """A data folder shipped with tuner: in the package when installed, beside it in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise NotFoundError(f"tuner's {name}/ folder is missing from this installation ({here})")


def display_path(path: Path) -> str:
    """How messages name a file: relative to the working directory when below it (unless that
    is /, where a relative path reads as a puzzle), absolute otherwise."""
    cwd = Path.cwd().resolve()
    if cwd == Path("/"):
        return str(path.resolve())
    try:
        return str(path.resolve().relative_to(cwd))
    except ValueError:
        return str(path.resolve())


def looks_like_path(ref: str) -> bool:
    return "/" in ref or ref.endswith(_SUFFIXES)


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    path: Path
    origin: str  # "site" or "bundled"
    shadows_bundled: bool = False


@dataclass(frozen=True)
class ProfileLibrary:
    search_dirs: tuple[tuple[str, Path], ...]

    @classmethod
    def for_root(cls, root: Path) -> ProfileLibrary:
        site = root / SITE_PROFILES.relative_to("/")
        return cls((("site", site), ("bundled", data_dir("profiles"))))

    def find(self, ref: str, near: Path | None = None) -> Path:
        if looks_like_path(ref):
            path = Path(ref)
            if not path.is_file():
                raise NotFoundError(f"no profile file at {ref}")
            return path
        # next to the child first, except for a bundled child: a site profile overrides a
        # bundled one everywhere, also as the parent of a bundled profile
        searched = [d for _, d in self.search_dirs]
        bundled = [d.resolve() for origin, d in self.search_dirs if origin == "bundled"]
        dirs = [near] if near is not None and near.resolve() not in bundled else []
        dirs += searched
        for directory in dirs:
            for suffix in _SUFFIXES:
                candidate = directory / f"{ref}{suffix}"
                if candidate.is_file():
                    return candidate
        known = [e.name for e in self.entries()]
        close = difflib.get_close_matches(ref, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise NotFoundError(
            f"no profile named {ref!r}{hint} (available: {', '.join(known) or 'none'})"
        )

    def entries(self) -> list[ProfileEntry]:
        """Every profile by name; a site profile hides a bundled one of the same name."""
        found: dict[str, ProfileEntry] = {}
        for origin, directory in self.search_dirs:
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.suffix not in _SUFFIXES or not path.is_file():
                    continue
                name = path.stem
                if name in found:
                    if found[name].origin == "site" and origin == "bundled":
                        first = found[name]
                        found[name] = ProfileEntry(first.name, first.path, first.origin, True)
                    continue
                found[name] = ProfileEntry(name, path, origin)
        return sorted(found.values(), key=lambda e: e.name)
